"""Command line interface (nothing imports this package)."""

from __future__ import annotations

from tunedepth.cli.main import app, main

__all__ = ["app", "main"]
