"""tunedepth: full training or fine-tuning, and how deep? (after Tajbakhsh et al., IEEE TMI 2016)."""

from __future__ import annotations

import os
from importlib.metadata import PackageNotFoundError, version

# OpenMP threads (torch's CPU thread pool) spin while they wait for work by default. Measured on the 2-core machine
# (EfficientNet-Lite0, 64 px, batch 64, all groups training): alone, 212 images/s; two such processes at once, 26
# images/s each with the default policy, 121 + 117 with PASSIVE (docs/benchmarks.md). A study shares the CPU with
# its own workers, another study or the test suite, so tunedepth asks for passive waiting unless the user chose.
# The runtime reads the variable when torch loads it: this takes effect when tunedepth is imported before torch
# (the `tunedepth` command, and the worker processes it spawns, which inherit it).
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

try:
    __version__ = version("tunedepth")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
