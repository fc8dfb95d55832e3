"""tunedepth: full training or fine-tuning, and how deep? (after Tajbakhsh et al., IEEE TMI 2016)."""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version

# OpenMP threads (torch's CPU thread pool) spin while they wait for work: by default (libgomp) for 300,000
# iterations, which makes two processes that share the cores fight. Measured on the 2-core machine with
# benchmarks/bench_threads.py (EfficientNet-Lite0, 64 px, batch 64, all groups training, images/s; docs/benchmarks.md):
# alone 151 with the default, 125 with OMP_WAIT_POLICY=PASSIVE, 147 with GOMP_SPINCOUNT=10000; two processes at once
# 20 + 20, 84 + 86 and 68 + 69. A bounded spin keeps a lone study's speed and avoids the collapse when a study shares
# the CPU (its own workers, another study, the test suite). The runtime reads the variable when torch loads it, so
# this takes effect when tunedepth is imported before torch (the `tunedepth` command and the worker processes it
# spawns, which inherit it); a wait policy the user chose is left alone.
if "OMP_WAIT_POLICY" not in os.environ:
    os.environ.setdefault("GOMP_SPINCOUNT", "10000")

try:
    __version__ = version("tunedepth")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
