"""The ``[training]`` table: optimisation, schedule, loss and stopping, and the recipes that preset them.

Two recipes (``recipe``): ``"paper"``, the default (Tajbakhsh et al. 2016, Table II: SGD with momentum 0.9, base lr
for tuned groups, 10x for the new head, 2x for biases, lr x 0.95 per epoch, the epoch of best validation AUC kept),
and ``"modern"``, the fine-tuning recipe of current practice (AdamW with decoupled weight decay on weights only,
linear warm-up then cosine decay, label smoothing, a zero-initialised head, the epoch of lowest validation loss
kept; MedMNIST+, Doerrich et al. 2025, fine-tune with AdamW, a cosine schedule and early stopping on validation
loss). A recipe only changes defaults: every field can be set on its own, and the resolved values are written with
every run.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from tunedepth.config._base import Frozen, added_field

__all__ = ["RECIPES", "TrainingConfig"]

RECIPES: dict[str, dict[str, Any]] = {
    "paper": {},  # the field defaults are the paper's
    # Fixed before any test number of the quality benchmark was looked at (benchmarks/bench_quality.py).
    "modern": {
        "optimizer": "adamw",
        "lr": 3e-4,
        "lr_grid": (1e-4, 3e-4, 1e-3, 3e-3),
        "head_lr_mult": 10.0,
        "bias_lr_mult": 1.0,
        "weight_decay": 0.05,
        "schedule": "warmup_cosine",
        "warmup_epochs": 1.0,
        "label_smoothing": 0.1,
        "epoch_metric": "loss",
        "head_init": "zero",
        "max_epochs": 30,
        "patience": 6,
    },
}
"""The field values each recipe presets (``"paper"``: none, the defaults are the paper's)."""


class TrainingConfig(Frozen):
    """Optimisation, schedule and stopping. Defaults follow the paper (Table II); ``recipe = "modern"`` changes the
    defaults to :data:`RECIPES` ``["modern"]`` (each can still be set one by one)."""

    recipe: Literal["paper", "modern"] = added_field(
        "paper",
        description=(
            "Preset of the fields below: 'paper' (SGD, momentum 0.9, head x10, biases x2, lr x 0.95 per epoch, best "
            "epoch by validation AUC) or 'modern' (AdamW with decoupled weight decay, linear warm-up then cosine decay "
            "over the run's step budget, label smoothing, zero-initialised head, best epoch by validation loss). "
            "A field set in the study file wins over the preset; the resolved values are written with every run."
        ),
    )

    optimizer: Literal["sgd", "adamw"] = Field(default="sgd", description="SGD with momentum (paper) or AdamW.")
    lr: Annotated[float, Field(gt=0)] | tuple[Annotated[float, Field(gt=0)], ...] | Literal["auto"] = Field(
        default=0.001,
        description=(
            "Base learning rate of tuned groups (paper: 0.001). A list trains every run at each value "
            "and keeps the one with the best validation AUC (epoch_metric). 'auto' chooses it per run from lr_grid "
            "by successive halving on validation: every candidate trains lr_search_epochs epochs, the better half "
            "(by epoch_metric) continues for twice as many, and so on until one is left, which trains to the end."
        ),
    )
    lr_grid: tuple[Annotated[float, Field(gt=0)], ...] = added_field(
        (0.001, 0.003, 0.01, 0.03), min_length=1,
        description="Candidate learning rates of lr = 'auto' (a log grid; unused otherwise).",
    )
    lr_search_epochs: Annotated[int, Field(ge=1)] = added_field(
        1, description="Epochs of the first round of lr = 'auto' (each later round doubles it)."
    )
    lr_search: Literal["halving", "asha"] = added_field(
        "halving",
        description=(
            "How lr = 'auto' searches lr_grid: 'halving' (in the run's own process: rounds of lr_search_epochs, "
            "doubling, the better half going on) or 'asha' (executor = 'ray' only: every candidate is a Ray Tune "
            "trial, scheduled from the driver by ASHA with the same first rung and halving rate, the worse ones "
            "stopped early; decisions depend on the order trials reach each rung, so are not deterministic)."
        ),
    )
    head_lr_mult: Annotated[float, Field(gt=0)] = Field(
        default=10.0, description="Head lr = head_lr_mult x lr when fine-tuning (paper: 10). Scratch uses 1."
    )
    bias_lr_mult: Annotated[float, Field(gt=0)] = Field(
        default=2.0, description="Bias lr = bias_lr_mult x the weight lr of the same group (paper: 2)."
    )
    momentum: Annotated[float, Field(ge=0, lt=1)] = Field(default=0.9, description="SGD momentum (paper: 0.9).")
    weight_decay: Annotated[float, Field(ge=0)] = Field(
        default=0.0, description="Weight decay on weights (not biases or norm parameters)."
    )
    lr_decay_per_epoch: Annotated[float, Field(gt=0, le=1)] = Field(
        default=0.95, description="The lr is multiplied by this after every epoch (paper's gamma: 0.95)."
    )
    batch_size: Annotated[int, Field(ge=1)] = Field(default=64, description="Mini-batch size (paper: not stated).")
    max_epochs: Annotated[int, Field(ge=1)] = Field(default=30, description="Upper bound on epochs.")
    patience: Annotated[int, Field(ge=1)] = Field(
        default=5, description="Stop after this many epochs without a better validation AUC."
    )
    min_iterations: Annotated[int, Field(ge=0)] = Field(
        default=0,
        description=(
            "Train at least this many mini-batches before stopping (even past max_epochs), so small "
            "training fractions, with few mini-batches per epoch, still converge."
        ),
    )
    epoch_images: Annotated[int, Field(ge=0)] = added_field(
        0,
        description=(
            "Smallest epoch, in training images: a run with fewer training images makes ceil(epoch_images / n) "
            "passes over them per epoch (a new order each pass), so small fractions validate, and decay the lr, "
            "every epoch_images images instead of every few mini-batches; patience, max_epochs, warmup_epochs and the "
            "history count these epochs. 0 = one pass per epoch (the paper's)."
        ),
    )
    bn_policy: Literal["freeze", "train"] = Field(
        default="freeze",
        description=(
            "BatchNorm layers of frozen groups: 'freeze' keeps them in eval mode (running statistics "
            "fixed), 'train' lets them use batch statistics and update running statistics."
        ),
    )
    augment: bool = Field(
        default=False, description="Random online augmentation of training images (flips, small shifts/rotations)."
    )
    augment_copies: Annotated[int, Field(ge=0, le=16)] = added_field(
        0,
        description=(
            "Fixed augmented views per training image (the flips, shifts and rotations of augment), drawn once per "
            "seed; every epoch shows each image once, as itself or one of its views, drawn at random. Unlike "
            "augment = true, the frozen-feature cache serves them at every depth, so depths are compared on the "
            "same inputs. 0 = none."
        ),
    )
    schedule: Literal["exponential", "warmup_cosine"] = added_field(
        "exponential",
        description=(
            "'exponential': the lr is multiplied by lr_decay_per_epoch after every epoch (paper). 'warmup_cosine': "
            "linear warm-up over warmup_epochs, then cosine decay to 0 over the run's step budget (max_epochs, or "
            "min_iterations when larger), stepped every mini-batch; lr_decay_per_epoch is not used."
        ),
    )
    warmup_epochs: Annotated[float, Field(ge=0)] = added_field(
        0.0, description="Epochs of linear lr warm-up with schedule = 'warmup_cosine' (may be fractional)."
    )
    label_smoothing: Annotated[float, Field(ge=0, lt=1)] = added_field(
        0.0, description="Label smoothing of the training loss (0 = plain cross-entropy, the paper's)."
    )
    epoch_metric: Literal["auc", "loss"] = added_field(
        "auc",
        description=(
            "Validation criterion that keeps the best epoch, stops early (patience) and ranks learning rates: "
            "'auc' (the case-level validation AUC, the paper's rule) or 'loss' (the validation cross-entropy of the "
            "network's inputs, lower is better). The reported val_auc is the AUC of the kept epoch either way."
        ),
    )

    head_init: Literal["architecture", "zero"] = added_field(
        "architecture",
        description=(
            "Initialisation of the new head's output layer: 'architecture' (the architecture's own init, the paper's "
            "random fc8; timm's EfficientNet init gives a 2-class head weights up to 0.71, so the first logits are "
            "tens of units) or 'zero' (weights and bias 0: every class starts at probability 1/n, as in BiT)."
        ),
    )

    @model_validator(mode="before")
    @classmethod
    def _expand_recipe(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            return data
        preset = RECIPES.get(str(data.get("recipe", "paper")), {})
        return {**preset, **data}

    @model_validator(mode="after")
    def _schedule_fields_apply(self) -> TrainingConfig:
        if self.augment and self.augment_copies:
            raise ValueError(f"augment = true (online) and augment_copies = {self.augment_copies} (fixed views) are "
                             "two ways to augment; choose one.")
        if self.lr_search == "asha" and self.lr != "auto":
            raise ValueError(f"lr_search = 'asha' searches lr_grid for lr = 'auto', but lr = {self.lr!r}; set lr = "
                             "'auto' or remove lr_search.")
        if self.schedule == "exponential" and self.warmup_epochs:
            raise ValueError(f"warmup_epochs = {self.warmup_epochs:g} is only used with schedule = 'warmup_cosine'; "
                             "remove it or set the schedule.")
        return self

    @field_validator("lr", "lr_grid")
    @classmethod
    def _lr_list_non_empty(cls, v: float | str | tuple[float, ...]) -> float | str | tuple[float, ...]:
        if isinstance(v, tuple) and (len(v) == 0 or len(set(v)) != len(v)):
            raise ValueError(f"a list of learning rates must be non-empty and unique; got {list(v)}")
        return v

    @property
    def lrs(self) -> tuple[float, ...]:
        """The learning rates to try, as a tuple (``lr_grid`` for ``lr = "auto"``)."""
        if self.lr == "auto":
            return self.lr_grid
        return self.lr if isinstance(self.lr, tuple) else (float(self.lr),)

    @property
    def searches_lr(self) -> bool:
        """Whether each run chooses its learning rate by a search (``lr = "auto"``: ``lr_search``)."""
        return self.lr == "auto"
