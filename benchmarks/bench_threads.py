"""Threads on a shared CPU: training throughput of one or two processes, by OpenMP wait policy and thread count.

Each configuration runs a bare training loop (EfficientNet-Lite0 from tunedepth's registry, 64-px random images,
batch 64, every group training, SGD) for ``--seconds`` after a warm-up, in 1 or 2 simultaneous processes, and reports
images per second per process. Run it from the repository root with nothing else using the CPU:

    .venv/bin/python benchmarks/bench_threads.py --seconds 40

The environment (``OMP_WAIT_POLICY``, ``GOMP_SPINCOUNT``) is set per child before it imports torch, which is when
the OpenMP runtime reads it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time

CONFIGS: tuple[tuple[str, int, int, dict[str, str]], ...] = (  # (label, processes, threads per process, env)
    ("1 process x 2 threads, default policy", 1, 2, {}),
    ("1 process x 2 threads, PASSIVE", 1, 2, {"OMP_WAIT_POLICY": "PASSIVE"}),
    ("1 process x 2 threads, GOMP_SPINCOUNT=10000", 1, 2, {"GOMP_SPINCOUNT": "10000"}),
    ("2 processes x 2 threads, default policy", 2, 2, {}),
    ("2 processes x 2 threads, PASSIVE", 2, 2, {"OMP_WAIT_POLICY": "PASSIVE"}),
    ("2 processes x 2 threads, GOMP_SPINCOUNT=10000", 2, 2, {"GOMP_SPINCOUNT": "10000"}),
    ("2 processes x 1 thread, PASSIVE", 2, 1, {"OMP_WAIT_POLICY": "PASSIVE"}),
    ("2 processes x 1 thread, default policy", 2, 1, {}),
)


def child(threads: int, seconds: float) -> None:
    import torch

    from tunedepth.models import build_model

    torch.set_num_threads(threads)
    torch.set_flush_denormal(True)
    model = build_model("efficientnet_lite0", num_classes=2, weights="none")
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x, y = torch.randn(64, 3, 64, 64), torch.randint(0, 2, (64,))
    model.train()

    def step() -> None:
        opt.zero_grad()
        torch.nn.functional.cross_entropy(model(x), y).backward()
        opt.step()

    for _ in range(3):
        step()
    n, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        step()
        n += 64
    print(json.dumps({"images_per_second": n / (time.perf_counter() - started)}))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=40.0)
    parser.add_argument("--child", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.seconds)
        return 0
    for label, processes, threads, settings in CONFIGS:
        # Unset variables take the runtime's default (the child loads torch before tunedepth could set them).
        env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT")} | settings
        command = [sys.executable, __file__, "--child", str(threads), "--seconds", str(args.seconds)]
        procs = [subprocess.Popen(command, env=env, stdout=subprocess.PIPE, text=True) for _ in range(processes)]
        rates = [json.loads(p.communicate()[0].strip().splitlines()[-1])["images_per_second"] for p in procs]
        print(f"| {label} | {' + '.join(f'{r:.0f}' for r in rates)} | {sum(rates):.0f} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
