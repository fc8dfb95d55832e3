"""Probe: what the paper-sized polyp detector (examples/kvasir_detection_paper.toml) costs, measured on a slice.

Issue 20 asks, where the CPU-sized detector misses its sensitivity goal, for the paper-sized GPU configuration with
its memory and time estimated by a short measured probe. This script is that probe. It runs the paper example's
settings on the first ``--frames`` Kvasir-SEG frames with ``--patches`` training patches, for one regime that trains
every group (the costliest run; no feature cache) and one that trains the head alone (the cached case), each for
``--epochs`` epochs at one learning rate, and measures:

* preparation: seconds and bytes of patches per frame, and peak resident memory;
* training: training images per second of each run, from its ``train_seconds`` (which includes validating every
  epoch: the defaults, 100 frames and 10,000 patches, keep the paper study's ratio of validation to training patches,
  15,000 to 100,000), and peak device memory;

then extrapolates to the whole paper study (1000 frames, 100,000 training patches, its grid, its learning-rate
list, at most ``max_epochs`` epochs: an upper bound) and writes everything to ``<out>/probe.json``.

    TUNEDEPTH_DATA_DIR=../shared/data .venv/bin/python benchmarks/probe_detection_gpu.py --out bench-out/probe
    # on the device machine: --device cuda (the default); --device cpu runs the same probe on the CPU

Figures measured on a slice scale linearly in frames and patches; what does not (data loading contention, the
feature cache's memory cap) is named in the output's ``assumptions``.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "examples" / "kvasir_detection_paper.toml"
KVASIR_FRAMES = 1000


def _raw(frames: int, patches: int, epochs: int, device: str, threads: int) -> dict[str, Any]:
    raw = tomllib.loads(PAPER.read_text())
    raw["name"] = "probe-detection-paper"
    raw["data"]["max_frames"] = frames
    raw["detection"]["train_patches"] = patches
    raw["grid"] = {"regimes": ["finetune"], "depths": [1, "stem"], "train_fractions": [1.0], "seeds": [0]}
    raw["training"] |= {"lr": 0.003, "max_epochs": epochs, "patience": epochs, "min_iterations": 0}
    raw["execution"] = {"device": device, "num_threads": threads, "workers": 1,
                        "feature_cache_max_gb": raw.get("execution", {}).get("feature_cache_max_gb", 24)}
    return raw


def _extrapolate(paper: dict[str, Any], measured: dict[str, Any]) -> dict[str, Any]:
    """Upper bound of the paper study's time from the measured throughputs (every run to max_epochs)."""
    grid, training = paper["grid"], paper["training"]
    n_lr = len(training["lr"]) if isinstance(training["lr"], list) else 1
    n_train = paper["detection"]["train_patches"]
    epochs = training["max_epochs"]
    full_ips, head_ips = measured["images_per_second"]["all"], measured["images_per_second"]["1"]
    n_depths = 10 if grid["depths"] == "all" else len(grid["depths"])
    seeds, fractions = len(grid["seeds"]), grid["train_fractions"]
    # scratch and every depth but the head run live (an upper bound: the cache serves the frozen prefix of depths
    # 2-9 where it fits), the head alone at the cached throughput
    live_runs_per_fraction = 1 + (n_depths - 1)
    seconds = 0.0
    for fraction in fractions:
        images = epochs * n_train * fraction * n_lr * seeds
        seconds += images * (live_runs_per_fraction / full_ips + 1 / head_ips)
    prep = measured["preparation"]
    held_out = paper["data"]["val_fraction"] + paper["data"]["test_fraction"]  # frames with evaluation patches
    return {
        "runs": len(fractions) * seeds * (n_depths + 1), "lr_trials_per_run": n_lr, "max_epochs": epochs,
        "training_hours_upper_bound": seconds / 3600,
        "preparation_minutes": prep["seconds_per_frame"] * KVASIR_FRAMES / 60,
        "patch_memory_gb": (prep["train_bytes_per_patch"] * n_train
                            + prep["evaluation_bytes_per_frame"] * KVASIR_FRAMES * held_out) / 1e9,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out/probe"))
    parser.add_argument("--frames", type=int, default=100)
    parser.add_argument("--patches", type=int, default=10000)
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--threads", type=int, default=8)
    args = parser.parse_args(argv)

    import torch

    from tunedepth.config import parse_study
    from tunedepth.study import prepare_study, run_study

    config = parse_study(_raw(args.frames, args.patches, args.epochs, args.device, args.threads), base_dir=REPO)
    folder = args.out / "study"
    started = time.perf_counter()
    prepared = prepare_study(config, folder)
    prep_seconds = time.perf_counter() - started
    data = prepared.data
    eval_bytes = sum(getattr(data, s).images.numel() for s in ("val", "test"))
    n_eval_frames = sum(len(prepared.task_data.candidates[s].frames) for s in ("val", "test"))  # type: ignore[union-attr]
    train_bytes = data.train.images.numel() / max(1, len(data.train.images))
    prep_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    del prepared
    if args.device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    results = run_study(config, folder).results
    ips = {}
    for row in results.itertuples():
        depth = "1" if row.depth == 1 else "all"
        ips[depth] = row.n_train * row.epochs_run / row.train_seconds
    measured = {
        "device": torch.cuda.get_device_name() if args.device == "cuda" else "cpu",
        "frames": args.frames, "patches": args.patches, "epochs": args.epochs,
        "preparation": {"seconds_per_frame": prep_seconds / args.frames, "train_bytes_per_patch": train_bytes,
                        "evaluation_bytes_per_frame": eval_bytes / n_eval_frames, "peak_rss_gib": prep_rss},
        "images_per_second": ips,
        "peak_device_memory_gib": torch.cuda.max_memory_allocated() / 2**30 if args.device == "cuda" else None,
        "peak_rss_gib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "test_sensitivity_at_0.1_fps": dict(zip(results["label"], results["test_sensitivity_at_0.1_fps"],
                                                strict=True)),
    }
    paper = tomllib.loads(PAPER.read_text())
    measured["paper_study_estimate"] = _extrapolate(paper, measured)
    measured["assumptions"] = [
        "preparation and patch memory scale linearly in frames (the frames of the slice are the first in file order)",
        "training time is an upper bound: every run to max_epochs, every lr in the list, depths 2-10 and scratch "
        "at the all-groups throughput (the cache serves frozen prefixes of the shallow depths where it fits)",
        "the slice's sensitivities mean nothing (few frames, one epoch)",
    ]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "probe.json").write_text(json.dumps(measured, indent=2))
    print(json.dumps(measured, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
