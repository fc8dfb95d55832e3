"""tunedepth: full training or fine-tuning, and how deep? (after Tajbakhsh et al., IEEE TMI 2016)."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("tunedepth")
except PackageNotFoundError:  # running from a source tree without installation
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
