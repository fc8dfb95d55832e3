"""Commands that turn a study's answer into a model: ``rerun`` (a run's weights, re-made and checked)."""

from __future__ import annotations

from typing import Annotated

import typer

from tunedepth.cli._app import StudyDirArgument, VerboseOption, console, duration, setup_logging

__all__ = ["rerun"]


def rerun(
    study_dir: StudyDirArgument,
    run_id: Annotated[str, typer.Argument(help="The run to re-make (results.csv's run_id).")],
    tolerance: Annotated[float | None, typer.Option(
        "--tolerance", min=0.0, help="Largest accepted difference of a stored log-odds. Default: 0 on the CPU "
                                     "(exact), 0.01 on CUDA.")] = None,
    verbose: VerboseOption = False,
) -> None:
    """Re-train one finished run from its study folder, check that it gives its stored predictions again, and keep
    its weights (weights.safetensors in its run folder).

    It trains with the run's own thread count at its kept learning rate; nothing is written when the predictions
    differ by more than the tolerance.
    """
    from tunedepth.study.rerun import rerun_run

    setup_logging(verbose)
    result = rerun_run(study_dir, run_id, tolerance=tolerance)
    same = "identical" if result.max_abs_difference == 0 else \
        f"within {result.max_abs_difference:.3g} (tolerance {result.tolerance:g})"
    console.print(f"Run {result.run_id} ({result.label}) re-trained in {duration(result.seconds)} with "
                  f"{result.threads} thread(s): validation and test predictions {same}. Weights: {result.weights}",
                  markup=False, highlight=False, soft_wrap=True)
