"""The same real study on the local executor and on Ray (issue 18, docs/scale.md): wall time and overhead per run.

A 20-run BreastMNIST grid (EfficientNet-Lite0 with its ImageNet weights at 48 px: scratch and fine-tuning at depths
1-9, fractions 1.0 and 0.5, 3 epochs at lr 0.01, 2 runs at once with 1 thread each) is run three times from an empty
folder:

- ``local``: ``executor = "local"`` with 2 worker processes (the study's frozen features computed once by the driver
  into memory-mapped files the workers read);
- ``ray``: ``executor = "ray"``, a local Ray instance, ``max_concurrent = 2`` (the same shared feature files, read
  by the Ray workers from the study folder);
- ``ray-shipped``: ``ship_results = true``: each Ray worker computes the frozen features itself (what a node without
  the shared folder must do), so the difference to ``ray`` is what sharing the cache saves.

Printed per configuration: the wall time of ``run_study`` (Ray's start included for the Ray ones), the summed
training seconds of the runs, and the overhead per run against ``local``
(``(wall - wall_local) x 2 / runs``). Every configuration must give the same results (timings aside); the script
checks it. Run it on an idle machine (nothing else training):

    TUNEDEPTH_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_ray_local.py
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

from tunedepth.config import parse_study
from tunedepth.study import run_study

CONFIGURATIONS: dict[str, dict[str, Any]] = {
    "local": {"executor": "local", "workers": 2},
    "ray": {"executor": "ray", "ray": {"max_concurrent": 2, "cpus_per_run": 1}},
    "ray-shipped": {"executor": "ray", "ray": {"max_concurrent": 2, "cpus_per_run": 1, "ship_results": True}},
}


def study(execution: dict[str, Any]) -> dict[str, Any]:
    """The 20-run grid with ``execution`` (threads fixed at 1 per run)."""
    return {
        "name": "ray-vs-local",
        "data": {"source": "medmnist", "flag": "breastmnist", "size": 28, "image_size": 48},
        "model": {"architecture": "efficientnet_lite0", "weights": "imagenet"},
        "grid": {"regimes": ["scratch", "finetune"], "depths": list(range(1, 10)), "train_fractions": [1.0, 0.5],
                 "seeds": [0]},
        "training": {"lr": 0.01, "batch_size": 64, "max_epochs": 3, "patience": 3},
        "execution": {"num_threads": 1, **execution},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", action="append", choices=sorted(CONFIGURATIONS), help="run only these")
    parser.add_argument("--json", type=Path, help="also write the measurements to this file")
    args = parser.parse_args(argv)
    names = args.only or list(CONFIGURATIONS)
    rows, results = [], {}
    with tempfile.TemporaryDirectory(prefix="bench-ray-local-") as tmp:
        for name in names:
            config = parse_study(study(CONFIGURATIONS[name]), base_dir=Path(tmp))
            started = time.perf_counter()
            summary = run_study(config, Path(tmp) / name)
            wall = time.perf_counter() - started
            if not summary.failures.empty:
                raise SystemExit(f"{name}: failed runs:\n{summary.failures.to_string()}")
            frame = pd.read_csv(Path(tmp) / name / "results.csv")
            results[name] = frame.drop(columns=["train_seconds"]).set_index("run_id").sort_index()
            rows.append({"configuration": name, "runs": summary.n_executed, "wall_s": round(wall, 1),
                         "train_s": round(float(frame["train_seconds"].sum()), 1),
                         "cached_runs": int((frame["cached_groups"] > 0).sum())})
            print(json.dumps(rows[-1]), flush=True)
    for name, frame in results.items():
        pd.testing.assert_frame_equal(frame, next(iter(results.values())), obj=name)
    local = next((r for r in rows if r["configuration"] == "local"), None)
    print("\n| configuration | runs | wall | summed training | runs from the cache | overhead per run vs local |")
    print("|---|---|---|---|---|---|")
    for row in rows:
        extra = "" if local is None or row is local else \
            f"{(row['wall_s'] - local['wall_s']) * 2 / row['runs']:+.1f} s"
        print(f"| {row['configuration']} | {row['runs']} | {row['wall_s']} s | {row['train_s']} s | "
              f"{row['cached_runs']} | {extra or '—'} |")
    if args.json:
        args.json.write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
