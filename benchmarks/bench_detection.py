"""Detection levers (issue 20): which changes to the Kvasir-SEG example's candidate classifier pay, on validation.

Every lever is an ordinary tunedepth study in its own folder under ``--out`` (default ``bench-out/detection``):
``examples/kvasir_detection.toml`` with one change, on a cheap grid (fine-tuning depths 1 and 3, whose frozen
prefixes the feature cache serves; 100% of the training frames; seed 0), so a lever costs one preparation and a few
minutes of training. The benchmark is resumable: run it again and finished runs are skipped.

    TUNEDEPTH_DATA_DIR=../shared/data nohup .venv/bin/python benchmarks/bench_detection.py --threads 1 \\
        >> bench-out/detection.log 2>&1 &
    .venv/bin/python benchmarks/bench_detection.py --summarize      # the table of docs/detection.md

Levers are compared on **validation** FROC (sensitivity at 0.1 false positives per frame over the validation
frames' candidates, computed from each run's stored validation predictions) and validation AUC; test numbers are
printed beside them, not used to choose.
"""

from __future__ import annotations

import argparse
import copy
import sys
import tempfile
import tomllib
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "kvasir_detection.toml"

LEVER_GRID: dict[str, Any] = {"regimes": ["finetune"], "depths": [1, 3], "train_fractions": [1.0], "seeds": [0]}

LEVERS: dict[str, dict[str, Any]] = {
    "baseline": {},
    "hard-negatives-50": {"detection": {"hard_negatives": 0.5}},
    "patch-64": {"data": {"image_size": 64}},
    "patch-96": {"data": {"image_size": 96}},
    "patches-20k": {"detection": {"train_patches": 20000}},
    # the label is "the box centre lies on a polyp": a view zoomed on the centre shows what decides it
    "scales-centre": {"detection": {"scales": [0.5, 1.0, 1.5]}},
    "tta-orientations": {"detection": {"test_views": "scales_orientations"}},
    "modern": {"training": {"recipe": "modern", "optimizer": "adamw", "lr": 3e-4, "max_epochs": 15, "patience": 4}},
    # the levers that raised validation AUC, together
    "combined": {"data": {"image_size": 96}, "detection": {"train_patches": 20000},
                 "training": {"recipe": "modern", "optimizer": "adamw", "lr": 3e-4, "max_epochs": 15, "patience": 4}},
}
"""Each lever: the tables and keys it changes in the example (merged one level deep)."""


def study_raw(name: str, threads: int) -> dict[str, Any]:
    raw = tomllib.loads(EXAMPLE.read_text())
    for table, values in copy.deepcopy(LEVERS[name]).items():
        raw.setdefault(table, {}).update(values)
    raw["grid"] = copy.deepcopy(LEVER_GRID)
    raw["name"] = f"detection-{name}"
    raw["execution"] = {"workers": 1, "num_threads": threads}
    return raw


def run(names: list[str], out: Path, threads: int) -> None:
    from tunedepth.config import parse_study
    from tunedepth.study import run_study

    for name in names:
        print(f"== {name}", flush=True)
        summary = run_study(parse_study(study_raw(name, threads), base_dir=EXAMPLE.parent), out / name)
        print(f"   {summary.n_executed} executed, {summary.n_skipped} skipped", flush=True)


def validation_sensitivity(folder: Path, run_folder: Path, fps: float = 0.1) -> float:
    """Sensitivity at ``fps`` false positives per frame over the validation frames, from the stored predictions."""
    from tunedepth.evaluation import candidate_hits_from_table, sensitivity_at_fps

    cands = pd.read_csv(folder / "detection" / "candidates_val.csv")
    frames = pd.read_csv(folder / "detection" / "frames.csv")
    n_polyps = frames.loc[frames["split"] == "val", "n_polyps"].to_numpy()
    scores = pd.read_csv(run_folder / "predictions_val.csv")["log_odds_1"].to_numpy()
    hits = candidate_hits_from_table(cands["frame"].to_numpy(), cands["polyp"].to_numpy(), scores, n_polyps)
    return float(sensitivity_at_fps(hits, fps_targets=(fps,))[0])


def summarize(out: Path) -> str:
    from bench_recommend import _load_partial  # every complete run, whether the study has ended or not

    lines = ["| lever | regime | val AUC | val sens. @ 0.1 FP/frame | test AUC | test sens. @ 0.1 FP/frame | "
             "test sens. @ 1 FP/frame | train s |", "|---|---|---|---|---|---|---|---|"]
    for name in LEVERS:
        folder = out / name
        if not (folder / "study.json").is_file() or not any((folder / "runs").glob("*/metrics.json")):
            continue
        study = _load_partial(folder, Path(tempfile.mkdtemp(prefix="bench-detection-")))
        for _, row in study.results.iterrows():
            val_sens = validation_sensitivity(folder, folder / "runs" / row["run_id"])
            lines.append(
                f"| {name} | {row['label']} | {row['val_auc']:.3f} | {val_sens:.3f} | {row['test_auc']:.3f} | "
                f"{row['test_sensitivity_at_0.1_fps']:.3f} | {row['test_sensitivity_at_1_fps']:.3f} | "
                f"{row['train_seconds']:.0f} |")
    return "\n".join(lines)


