"""Speed benchmark: frozen-prefix feature cache, parallel workers, training-loop overhead, peak memory.

Run from the repository root, with nothing else using the CPU (other processes distort every ratio):

    TUNEDEPTH_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_speed.py --out bench-out

Parts (``--parts``, default all), each timed in this one invocation on this machine, every study in its own
subprocess (so its peak resident memory is its own):

* ``shallow``: the demo study's head-only/shallow subset (depths 1-3 at 100%, exactly 5 epochs each), cache on
  vs off. Goal: cached >= 5x faster.
* ``grid``: the whole demo study (examples/demo.toml, 33 runs), cache on (float16, the default) vs off, and
  once more with a float32 cache; the runs' test AUCs are compared pair by pair (same runs, same seeds).
  Goals: >= 2x faster; |AUC difference| <= 0.005; peak resident memory <= 4 GB.
* ``overhead``: one epoch of :func:`tunedepth.training.train_model` vs a bare PyTorch loop (same model, same
  batches, same optimizer), EfficientNet-Lite0 at 64 px, all groups trained. Goal: <= 1.10x per step.
* ``parallel``: a small grid run as 1 process x 2 threads vs 2 processes x 1 thread.

``--quick`` shrinks every part (5% of the data, 1-2 epochs, fewer depths) to check that the script works; its
numbers mean nothing. The results are printed as a table and written to ``<out>/benchmark.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
DEMO = REPO / "examples" / "demo.toml"


def _demo_raw() -> dict[str, Any]:
    import tomllib

    with open(DEMO, "rb") as fh:
        return tomllib.load(fh)


def _child_study(config_path: str, out: str) -> None:
    """Subprocess entry: run one study, print its wall time and peak resident memory as JSON."""
    from tunedepth.config import parse_study
    from tunedepth.study import run_study

    raw = json.loads(Path(config_path).read_text())
    config = parse_study(raw, base_dir=REPO)
    started = time.perf_counter()
    summary = run_study(config, Path(out))
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    children_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    print("RESULT" + json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb, "children_peak_rss_mb": children_mb,
                                 "n_runs": summary.n_executed}))


def _study(raw: dict[str, Any], out: Path) -> dict[str, Any]:
    """Run a study in a fresh subprocess (fresh folder), return its timing, memory and results."""
    import pandas as pd

    if out.exists():
        import shutil

        shutil.rmtree(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    config_path = out.parent / f"{out.name}.json"
    config_path.write_text(json.dumps(raw))
    proc = subprocess.run([sys.executable, __file__, "_study", str(config_path), str(out)], capture_output=True,
                          text=True, check=False)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("RESULT")]
    if proc.returncode != 0 or not lines:
        raise SystemExit(f"study {out} failed (exit {proc.returncode}):\n{proc.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(lines[-1][len("RESULT"):])
    result["results"] = pd.read_csv(out / "results.csv", dtype={"run_id": str})
    return result


def _variant(raw: dict[str, Any], *, cache: bool, quick: bool, **changes: Any) -> dict[str, Any]:
    raw = json.loads(json.dumps(raw))
    raw.setdefault("execution", {})["feature_cache"] = cache
    for section, values in changes.items():
        raw.setdefault(section, {}).update(values)
    if quick:
        raw["grid"].update(train_fractions=[0.05])
        raw["training"].update(max_epochs=min(raw["training"].get("max_epochs", 2), 2), min_iterations=0)
    return raw


def _compare(cached: dict[str, Any], plain: dict[str, Any]) -> dict[str, Any]:
    a = cached["results"].set_index("run_id")
    b = plain["results"].set_index("run_id").loc[a.index]
    diff = (a["test_auc"] - b["test_auc"]).abs()
    return {
        "seconds_cached": cached["seconds"], "seconds_uncached": plain["seconds"],
        "speedup": plain["seconds"] / cached["seconds"],
        "max_abs_test_auc_difference": float(diff.max()), "mean_abs_test_auc_difference": float(diff.mean()),
        "runs_cached": int((a["cached_groups"] > 0).sum()), "runs": len(a),
        "peak_rss_mb_cached": cached["peak_rss_mb"], "peak_rss_mb_uncached": plain["peak_rss_mb"],
        "per_run": [{"label": label, "train_fraction": float(f), "cached_groups": int(g),
                     "seconds_cached": float(sa), "seconds_uncached": float(sb), "test_auc_cached": float(ta),
                     "test_auc_uncached": float(tb)}
                    for label, f, g, sa, sb, ta, tb in zip(a["label"], a["train_fraction"], a["cached_groups"],
                                                           a["train_seconds"], b["train_seconds"], a["test_auc"],
                                                           b["test_auc"], strict=True)],
    }


def bench_shallow(out: Path, quick: bool) -> dict[str, Any]:
    raw = _demo_raw()
    grid = {"regimes": ["finetune"], "depths": [1, 2, 3], "train_fractions": [1.0]}
    fixed = {"max_epochs": 2 if quick else 5, "patience": 100, "min_iterations": 0}  # exactly this many epochs
    cached = _study(_variant(raw, cache=True, quick=quick, grid=grid, training=fixed), out / "shallow-cached")
    plain = _study(_variant(raw, cache=False, quick=quick, grid=grid, training=fixed), out / "shallow-uncached")
    return {"epochs": fixed["max_epochs"], **_compare(cached, plain)}


def bench_grid(out: Path, quick: bool) -> dict[str, Any]:
    raw = _demo_raw()
    grid = {"depths": [1, 5, 10]} if quick else {}
    cached = _study(_variant(raw, cache=True, quick=quick, grid=grid), out / "grid-cached")
    plain = _study(_variant(raw, cache=False, quick=quick, grid=grid), out / "grid-uncached")
    float32 = _study(_variant(raw, cache=True, quick=quick, grid=grid, execution={"feature_cache_dtype": "float32"}),
                     out / "grid-cached-float32")
    return {**_compare(cached, plain), "float32": _compare(float32, plain)}


def bench_parallel(out: Path, quick: bool) -> dict[str, Any]:
    raw = _demo_raw()
    grid = {"depths": [1, 4, 7, 10], "train_fractions": [0.25]}
    fixed = {"max_epochs": 1 if quick else 3, "patience": 100, "min_iterations": 0}
    times = {}
    for workers, threads in ((1, 2), (2, 1)):
        study = _study(_variant(raw, cache=True, quick=quick, grid=grid, training=fixed,
                                execution={"workers": workers, "num_threads": threads}),
                       out / f"parallel-{workers}x{threads}")
        times[f"{workers}x{threads}"] = study["seconds"]
    return {"seconds_1x2": times["1x2"], "seconds_2x1": times["2x1"], "ratio_2x1_over_1x2": times["2x1"] / times["1x2"],
            "runs": 2 * (len(grid["depths"]) + 1)}


def bench_overhead(quick: bool) -> dict[str, Any]:
    """Seconds per training step: train_model's loop vs a bare loop, same model, batches and optimizer."""
    import torch
    import torch.nn.functional as F

    from tunedepth.data import ImageSet, normalize
    from tunedepth.models import build_model
    from tunedepth.training import StoppingRule, train_model
    from tunedepth.tuning import LrPolicy, build_optimizer, build_param_groups, freeze_to_depth

    torch.set_num_threads(os.cpu_count() or 1)
    torch.set_flush_denormal(True)
    steps, batch = (3, 16) if quick else (20, 64)
    generator = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (steps * batch, 3, 64, 64), dtype=torch.uint8, generator=generator)
    labels = torch.arange(steps * batch) % 2
    train = ImageSet(images, labels)
    val = ImageSet(images[:2], labels[:2])
    policy = LrPolicy(optimizer="sgd", lr=0.003, head_lr_mult=10, bias_lr_mult=2, momentum=0.9, weight_decay=0,
                      lr_decay_per_epoch=0.95)
    cpu = torch.device("cpu")

    def fresh():
        torch.manual_seed(0)
        model = build_model("efficientnet_lite0", num_classes=2, weights="none")
        freeze_to_depth(model, model.n_groups, bn_policy="freeze")
        return model

    def tunedepth_loop() -> float:
        model = fresh()
        started = time.perf_counter()
        train_model(model, train=train, val=val, regime="finetune", policy=policy, stopping=StoppingRule(1, 1),
                    batch_size=batch, seed=0, device=cpu, val_score=lambda y, p: 0.0)
        return (time.perf_counter() - started) / steps

    def bare_loop() -> float:
        model = fresh()
        model.to(memory_format=torch.channels_last)
        model.train()
        optimizer = build_optimizer(build_param_groups(model, regime="finetune", policy=policy), policy=policy)
        order = torch.randperm(len(train), generator=torch.Generator().manual_seed(0))
        started = time.perf_counter()
        for start in range(0, len(train), batch):
            idx = order[start:start + batch]
            x = normalize(images[idx], model.mean, model.std).contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(model(x), labels[idx])
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        with torch.no_grad():  # the validation pass train_model makes (2 images), for a like-for-like count
            model.eval()
            model(normalize(val.images, model.mean, model.std).contiguous(memory_format=torch.channels_last))
        return (time.perf_counter() - started) / steps

    ours, bare = [], []
    for _ in range(2 if quick else 5):  # alternate, to spread drift in machine speed over both
        ours.append(tunedepth_loop())
        bare.append(bare_loop())
    return {"seconds_per_step_tunedepth": statistics.median(ours), "seconds_per_step_bare": statistics.median(bare),
            "ratio": statistics.median(ours) / statistics.median(bare), "steps": steps, "batch_size": batch,
            "repeats": len(ours)}


