"""Run ids are users' data: a change that alters them re-runs every existing study.

``run_ids.json`` holds the run ids of every example study file (and a few variants with non-default settings), as
the code computed them before the issue-13 redesign; they must stay equal. A new setting left at the value that
reproduces the old behaviour must leave them unchanged too (tests/results/test_run_identity.py).

The starting weights' sha256 is fixed here (run ids hash it; resolving real weights is not what is tested), so the
ids of an AlexNet study can be checked where its ImageNet weights are not available.

Regenerate only for an intended change of run ids, with ``TUNEDEPTH_ACCEPT=1``, and say why in the commit.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tunedepth.config import load_study, parse_study
from tunedepth.models import get_architecture
from tunedepth.results import run_id
from tunedepth.study import expand_grid
from tunedepth.study.prepare import study_methods

HERE = Path(__file__).parent
EXAMPLES = HERE.parent.parent / "examples"
ACCEPT = os.environ.get("TUNEDEPTH_ACCEPT") == "1"
FAKE_SHA = "ab" * 32

VARIANTS: dict[str, dict[str, Any]] = {
    "classification_all_settings": {
        "name": "v1",
        "data": {"source": "csv_manifest", "path": "m.csv", "image_size": 48, "balance": "downsample",
                 "val_fraction": 0.1, "test_fraction": 0.3, "split_seed": 3},
        "model": {"architecture": "resnet18", "weights": "imagenet"},
        "grid": {"regimes": ["scratch", "finetune"], "depths": [1, "layer3"], "train_fractions": [1.0, 0.3],
                 "seeds": [0, 7]},
        "training": {"optimizer": "adamw", "lr": [0.01, 0.001], "head_lr_mult": 5, "bias_lr_mult": 1,
                     "momentum": 0.8, "weight_decay": 1e-4, "lr_decay_per_epoch": 0.9, "batch_size": 16,
                     "max_epochs": 7, "patience": 3, "min_iterations": 100, "bn_policy": "train", "augment": True},
        "execution": {"workers": 2, "num_threads": 1, "feature_cache": False},
        "analysis": {"alpha": 0.01},
    },
    "detection_settings": {
        "name": "v2", "task": "detection",
        "data": {"source": "cvc_clinicdb", "image_size": 32, "test_fraction": 0, "test_source": "kvasir_seg",
                 "max_frames": 40, "skip_bad_frames": True},
        "model": {"architecture": "efficientnet_lite0"},
        "grid": {"regimes": ["finetune"], "depths": "all", "train_fractions": [0.5], "seeds": [1]},
        "detection": {"max_candidates": 9, "scales": [1.0, 2.0], "orientations": 2, "test_views": "scales"},
    },
    "segmentation_settings": {
        "name": "v3", "task": "segmentation",
        "data": {"source": "layered", "root": "x", "image_size": 24},
        "model": {"architecture": "alexnet", "weights": "checkpoint", "checkpoint": "w.pt"},
        "grid": {"regimes": ["scratch", "finetune"], "depths": [2], "train_fractions": [1.0], "seeds": [0]},
        "segmentation": {"pixel_spacing_um": 60.0, "unit": "um", "max_step_px": 1.5, "stride": 1},
    },
}


def _ids(config: Any) -> list[str]:
    arch = get_architecture(config.model.architecture)
    runs = expand_grid(regimes=config.grid.regimes, depths=config.grid.depths,
                       train_fractions=config.grid.train_fractions, seeds=config.grid.seeds,
                       group_names=arch.group_names, architecture=arch.name, methods=study_methods(config))
    return [f"{spec.label}@{spec.train_fraction:g}/{spec.seed}="
            + run_id(config, spec, weights_sha256=FAKE_SHA if spec.regime == "finetune" else None) for spec in runs]


def _all_ids() -> dict[str, list[str]]:
    # A csv_manifest's path is part of its run ids: the variants' relative paths resolve against one fixed folder.
    ids = {path.name: _ids(load_study(path)) for path in sorted(EXAMPLES.glob("*.toml"))}
    for name, raw in VARIANTS.items():
        ids[name] = _ids(parse_study(raw, base_dir=Path("/studies")))
    return ids


def test_run_ids_of_every_example_and_variant_are_unchanged() -> None:
    ids = _all_ids()
    path = HERE / "run_ids.json"
    if ACCEPT:
        path.write_text(json.dumps(ids, indent=1, sort_keys=True) + "\n")
        pytest.skip("run_ids.json written (TUNEDEPTH_ACCEPT=1)")
    golden = json.loads(path.read_text())
    assert sorted(ids) == sorted(golden), "an example study file was added or removed: regenerate with care"
    for name, want in golden.items():
        assert ids[name] == want, f"run ids of {name} changed: every existing study of this kind would re-run"
