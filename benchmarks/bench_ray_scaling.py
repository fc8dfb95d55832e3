"""Ray scheduling scaling (issue 18, docs/scale.md): one study of sleep-bound runs on 1, 2, 4 and 8 simulated Ray
nodes of 1 CPU each, all on this machine (``ray.cluster_utils.Cluster``), so the curve measures the scheduler and
the executor's per-run overhead, not the 2 cores.

A run here trains a 4-group network whose forward pass sleeps ``--sleep`` seconds per mini-batch (the CPU is idle
meanwhile), so a run takes about the same time wherever it runs; the ideal wall time on k nodes is
``runs x run_seconds / k``. Printed per node count: the wall time of ``run_study`` (the Ray cluster already up),
the ideal, the speed-up over 1 node, and the overhead per run (``(wall x k - runs x run_seconds) / runs``).

    .venv/bin/python benchmarks/bench_ray_scaling.py --runs 24 --nodes 1 2 4 8
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image
from torch import nn

REPO = Path(__file__).resolve().parents[1]
SLEEP_SECONDS = float(os.environ.get("TUNEDEPTH_BENCH_SLEEP", "0.05"))


class _Sleep(nn.Module):
    """Identity that sleeps: a mini-batch costs wall time, not CPU."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        time.sleep(SLEEP_SECONDS)
        return x


def _sleep_net(num_classes: int) -> nn.Module:
    return nn.Sequential(
        nn.Sequential(_Sleep(), nn.Conv2d(3, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2)),
        nn.Sequential(nn.Conv2d(4, 4, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten()),
        nn.Linear(4, num_classes),
    )


def register() -> None:
    from tunedepth.models import ARCHITECTURES, Architecture, LayerGroup

    if "sleep4" not in ARCHITECTURES:
        ARCHITECTURES.register("sleep4", Architecture(
            name="sleep4", description="benchmark-only: a 4-group CNN whose forward pass sleeps",
            groups=tuple(LayerGroup(n, (str(i),)) for i, n in enumerate(("g1", "g2", "g3", "head"))),
            build_net=_sleep_net, first_conv="0.1", weight_sources={}, mean=(0.5,) * 3, std=(0.25,) * 3,
            input_size=16))


if __name__ != "__main__":  # registered by the module's own name, which Ray workers import (plugin_modules)
    register()


def _images(root: Path, n: int = 64) -> Path:
    rng = np.random.default_rng(0)
    for i in range(n):
        folder = root / ("a" if i % 2 else "b")
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)).save(folder / f"{i:03d}.png")
    return root


def _study(images: Path, runs: int) -> dict[str, Any]:
    return {
        "name": "ray-scaling", "data": {"source": "image_folder", "path": str(images), "image_size": 16},
        "model": {"architecture": "sleep4", "weights": "imagenet"},  # unused: scratch only
        "grid": {"regimes": ["scratch"], "depths": [1], "train_fractions": [1.0], "seeds": list(range(runs))},
        "training": {"lr": 0.01, "batch_size": 16, "max_epochs": 3, "patience": 3},
        "execution": {"executor": "ray", "num_threads": 1, "feature_cache": False},
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=24)
    parser.add_argument("--nodes", type=int, nargs="+", default=[1, 2, 4, 8])
    args = parser.parse_args(argv)
    import ray
    from ray.cluster_utils import Cluster

    from tunedepth.config import parse_study
    from tunedepth.study import run_study

    work = Path(tempfile.mkdtemp(prefix="ray-scaling-"))
    images = _images(work / "images")
    rows = []
    for k in args.nodes:
        cluster = Cluster(initialize_head=True, head_node_args={"num_cpus": 1})
        for _ in range(k - 1):
            cluster.add_node(num_cpus=1)
        paths = os.pathsep.join([str(REPO / "benchmarks"), *[p for p in sys.path if p]])
        ray.init(address=cluster.address, runtime_env={"env_vars": {"PYTHONPATH": paths}}, log_to_driver=False)
        try:
            # warm every node's worker (Python, torch and tunedepth imports) so the timing is of the runs
            warm = run_study(parse_study(_study(images, k), base_dir=work), work / f"warm-{k}")
            started = time.perf_counter()
            summary = run_study(parse_study(_study(images, args.runs), base_dir=work), work / f"study-{k}")
            wall = time.perf_counter() - started
        finally:
            ray.shutdown()
            cluster.shutdown()
        seconds = float(summary.results["train_seconds"].mean())
        rows.append({"nodes": k, "runs": args.runs, "wall_s": wall, "run_train_s": seconds,
                     "ideal_s": args.runs * seconds / k, "overhead_per_run_s": (wall * k - args.runs * seconds)
                     / args.runs, "warm_runs": warm.n_executed})
        print(json.dumps(rows[-1]), flush=True)
    base = rows[0]["wall_s"]
    print("| nodes | runs | wall | ideal | speed-up over 1 node | overhead per run |")
    print("|---|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['nodes']} | {r['runs']} | {r['wall_s']:.1f} s | {r['ideal_s']:.1f} s | {base / r['wall_s']:.2f}x "
              f"| {r['overhead_per_run_s']:.2f} s |")
    return 0


if __name__ == "__main__":
    sys.path.insert(0, str(REPO / "benchmarks"))
    import bench_ray_scaling

    sys.exit(bench_ray_scaling.main())