def false_positive_profile(folder: Path, fps: float = 0.3) -> str:
    """Per run of a detection study: of its test negatives scored above ``fps`` false positives per frame, the share
    whose box holds polyp pixels (near-polyp negatives, what ``hard_negatives`` draws from), against that share among
    all test negatives. Reads the frames' masks again (``data.source`` of the study)."""
    import json

    from tunedepth.config import parse_study
    from tunedepth.data.masked import label_polyps
    from tunedepth.data.masked.detection import _polyp_share
    from tunedepth.study.tasks.detection import load_polyp_frames

    study = parse_study(json.loads((folder / "study.json").read_text()), base_dir=Path.cwd())
    frames, cross = load_polyp_frames(study.data, min_area_px=study.task_settings.min_polyp_area_px)
    source = cross if cross is not None else frames
    position = {fid: i for i, fid in enumerate(source.frame_ids)}
    cands = pd.read_csv(folder / "detection" / "candidates_test.csv")
    table = pd.read_csv(folder / "detection" / "frames.csv")
    table = table[table["split"] == "test"].reset_index(drop=True)
    share = np.zeros(len(cands))
    for f, rows in cands.groupby("frame").groups.items():
        mask = source.masks[position[table.loc[f, "frame_id"]]]
        on = label_polyps(mask, min_area_px=study.task_settings.min_polyp_area_px) > 0
        share[np.asarray(rows)] = _polyp_share(on, cands.loc[rows, ["x0", "y0", "x1", "y1"]].to_numpy(float))
    negative = cands["polyp"].to_numpy() == 0
    lines = [f"all test negatives: {np.mean(share[negative] > 0):.3f} near a polyp ({negative.sum()} negatives)"]
    top_n = int(round(fps * len(table)))
    for run_folder in sorted((folder / "runs").iterdir()):
        if not (run_folder / "predictions_test.csv").is_file():
            continue
        label = json.loads((run_folder / "metrics.json").read_text())["label"]
        scores = pd.read_csv(run_folder / "predictions_test.csv")["log_odds_1"].to_numpy()
        top = np.flatnonzero(negative)[np.argsort(-scores[negative], kind="stable")[:top_n]]
        lines.append(f"{label}: {np.mean(share[top] > 0):.3f} of its {top_n} highest-scoring negatives "
                     f"({fps:g} FP/frame) are near a polyp")
    return "\n".join(lines)


def _suppressed(boxes: np.ndarray, scores: np.ndarray, threshold: float, overlap: str) -> np.ndarray:
    """Greedy non-maximum suppression within one frame: True for a candidate that overlaps a kept, higher-scoring
    one by more than ``threshold`` (``overlap``: "iou", or "iomin" = intersection over the smaller box)."""
    area = (boxes[:, 2] - boxes[:, 0]) * (boxes[:, 3] - boxes[:, 1])
    out = np.zeros(len(scores), dtype=bool)
    kept: list[int] = []
    for i in np.argsort(-scores, kind="stable"):
        for j in kept:
            w = max(0.0, min(boxes[i, 2], boxes[j, 2]) - max(boxes[i, 0], boxes[j, 0]))
            h = max(0.0, min(boxes[i, 3], boxes[j, 3]) - max(boxes[i, 1], boxes[j, 1]))
            inter = w * h
            ratio = inter / min(area[i], area[j]) if overlap == "iomin" else inter / (area[i] + area[j] - inter)
            if ratio > threshold:
                out[i] = True
                break
        else:
            kept.append(i)
    return out


def nms_reanalysis(folder: Path, fps: float = 0.1) -> str:
    """Test sensitivity at ``fps`` of each run of a detection study, its candidates' scores as stored and after
    non-maximum suppression on them (a suppressed candidate is ranked below every kept one)."""
    import json

    from tunedepth.evaluation import candidate_hits_from_table, sensitivity_at_fps

    cands = pd.read_csv(folder / "detection" / "candidates_test.csv")
    frames = pd.read_csv(folder / "detection" / "frames.csv")
    n_polyps = frames.loc[frames["split"] == "test", "n_polyps"].to_numpy()
    settings = (("none", 0.0), ("iou", 0.3), ("iomin", 0.3), ("iomin", 0.5))
    lines = ["| run | " + " | ".join(f"{o} > {t:g}" if o != "none" else "as stored" for o, t in settings) + " |",
             "|---|" + "---|" * len(settings)]
    for run_folder in sorted((folder / "runs").iterdir()):
        if not (run_folder / "predictions_test.csv").is_file():
            continue
        label = json.loads((run_folder / "metrics.json").read_text())["label"]
        scores = pd.read_csv(run_folder / "predictions_test.csv")["log_odds_1"].to_numpy()
        cells = []
        for overlap, threshold in settings:
            ranked = scores.copy()
            if overlap != "none":
                for rows in cands.groupby("frame").groups.values():
                    rows = np.asarray(rows)
                    boxes = cands.loc[rows, ["x0", "y0", "x1", "y1"]].to_numpy(float)
                    ranked[rows[_suppressed(boxes, scores[rows], threshold, overlap)]] -= 1e6
            hits = candidate_hits_from_table(cands["frame"].to_numpy(), cands["polyp"].to_numpy(), ranked, n_polyps)
            cells.append(f"{sensitivity_at_fps(hits, fps_targets=(fps,))[0]:.3f}")
        lines.append(f"| {label} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lever", action="append", choices=sorted(LEVERS), help="run these (default: all)")
    parser.add_argument("--out", type=Path, default=Path("bench-out/detection"))
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--summarize", action="store_true", help="print the table from what has finished")
    parser.add_argument("--false-positives", type=Path, metavar="STUDY",
                        help="print which test negatives a detection study's runs score highest")
    parser.add_argument("--nms", type=Path, metavar="STUDY",
                        help="print a detection study's test sensitivities with non-maximum suppression on its scores")
    args = parser.parse_args(argv)
    if args.nms:
        print(nms_reanalysis(args.nms))
        return 0
    if args.false_positives:
        print(false_positive_profile(args.false_positives))
        return 0
    if args.summarize:
        print(summarize(args.out))
        return 0
    run(args.lever or list(LEVERS), args.out, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