def _machine() -> dict[str, Any]:
    import torch

    cpu = platform.processor() or "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"cores": os.cpu_count(), "cpu": cpu, "torch": torch.__version__, "python": platform.python_version(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "_study":
        _child_study(argv[1], argv[2])
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path("bench-out"), help="folder for the benchmark's studies")
    parser.add_argument("--parts", default="shallow,grid,overhead,parallel", help="comma-separated parts to run")
    parser.add_argument("--quick", action="store_true", help="tiny settings: checks the script, not the speed")
    args = parser.parse_args(argv)
    parts = [p.strip() for p in args.parts.split(",") if p.strip()]
    unknown = sorted(set(parts) - {"shallow", "grid", "overhead", "parallel"})
    if unknown:
        parser.error(f"unknown part(s) {unknown}; choose from shallow, grid, overhead, parallel")
    report: dict[str, Any] = {"machine": _machine(), "quick": args.quick}
    for part in parts:
        started = time.perf_counter()
        if part == "overhead":
            report[part] = bench_overhead(args.quick)
        else:
            report[part] = {"shallow": bench_shallow, "grid": bench_grid, "parallel": bench_parallel}[part](
                args.out, args.quick)
        report[part]["benchmark_seconds"] = time.perf_counter() - started
        print(f"{part}: " + json.dumps({k: v for k, v in report[part].items() if k != "per_run"}), flush=True)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "benchmark.json").write_text(json.dumps(report, indent=2))
    _print_table(report)
    return 0


