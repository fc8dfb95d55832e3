"""Volume benchmark (issue 16): scratch vs fine-tuning depths on 2.5D views of real 3D data (VesselMNIST3D,
AdrenalMNIST3D), next to MedMNIST v2's 3D CNNs trained from scratch, and vessel-aligned vs orthogonal views.

Every study is an ordinary tunedepth study in its own folder under ``--out`` (default ``bench-out/volumes``), so
the benchmark is resumable: run the same command again and finished runs are skipped. Hours on the 2-core machine:

    TUNEDEPTH_DATA_DIR=../shared/data nohup .venv/bin/python benchmarks/bench_volumes.py \\
        --study vessel-orthogonal --threads 1 >> bench-out/volumes.log 2>&1 &
    .venv/bin/python benchmarks/bench_volumes.py --summarize      # the tables of docs/volumes.md

Pilot runs (full fine-tuning, seed 0, 100%, 32-px patches; docs/volumes.md) showed validation AUCs within their
noise (VesselMNIST3D's validation split has 22 aneurysms) for thin vs thick-slab sections and vessel-aligned vs
orthogonal axes, so the studies below compare those settings instead of choosing one: the paper's vessel-aligned
thin sections with the full grid, orthogonal thin sections and orthogonal full-volume slabs on a reduced grid. The
patch size (64 px) was chosen on a pilot's validation AUC. Nothing is chosen on test: the "best configuration" is
the (study, regime) of highest mean validation AUC at 100% of the training data.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

DEPTHS: list[Any] = [1, 3, 5, 7, "stem"]

BASE: dict[str, Any] = {
    "task": "volume_candidates",
    "model": {"architecture": "efficientnet_lite0", "weights": "imagenet"},
    "grid": {"regimes": ["scratch", "finetune"], "depths": DEPTHS, "train_fractions": [1.0, 0.25], "seeds": [0, 1]},
    "training": {"recipe": "modern", "batch_size": 64, "epoch_images": 1024},
}

REDUCED_GRID: dict[str, Any] = {"regimes": ["scratch", "finetune"], "depths": [1, 5, "stem"],
                                "train_fractions": [1.0], "seeds": [0, 1]}

STUDIES: dict[str, dict[str, Any]] = {
    # the paper's representation: thin sections about the local vessel axis, at two widths
    "vessel-vessel_aligned": {
        "data": {"source": "medmnist3d", "flag": "vesselmnist3d", "size": 28, "image_size": 64},
        "volume_candidates": {"views": "vessel_aligned", "widths": [20.0, 28.0], "vessel_sigma": 2.0,
                              "train_angles": 4, "test_angles": 2},
    },
    # the usual 2.5D: thin axial / sagittal / coronal sections (rotated about z), same widths; fewer runs
    "vessel-orthogonal": {
        "data": {"source": "medmnist3d", "flag": "vesselmnist3d", "size": 28, "image_size": 64},
        "volume_candidates": {"views": "orthogonal", "widths": [20.0, 28.0], "train_angles": 4, "test_angles": 2},
        "grid": REDUCED_GRID,
    },
    # a lever: maximum over the whole volume across each section (three projections), one width
    "vessel-orthogonal-slab": {
        "data": {"source": "medmnist3d", "flag": "vesselmnist3d", "size": 28, "image_size": 64},
        "volume_candidates": {"views": "orthogonal", "widths": [28.0], "slab_thickness": 28.0, "train_angles": 4,
                              "test_angles": 2},
        "grid": REDUCED_GRID,
    },
    # adrenal shapes have no vessel axis: orthogonal thin sections
    "adrenal-orthogonal": {
        "data": {"source": "medmnist3d", "flag": "adrenalmnist3d", "size": 28, "image_size": 64},
        "volume_candidates": {"views": "orthogonal", "widths": [20.0, 28.0], "train_angles": 4, "test_angles": 2},
    },
}
"""The studies, by name. MedMNIST v2 (Yang et al., Sci. Data 2023, Table 3), 3D CNNs from scratch, test AUC:
VesselMNIST3D best 0.93 (ResNet-18 + ACS), AdrenalMNIST3D best 0.86 (../shared/reference/anchors.md)."""

TARGETS = {"vessel": 0.93, "adrenal": 0.86}


def study_raw(name: str, threads: int) -> dict[str, Any]:
    raw = copy.deepcopy(BASE)
    raw.update(copy.deepcopy(STUDIES[name]))  # a study's own grid replaces the full one
    raw["name"] = name
    raw["execution"] = {"workers": 1, "num_threads": threads}
    return raw


def run(names: list[str], out: Path, threads: int) -> None:
    from tunedepth.config import parse_study
    from tunedepth.study import run_study

    for name in names:
        print(f"== {name}", flush=True)
        summary = run_study(parse_study(study_raw(name, threads), base_dir=Path.cwd()), out / name)
        print(f"   {summary.n_executed} executed, {summary.n_skipped} skipped", flush=True)


def summarize(out: Path) -> str:
    from bench_recommend import _load_partial  # every complete run, whether the study has ended or not

    lines = []
    for name in STUDIES:
        folder = out / name
        if not (folder / "study.json").is_file() or not any((folder / "runs").glob("*/metrics.json")):
            continue
        study = _load_partial(folder, Path(tempfile.mkdtemp(prefix="bench-volumes-")))
        r = study.results
        lines += [f"### `{name}` ({len(r)} runs)", "",
                  "| fraction | regime | seeds | val AUC | test AUC (mean ± SD over seeds) |", "|---|---|---|---|---|"]
        for fraction in sorted(set(r["train_fraction"]), reverse=True):
            rows = r[r["train_fraction"] == fraction]
            means = rows.groupby("label", sort=False)["val_auc"].mean()
            best = means.idxmax()
            for label, group in rows.groupby("label", sort=False):
                mark = " (best on validation)" if label == best else ""
                sd = float(np.std(group["test_auc"], ddof=1)) if len(group) > 1 else float("nan")
                lines.append(f"| {fraction:g} | {label}{mark} | {len(group)} | {group['val_auc'].mean():.3f} | "
                             f"{group['test_auc'].mean():.3f} ± {sd:.3f} |")
        lines.append("")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", action="append", choices=sorted(STUDIES), help="run these (default: all)")
    parser.add_argument("--out", type=Path, default=Path("bench-out/volumes"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--summarize", action="store_true", help="print the tables from what has finished")
    args = parser.parse_args(argv)
    if args.summarize:
        print(summarize(args.out))
        return 0
    run(args.study or list(STUDIES), args.out, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
