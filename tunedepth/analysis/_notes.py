"""Undefined statistics met while tabulating a study, kept as notes on the table rows they concern.

The evaluation functions warn with :class:`~tunedepth.errors.UndefinedMetricWarning` and return NaN. A study
table computes hundreds of them; each row keeps the messages of its own undefined statistics in a ``note``
column (so the report can list them), and the analysis logs how many rows have notes.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from contextlib import contextmanager

from tunedepth.errors import UndefinedMetricWarning

__all__ = ["collect_undefined"]


@contextmanager
def collect_undefined(notes: list[str]) -> Iterator[None]:
    """Append the message of every UndefinedMetricWarning raised inside the block to ``notes`` (once each).

    Other warnings are not touched: they follow the caller's warning filters.
    """
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", UndefinedMetricWarning)
        yield
    for w in caught:
        if issubclass(w.category, UndefinedMetricWarning):
            message = str(w.message)
            if message not in notes:
                notes.append(message)
        else:
            warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