def _print_table(report: dict[str, Any]) -> None:
    m = report["machine"]
    print(f"\nmachine: {m['cores']} cores, {m['cpu']}, torch {m['torch']}, {m['date']}"
          + ("  [--quick: numbers mean nothing]" if report["quick"] else ""))
    print("| measure | value | goal |\n|---|---|---|")
    if "shallow" in report:
        s = report["shallow"]
        print(f"| shallow subset (depths 1-3 at 100%, {s['epochs']} epochs): uncached / cached time | "
              f"{s['speedup']:.1f}x ({s['seconds_uncached']:.0f} s / {s['seconds_cached']:.0f} s) | >= 5x |")
    if "grid" in report:
        g = report["grid"]
        print(f"| whole demo grid ({g['runs']} runs, {g['runs_cached']} cached): uncached / cached time | "
              f"{g['speedup']:.2f}x ({g['seconds_uncached']:.0f} s / {g['seconds_cached']:.0f} s) | >= 2x |")
        print(f"| test AUC, cached vs uncached, max abs difference over runs | "
              f"{g['max_abs_test_auc_difference']:.4f} (mean {g['mean_abs_test_auc_difference']:.4f}) | <= 0.005 |")
        f32 = g["float32"]
        print(f"| same with float32 cache: speed-up; max (mean) abs test AUC difference | {f32['speedup']:.2f}x; "
              f"{f32['max_abs_test_auc_difference']:.4f} ({f32['mean_abs_test_auc_difference']:.4f}) | |")
        print(f"| peak resident memory of the demo (cached / uncached) | {g['peak_rss_mb_cached'] / 1024:.2f} GB / "
              f"{g['peak_rss_mb_uncached'] / 1024:.2f} GB | <= 4 GB |")
    if "overhead" in report:
        o = report["overhead"]
        print(f"| training loop vs bare loop, per step | {o['ratio']:.3f}x "
              f"({o['seconds_per_step_tunedepth'] * 1000:.0f} ms / {o['seconds_per_step_bare'] * 1000:.0f} ms) "
              "| <= 1.10x |")
    if "parallel" in report:
        p = report["parallel"]
        print(f"| 2 processes x 1 thread vs 1 x 2 threads ({p['runs']} runs) | "
              f"{p['ratio_2x1_over_1x2']:.2f}x the time ({p['seconds_2x1']:.0f} s / {p['seconds_1x2']:.0f} s) "
              "| faster one is the default |")


if __name__ == "__main__":
    raise SystemExit(main())
