"""``layerwise``: the paper's scheme (Tajbakhsh et al., IEEE TMI 2016) — the last *depth* groups train, the rest
stay frozen; the new head at ``head_lr_mult`` x lr, biases at ``bias_lr_mult`` x lr. The base behaviour of
:class:`~tunedepth.tuning.methods.TuningMethod`; its runs keep the run ids of studies without methods."""

from __future__ import annotations

from tunedepth.tuning.methods.base import TUNING_METHODS, TuningMethod

__all__ = ["Layerwise"]


class Layerwise(TuningMethod):
    """Fine-tune the last ``depth`` groups (the paper's "FT:convK-fc8")."""

    name = "layerwise"
    depth_axis = "prefix"
    reference = "Tajbakhsh et al., IEEE TMI 2016"


TUNING_METHODS.register(Layerwise.name, Layerwise)
