"""What produced a result: tunedepth version, git SHA, torch version (recorded, never hashed)."""

from __future__ import annotations

import subprocess
from functools import cache
from pathlib import Path

import torch

import tunedepth

__all__ = ["provenance"]


@cache
def _git_sha() -> str | None:
    here = Path(tunedepth.__file__).resolve().parent
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=here, capture_output=True, text=True, timeout=5, check=True
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None


def provenance() -> dict[str, str | None]:
    """Version facts recorded next to every run."""
    return {"tunedepth_version": tunedepth.__version__, "git_sha": _git_sha(), "torch_version": torch.__version__}
