"""The ``tunedepth`` application object and what every command module shares: the consoles, logging, the study
folder argument, durations. Commands are in :mod:`tunedepth.cli.main` (studies) and :mod:`tunedepth.cli.answer`
(using the answer: a run's weights)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler

__all__ = ["DEFAULT_OUT", "StudyDirArgument", "VerboseOption", "app", "console", "duration", "err_console",
           "setup_logging"]

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    help="Full training or fine-tuning, and how deep? Run layer-wise fine-tuning studies on medical images.",
)
console = Console()
err_console = Console(stderr=True)

DEFAULT_OUT = Path("tunedepth-out")



StudyDirArgument = Annotated[Path, typer.Argument(help="Study folder written by `tunedepth study` (its --out).")]
VerboseOption = Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")]



def setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=err_console, show_path=False)],
        force=True,
    )
    logging.captureWarnings(True)  # warnings (e.g. an undefined statistic) become one log line each


def duration(seconds: float) -> str:
    """E.g. "1 h 05 min", "3 min 20 s", "42 s"."""
    total = int(round(seconds))
    h, rest = divmod(total, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s" if m else f"{s} s"
