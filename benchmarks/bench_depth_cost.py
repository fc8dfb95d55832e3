"""What a fine-tuning run at each depth costs: training images per second of EfficientNet-Lite0 from its cached cut.

A run at depth d trains the last d groups on the frozen prefix's cached features (tunedepth/training/features.py),
so its cost is that of the groups it trains. Run alone (timings are noisy on a shared CPU):

    .venv/bin/python benchmarks/bench_depth_cost.py --size 64 --threads 1

Used for the demo's time budget (docs/demo.md, "A demo in 12 minutes").
"""

from __future__ import annotations

import argparse
import time

import torch

import tunedepth  # noqa: F401  (sets the OpenMP wait policy before torch starts its threads)
from tunedepth.models import build_model
from tunedepth.training.features import cache_cut
from tunedepth.tuning import freeze_to_depth


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--size", type=int, default=64, help="input side in pixels")
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--steps", type=int, default=4, help="timed mini-batches per depth (after one warm-up)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.set_flush_denormal(True)
    model = build_model("efficientnet_lite0", num_classes=2, weights="imagenet")
    x = torch.rand(64, 3, args.size, args.size).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 2, (64,))
    print("| depth | cut | images/s | cached features per image |\n|---|---|---|---|")
    for depth in range(1, model.n_groups + 1):
        freeze_to_depth(model, depth, bn_policy="freeze")
        cut, _ = cache_cut(model)
        model.train()
        with torch.no_grad():
            inputs = model.forward_to(cut, x) if cut else x
        optimizer = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=1e-3)

        for k in range(args.steps + 1):  # the first is a warm-up
            if k == 1:
                start = time.perf_counter()
            optimizer.zero_grad()
            logits = model.forward_from(cut, inputs) if cut else model(inputs)
            torch.nn.functional.cross_entropy(logits, y).backward()
            optimizer.step()
        per_image = (time.perf_counter() - start) / (args.steps * 64)
        print(f"| {depth} | {cut} | {1 / per_image:,.0f} | {inputs[0].numel() * 4 / 1024:.0f} KB |")


if __name__ == "__main__":
    main()
