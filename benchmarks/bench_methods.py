"""Tuning-method benchmark (issue 17): LP-FT, surgical, LLRD, L2-SP, norm-only and Auto-RGN beside the paper's
layer-wise freezing, on the same grid, with the study's own statistics (docs/methods.md).

Every study is an ordinary tunedepth study in its own folder under ``--out`` (default ``bench-out/methods``), so the
benchmark is resumable: run the same command again and finished runs are skipped. Hours on the 2-core machine:

    TUNEDEPTH_DATA_DIR=../shared/data nohup .venv/bin/python benchmarks/bench_methods.py --threads 1 \\
        >> bench-out/methods.log 2>&1 &
    .venv/bin/python benchmarks/bench_methods.py --summarize       # the tables of docs/methods.md

The MedMNIST studies use the quality benchmark's ``paper`` recipe at 64 px (benchmarks/bench_quality.py), so their
scratch and layer-wise runs have the run ids of its ``recipes-*-paper`` studies: those finished runs are copied in
(``--reuse``, default on) instead of trained again. The methods, fixed before any run: ``lp_ft`` (second stage at
full depth), ``surgical`` (its default early, middle and late groups), ``llrd``, ``l2sp``, ``norm_only``,
``auto_rgn``, each with its paper's default parameters ([methods.<name>] tables left out). PneumoniaMNIST runs at 25%
and 5% of its training split (its 100% runs are the costliest of the panel) with layer-wise depths {1, 5, all};
BreastMNIST and RetinaMNIST at 100% and 25% with every depth. The carotid segmentation proxy
(examples/carotid_segmentation.toml's settings) runs at 100% and 25%, one seed.
"""

from __future__ import annotations

import argparse
import copy
import shutil
import sys
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import bench_quality  # noqa: E402  (the recipes and data sets of the quality benchmark)

METHODS = ["layerwise", "lp_ft", "surgical", "llrd", "l2sp", "norm_only", "auto_rgn"]
METHOD_TABLES: dict[str, Any] = {"lp_ft": {"depths": ["stem"]}}
# data set -> (fractions, layer-wise depths, the quality benchmark's study whose runs are reused)
MEDMNIST: dict[str, tuple[list[float], Any, str | None]] = {
    "breast": ([1.0, 0.25], "all", "recipes-breast-paper"),
    "retina": ([1.0, 0.25], "all", "recipes-retina-paper"),
    "pneumonia": ([0.25, 0.05], [1, 5, "stem"], None),
}


def studies(threads: int) -> list[tuple[str, dict[str, Any], str | None]]:
    """(name, study file as a mapping, folder of reusable runs or None), cheapest first."""
    out = []
    for dataset, (fractions, depths, reuse) in MEDMNIST.items():
        base = bench_quality._study(f"methods-{dataset}", "methods", dataset, image_size=64, recipe="paper",
                                    depths=depths, fractions=tuple(fractions), threads=threads).raw
        base["grid"]["methods"] = METHODS
        base["methods"] = METHOD_TABLES
        out.append((base["name"], base, reuse))
    carotid = _carotid(threads)
    out.append((carotid["name"], carotid, None))
    return out


def _carotid(threads: int) -> dict[str, Any]:
    from tunedepth.config import load_study

    config = load_study(REPO / "examples" / "carotid_segmentation.toml")
    raw = config.model_dump(mode="json", exclude={"task_settings"})
    raw["segmentation"] = config.task_settings.model_dump(mode="json") if config.task_settings else {}
    raw = copy.deepcopy(raw)
    raw["name"] = "methods-carotid"
    raw["grid"]["methods"] = METHODS
    raw["methods"] = METHOD_TABLES
    raw["execution"] = {"num_threads": threads, "workers": 1}
    return raw


def _reuse(prepared: Any, out: Path, source: Path) -> int:
    """Copy the finished runs of ``source`` whose ids this study plans (same id = same configuration and result)."""
    from tunedepth.results import StudyLayout

    src, dst = StudyLayout(source), StudyLayout(out)
    copied = 0
    for run_id in prepared.run_ids:
        if (src.runs_dir / run_id / "metrics.json").is_file() and not (dst.runs_dir / run_id).exists():
            dst.runs_dir.mkdir(parents=True, exist_ok=True)
            shutil.copytree(src.runs_dir / run_id, dst.runs_dir / run_id)
            copied += 1
    return copied


def run(out: Path, threads: int, names: list[str] | None, reuse: bool, quality_out: Path) -> None:
    from tunedepth.analysis import analyze_study
    from tunedepth.config import parse_study
    from tunedepth.study import run_study
    from tunedepth.study.prepare import prepare_study

    chosen = studies(threads)
    if names:
        chosen = [s for s in chosen if s[0] in names]
    for name, raw, source in chosen:
        config = parse_study(raw, base_dir=REPO)
        if reuse and source is not None and (quality_out / source).is_dir():
            copied = _reuse(prepare_study(config, out / name), out / name, quality_out / source)
            print(f"== {name}: {copied} finished runs copied from {quality_out / source}", flush=True)
        print(f"== {name}", flush=True)
        summary = run_study(config, out / name)
        print(f"   {summary.n_executed} executed, {summary.n_skipped} skipped, {len(summary.failures)} failed",
              flush=True)
        analyze_study(out / name)


def summarize(out: Path) -> str:
    """Per study and fraction: each method's score against the paper's best depth and full fine-tuning
    (methods.csv), and the method chosen on validation (recommendation.txt)."""
    import pandas as pd

    from tunedepth.analysis import analyze_study

    lines = []
    for name, _, _ in studies(1):
        folder = out / name
        if not (folder / "results.csv").is_file():
            continue
        analysis = analyze_study(folder)
        table = analysis.methods
        if table.empty:
            continue
        lines += [f"### {name}", "", "| fraction | method | runs | test AUC [95% CI] | vs paper's best depth "
                  "(Holm p) | vs full fine-tuning (Holm p) |", "|---|---|---|---|---|---|"]
        for _, row in table.iterrows():
            lines.append(
                f"| {row['train_fraction']:g} | {row['label']} | {row['n_runs']} | {row['test_auc']:.3f} "
                f"[{row['test_auc_low']:.3f}, {row['test_auc_high']:.3f}] | {row['vs_paper']:+.3f} vs "
                f"{row['paper_label']} ({row['vs_paper_p_holm']:.3g}) | {row['vs_full']:+.3f} "
                f"({row['vs_full_p_holm']:.3g}) |")
        lines += ["", *[f"- {s}" for s in analysis.sentences], ""]
        seconds = pd.read_csv(folder / "results.csv").groupby("label")["train_seconds"].mean()
        lines += ["Mean training seconds per run: " + ", ".join(f"{k} {v:.0f}" for k, v in seconds.items()), ""]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=REPO / "bench-out" / "methods")
    parser.add_argument("--quality-out", type=Path, default=REPO / "bench-out" / "quality",
                        help="the quality benchmark's folder, whose finished runs are reused")
    parser.add_argument("--threads", type=int, default=2, help="torch threads of this process")
    parser.add_argument("--study", action="append", metavar="NAME", help="run only this study (repeatable)")
    parser.add_argument("--no-reuse", action="store_true", help="train every run here, reuse nothing")
    parser.add_argument("--summarize", action="store_true", help="print the tables from the finished runs")
    args = parser.parse_args(argv)
    if args.summarize:
        sys.stdout.write(summarize(args.out))
        return 0
    run(args.out, args.threads, args.study, not args.no_reuse, args.quality_out)
    return 0


if __name__ == "__main__":
    sys.exit(main())
