"""The tables of docs/frames.md: crop-averaged vs single-view test AUC per regime, from finished (or partly
finished) frame-classification study folders.

    .venv/bin/python benchmarks/frames_table.py bench-out/frames/breast64-frames bench-out/frames/kvasir-frame-quality

Each folder is analysed as ``tunedepth report`` would (its ``crops.csv``); runs still missing are left out, and the
table says how many runs it holds. The best regime by validation AUC (mean over seeds) at each fraction is marked.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
from pathlib import Path

from bench_recommend import _load_partial  # every complete run of a folder, whether its study has ended or not

from tunedepth.analysis.tasks import crop_table


def table(folder: Path) -> str:
    study = _load_partial(folder, Path(tempfile.mkdtemp(prefix="frames-table-")))
    crops = crop_table(study)
    val = study.results.groupby(["train_fraction", "label"])["val_auc"].mean()
    lines = [f"`{folder.name}`: {len(study.runs)} runs; test AUC per frame, mean over seeds, 95% CI (DeLong; with "
             "several seeds DeLong + seeds)", "",
             "| fraction | regime | seeds | crop-averaged | centre crop only | difference | p |",
             "|---|---|---|---|---|---|---|"]
    for fraction, rows in crops.groupby("train_fraction", sort=False):
        best = val.loc[fraction].idxmax()
        for r in rows.itertuples():
            mark = " (best on validation)" if r.label == best else ""
            lines.append(f"| {fraction:g} | {r.label}{mark} | {r.n_seeds} | {r.auc_crops:.3f} [{r.auc_crops_low:.3f}, "
                         f"{r.auc_crops_high:.3f}] | {r.auc_single:.3f} [{r.auc_single_low:.3f}, "
                         f"{r.auc_single_high:.3f}] | {r.difference:+.3f} [{r.difference_low:+.3f}, "
                         f"{r.difference_high:+.3f}] | {r.p_value:.2g} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("folders", nargs="+", type=Path)
    args = parser.parse_args(argv)
    for folder in args.folders:
        print(table(folder), end="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
