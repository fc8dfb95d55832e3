"""``python -m tunedepth`` runs the command line."""

from __future__ import annotations

from tunedepth.cli.main import run

if __name__ == "__main__":
    run()
