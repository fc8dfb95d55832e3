"""Where a demo run's time goes: one epoch of the demo's heaviest runs, timed by part.

Times, for EfficientNet-Lite0 on PneumoniaMNIST's 100% training split at 64 px (the demo's heaviest runs: scratch and
full fine-tuning, which the feature cache cannot shorten), with the demo's 2 threads: one training epoch (forward,
backward, optimizer step) at batch 64 and 128, channels-last on and off; the per-epoch validation and test
predictions; and the preparation of a mini-batch (indexing and normalising uint8 images). Run it with nothing else
using the CPU:

    TUNEDEPTH_DATA_DIR=../shared/data .venv/bin/python benchmarks/bench_epoch.py
"""

from __future__ import annotations

import sys
import time
from typing import Any

import tunedepth  # noqa: F401  (sets the OpenMP spin before torch loads)


def _train(model: Any, opt: Any, train: Any, batch: int, n: int, device: Any) -> None:
    import torch

    from tunedepth.training.predict import model_inputs

    model.train()
    order = torch.randperm(len(train))[:n]
    for start in range(0, n, batch):
        x = model_inputs(model, train.images[order[start:start + batch]], cut=0, device=device)
        loss = torch.nn.functional.cross_entropy(model(x), train.labels[order[start:start + batch]])
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()


def _batches(model: Any, train: Any, device: Any) -> None:
    import torch

    from tunedepth.training.predict import model_inputs

    order = torch.randperm(len(train))
    for start in range(0, len(train), 64):
        model_inputs(model, train.images[order[start:start + 64]], cut=0, device=device)


def main() -> int:
    import torch

    from tunedepth.data.sources import load_medmnist
    from tunedepth.models import build_model
    from tunedepth.training.predict import memory_format, predict_log_odds
    from tunedepth.tuning import freeze_to_depth

    torch.set_num_threads(2)
    torch.set_flush_denormal(True)
    data = load_medmnist(flag="pneumoniamnist", size=28, image_size=64)
    train, val, test = data.train, data.val, data.test
    cpu = torch.device("cpu")
    rows = []

    def timed(label: str, fn, n_images: int) -> None:
        started = time.perf_counter()
        fn()
        seconds = time.perf_counter() - started
        rows.append((label, seconds, n_images / seconds))
        print(f"| {label} | {seconds:.1f} s | {n_images / seconds:.0f} images/s |", flush=True)

    for weights, label in (("none", "scratch"), ("imagenet", "full fine-tuning")):
        for batch, channels_last in ((64, True), (128, True), (64, False)):
            model = build_model("efficientnet_lite0", num_classes=2, weights=weights)
            freeze_to_depth(model, model.n_groups, bn_policy="freeze")
            model.channels_last = channels_last
            model.to(memory_format=memory_format(model))
            opt = torch.optim.SGD([p for p in model.parameters() if p.requires_grad], lr=0.003, momentum=0.9)
            n = 1024  # a fifth of the epoch is enough for a rate
            timed(f"{label}: training, batch {batch}, channels-last {channels_last}",
                  lambda m=model, o=opt, b=batch, k=n: _train(m, o, train, b, k, cpu), n)
        timed(f"{label}: validation predictions ({len(val)})",
              lambda m=model: predict_log_odds(m, val.images, batch_size=256, device=cpu), len(val))
        timed(f"{label}: test predictions ({len(test)})",
              lambda m=model: predict_log_odds(m, test.images, batch_size=256, device=cpu), len(test))
    timed("preparing the mini-batches of one epoch (index + normalise)",
          lambda m=model: _batches(m, train, cpu), len(train))
    return 0


if __name__ == "__main__":
    sys.exit(main())
