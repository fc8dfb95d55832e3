"""The ``tunedepth`` command line: thin wrappers that parse, validate, call one library function.

User mistakes (``TunedepthError``) end as one line on stderr and exit code 2, no traceback.
"""

from __future__ import annotations

import enum
import errno
import sys
from importlib.resources import as_file, files
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import pandas as pd
import typer
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.table import Table

from tunedepth.analysis import (
    ANALYSIS_FILES,
    ANALYSIS_TASKS,
    DEPTH_METRICS,
    DEPTH_RULES,
    StudyAnalysis,
    analyze_study,
)
from tunedepth.cli._app import (
    DEFAULT_OUT,
    StudyDirArgument,
    VerboseOption,
    app,
    console,
    duration,
    err_console,
    setup_logging,
)
from tunedepth.cli.answer import export, predict, rerun
from tunedepth.config import load_study
from tunedepth.errors import TunedepthError
from tunedepth.report import write_report
from tunedepth.results import RESULT_COLUMNS, RunSpec, StudyStore
from tunedepth.study import StudyProgress, StudySummary, run_study
from tunedepth.training import EpochRecord

__all__ = ["app", "main", "run"]


# The recommendation's walks, as a choice for typer; built from the library's list so the two cannot drift.
DepthRule = enum.StrEnum("DepthRule", {rule: rule for rule in DEPTH_RULES})  # type: ignore[misc]
DepthMetric = enum.StrEnum("DepthMetric", {metric: metric for metric in DEPTH_METRICS})  # type: ignore[misc]


class _RichProgress(StudyProgress):
    """Two bars: runs of the study, epochs of the current run; drawn once the study has passed its checks."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.study_task: Any = None
        self.run_task: Any = None
        self.run_total = 0

    def study_started(self, n_runs: int, n_done: int) -> None:
        self.progress.start()
        self.study_task = self.progress.add_task("runs", total=n_runs, completed=n_done)
        if n_done:
            self.progress.console.print(f"{n_done} of {n_runs} runs already finished; resuming.")

    def run_started(self, spec: RunSpec, run_id: str, max_epochs: int) -> None:
        if self.run_task is not None:
            self.progress.remove_task(self.run_task)
        desc = f"{spec.label} @ {spec.train_fraction:g}, seed {spec.seed}"
        self.run_total = max_epochs
        self.run_task = self.progress.add_task(desc, total=max_epochs)

    def epoch_ended(self, spec: RunSpec, record: EpochRecord) -> None:
        # min_iterations can carry a run past max_epochs: grow the bar instead of overflowing it.
        self.run_total = max(self.run_total, record.epoch)
        self.progress.update(self.run_task, completed=record.epoch, total=self.run_total,
                             description=f"{spec.label} @ {spec.train_fraction:g}: val AUC {record.val_score:.3f}")

    def run_ended(self, spec: RunSpec, metrics: dict[str, Any]) -> None:
        self.progress.advance(self.study_task)
        if metrics.get("failed"):
            self.progress.console.print(
                f"{spec.label:>16} @ {spec.train_fraction:<5g} seed {spec.seed}: FAILED ({metrics['error']}: "
                f"{metrics['reason']}); the study goes on", markup=False, highlight=False, soft_wrap=True)
            return
        # The task's own test metrics (FROC sensitivities, boundary errors, ...): every numeric "test_" entry beyond
        # the columns every run has.
        task = "".join(f", {key.removeprefix('test_')} {value:.3f}" for key, value in metrics.items()
                       if key.startswith("test_") and key not in RESULT_COLUMNS and isinstance(value, int | float))
        self.progress.console.print(
            f"{spec.label:>16} @ {spec.train_fraction:<5g} seed {spec.seed}: test AUC {metrics['test_auc']:.4f} "
            f"(val {metrics['val_auc']:.4f}, best epoch {metrics['best_epoch']}, "
            f"{metrics['train_seconds']:.0f} s){task}", markup=False, highlight=False, soft_wrap=True,
        )


def _summary_table(summary: StudySummary) -> Table:
    frame = summary.results
    table = Table(title="test AUC (rows: regime; columns: train_fraction)")
    fractions = sorted(frame["train_fraction"].unique(), reverse=True)
    table.add_column("regime")
    for f in fractions:
        table.add_column(f"{f:g}", justify="right")
    order = frame.drop_duplicates("label").sort_values(["regime", "depth"], ascending=[False, True])["label"]
    for label in order:
        cells = []
        for f in fractions:
            sel = frame[(frame["label"] == label) & (frame["train_fraction"] == f)]["test_auc"]
            cells.append("-" if sel.empty else f"{sel.mean():.4f}")
        table.add_row(label, *cells)
    return table


def _task_summary_table(title: str, frame: pd.DataFrame) -> Table:
    """A task's summary (display strings; the first column names the rows) as a table."""
    table = Table(title=title)
    for k, column in enumerate(frame.columns):
        table.add_column(str(column), justify="left" if k == 0 else "right")
    for row in frame.itertuples(index=False):
        table.add_row(*(str(cell) for cell in row))
    return table


def _failures_table(failures: pd.DataFrame) -> Table:
    table = Table(title="failed runs (reason and traceback in each run's folder)")
    for column in ("run_id", "label", "train_fraction", "seed", "error", "reason"):
        table.add_column(column, overflow="fold")
    for row in failures.itertuples(index=False):
        table.add_row(str(row.run_id), str(row.label), f"{row.train_fraction:g}", str(row.seed), str(row.error),
                      str(row.reason))
    return table


def _run(study_file: Path, out: Path | None, *, retry_failed: bool = False) -> None:
    config = load_study(study_file)
    out_dir = out if out is not None else DEFAULT_OUT / config.name
    # elapsed, then left: rich's estimate from the pace of the bar (runs finished, or epochs of the run)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
               TextColumn("left"), TimeRemainingColumn())
    progress = Progress(*columns, console=err_console, transient=False)
    try:
        summary = run_study(config, out_dir, progress=_RichProgress(progress), retry_failed=retry_failed)
    except OSError as exc:
        if exc.filename is None:  # a disk full while writing or syncing names no file: name the study folder
            exc.filename = str(out_dir)
        raise
    finally:
        if progress.live.is_started:
            progress.stop()
    n_failed = len(summary.failures)
    if summary.results.empty:
        _report_failures(summary.failures, out_dir, "no run finished, so there is nothing to analyse")
    console.print(_summary_table(summary))
    skipped_failed = f", {summary.n_skipped_failed} failed before (not retried)" if summary.n_skipped_failed else ""
    console.print(f"{summary.n_executed} runs executed, {summary.n_skipped - summary.n_skipped_failed} already "
               f"finished{skipped_failed}.")
    console.print(f"Results: {summary.results_path.resolve()}", soft_wrap=True)
    analysis = analyze_study(summary.out_dir)
    task = ANALYSIS_TASKS.get(analysis.task)
    if task.summary is not None:
        console.print(_task_summary_table(*task.summary(analysis.task_tables)))
    _print_analysis(analysis)
    _print_report(write_report(summary.out_dir, analysis=analysis))
    if n_failed:
        _report_failures(summary.failures, out_dir, "the analysis and report above leave them out")


def _report_failures(failures: pd.DataFrame, out_dir: Path, consequence: str) -> None:
    """Print the failed runs, then one line on stderr, and exit with code 1."""
    console.print(_failures_table(failures))
    err_console.print(f"error: {len(failures)} run(s) failed, listed in {StudyStore(out_dir).failures_path.resolve()}; "
               f"{consequence}. Fix the cause, then run again with --retry-failed.",
               markup=False, highlight=False, soft_wrap=True)
    raise typer.Exit(1)


def _print_report(path: Path) -> None:
    console.print(f"Report: {path.resolve()}", markup=False, highlight=False, soft_wrap=True)


def _print_analysis(analysis: StudyAnalysis) -> None:
    console.print("Recommendation (depth chosen on validation, scored on test):" if analysis.methods.empty else
               "Recommendation (depth, then tuning method, chosen on validation, scored on test):")
    for sentence in analysis.sentences:
        console.print(f"  {sentence}", markup=False, highlight=False, soft_wrap=True)
    files = ANALYSIS_FILES + tuple(f"{name}.csv" for name in analysis.task_tables) + (
        () if analysis.methods.empty else ("methods.csv",))
    console.print(f"Tables: {', '.join(files)} in {analysis.study_dir}", markup=False, highlight=False, soft_wrap=True)
    failures = StudyStore(Path(analysis.study_dir)).failures_path
    if failures.is_file():
        n_failed = len(pd.read_csv(failures, dtype=str))
        console.print(f"Left out: {n_failed} failed run(s), listed in {failures}.", markup=False, highlight=False,
                   soft_wrap=True)


@app.command()
def study(
    study_file: Annotated[Path, typer.Argument(help="TOML study file (see examples/full.toml).")],
    out: Annotated[Path | None, typer.Option("--out", help="Study folder. Default: tunedepth-out/<name>.")] = None,
    retry_failed: Annotated[bool, typer.Option(
        "--retry-failed", help="Also re-run the runs that failed before (listed in failures.csv); by default a "
                               "resume skips them.")] = False,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    """Run every regime x depth x train_fraction x seed of a study; resumes where it stopped.

    A run that fails (e.g. its loss becomes NaN) is recorded in its folder and the others go on; the command
    then exits with code 1.
    """
    setup_logging(verbose)
    _run(study_file, out, retry_failed=retry_failed)


@app.command()
def demo(
    out: Annotated[Path | None, typer.Option("--out", help="Study folder. Default: tunedepth-out/demo.")] = None,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log progress details.")] = False,
) -> None:
    """Run the demo study (examples/demo.toml): PneumoniaMNIST, EfficientNet-Lite0, scratch vs every depth."""
    setup_logging(verbose)
    with as_file(files("tunedepth") / "examples" / "demo.toml") as path:
        _run(path, out)


AlphaOption = Annotated[float | None, typer.Option(
    "--alpha", help="Significance level of the recommendation (its tests and confidence set), of its test against "
                    "scratch and of the significance table. Default: the study file's \\[analysis] alpha (0.05 "
                    "unless set)."
)]
RuleOption = Annotated[DepthRule | None, typer.Option(
    "--rule", help="How the depth is chosen on validation: 'best' (best validation score), 'shallowest_in_set' "
                   "(shallowest depth not significantly worse than the best), 'lookahead' (walk: every deeper depth "
                   "vs the current one, Holm) or 'stepwise' (walk: the next depth only). Default: the study file's "
                   "\\[analysis] depth_rule."
)]
MetricOption = Annotated[DepthMetric | None, typer.Option(
    "--metric", help="What depths are compared on per validation case: 'auc', 'log_loss' or 'brier'. Default: the "
                     "study file's \\[analysis] depth_metric."
)]
CrossFitOption = Annotated[bool | None, typer.Option(
    "--cross-fit/--no-cross-fit", help="Choose each run's epoch and the depth on disjoint halves of the validation "
                                       "cases. Default: the study file's \\[analysis] cross_fit."
)]

@app.command()
def recommend(study_dir: StudyDirArgument, alpha: AlphaOption = None, rule: RuleOption = None,
              metric: MetricOption = None, cross_fit: CrossFitOption = None, verbose: VerboseOption = False) -> None:
    """Recommend a fine-tuning depth per training fraction; write the score and significance tables."""
    setup_logging(verbose)
    _print_analysis(analyze_study(study_dir, alpha=alpha, depth_rule=rule.value if rule else None,
                                  depth_metric=metric.value if metric else None, cross_fit=cross_fit))


@app.command()
def report(study_dir: StudyDirArgument, alpha: AlphaOption = None, rule: RuleOption = None,
           metric: MetricOption = None, cross_fit: CrossFitOption = None, verbose: VerboseOption = False) -> None:
    """Write the study's self-contained report.html (and the CSV tables) into its folder."""
    setup_logging(verbose)
    _print_report(write_report(study_dir, alpha=alpha, depth_rule=rule.value if rule else None,
                               depth_metric=metric.value if metric else None, cross_fit=cross_fit))


@app.command()
def plan(
    study_file: Annotated[Path, typer.Argument(help="TOML study file (see examples/full.toml).")],
    out: Annotated[Path | None, typer.Option("--out", help="Study folder. Default: tunedepth-out/<name>.")] = None,
    probe: Annotated[bool, typer.Option("--probe/--no-probe", help="Measure a few mini-batches per cost class "
                                        "to estimate the time (default), or only count the runs.")] = True,
) -> None:
    """What `tunedepth study` would run, and about how long it would take; runs and writes nothing.

    The runs by training fraction and regime, how many are already finished in the output folder, which take their
    frozen prefix from the feature cache, and an estimate of the time from a short measured probe on this machine
    (an upper bound where early stopping ends runs before max_epochs; see tunedepth/study/plan.py).
    """
    from collections import defaultdict

    from tunedepth.study.plan import plan_study

    config = load_study(study_file)
    out_dir = out if out is not None else DEFAULT_OUT / config.name
    study_plan = plan_study(config, out_dir, probe=probe)
    table = Table(title=f"plan of {config.name} ({out_dir})")
    for column in ("fraction", "regime", "runs", "finished", "failed", "cached groups", "est. per run"):
        table.add_column(column, overflow="fold")
    groups: dict[tuple[float, str], list[Any]] = defaultdict(list)
    for run in study_plan.runs:
        groups[(run.spec.train_fraction, run.spec.label)].append(run)
    for (fraction, label), runs in groups.items():
        todo = [r.seconds for r in runs if r.state == "to run"]
        table.add_row(f"{fraction:g}", label, str(len(runs)), str(sum(r.state == "finished" for r in runs)),
                      str(sum(r.state == "failed" for r in runs)), str(runs[0].cached_groups),
                      duration(float(np.mean(todo))) if todo and probe else "–")
    console.print(table)
    n, to_run = len(study_plan.runs), len(study_plan.to_run)
    line = f"{n} runs: {n - to_run} finished or failed before, {to_run} to run"
    if probe and to_run:
        line += (f"; estimated {duration(study_plan.seconds)} with {study_plan.workers} at once x "
                 f"{study_plan.threads} thread(s) (at most: runs that stop early take less)")
    console.print(line + ".", highlight=False, markup=False, soft_wrap=True)


@app.command()
def status(study_dir: StudyDirArgument) -> None:
    """Where a study stands: runs finished, running (where, for how long), failed and pending; elapsed and an
    estimate of the time left. Works while `tunedepth study` runs in the folder (any executor) or after."""
    from tunedepth.results import study_status

    state = study_status(study_dir)
    counts = {name: state.count(name) for name in ("finished", "running", "failed", "pending", "interrupted")}
    head = "running" if state.running else "not running"
    console.print(f"{state.root}: {head} ({state.executor}); " + ", ".join(f"{v} {k}" for k, v in counts.items() if v)
               + f" of {len(state.runs)} runs", soft_wrap=True, highlight=False, markup=False)
    if state.running:
        left = "unknown until a run finishes" if state.remaining != state.remaining else \
            f"about {duration(state.remaining)} (mean of the finished runs' times)"
        console.print(f"elapsed {duration(state.elapsed)}; left {left}", highlight=False, markup=False)
    for run in state.runs:
        if run.state in ("running", "interrupted"):
            where = f" on {run.host}, {duration(run.seconds)}" if run.state == "running" else " (study stopped)"
            console.print(f"  {run.state}: {run.label} @ {run.train_fraction:g}, seed {run.seed} [{run.run_id}]{where}",
                       highlight=False, markup=False, soft_wrap=True)


@app.command()
def models() -> None:
    """List architectures, their layer groups (input to output) and weight sources."""
    from tunedepth.models import get_architecture, list_architectures

    for name in list_architectures():
        arch = get_architecture(name)
        weights = ", ".join(["none", *sorted(arch.weight_sources), "checkpoint"])
        console.print(f"[bold]{name}[/bold]  {arch.description}", soft_wrap=True)
        console.print(f"  groups (input -> output, {len(arch.group_names)}): {' '.join(arch.group_names)}",
                   soft_wrap=True, highlight=False)
        console.print(f"  weights: {weights}", soft_wrap=True, highlight=False)


@app.command()
def datasets() -> None:
    """List data sources and known data sets, and which files are available locally."""
    from tunedepth.data import list_datasets

    table = Table(title="data sets")
    for col in ("source", "name", "task", "classes", "local files"):
        table.add_column(col)
    for row in list_datasets():
        if not row.supported:
            task = f"{row.task} (not supported yet)"
        else:
            task = row.task
        local = ", ".join(f"{size} px: {path}" if size else str(path) for size, path in row.local_files) or "-"
        table.add_row(row.source, row.name, task, "-" if row.n_classes is None else str(row.n_classes), local)
    console.print(table)


# using the answer (tunedepth/cli/answer.py)
app.command()(rerun)
app.command()(export)
app.command()(predict)


_DISK_FULL = {errno.ENOSPC, errno.EDQUOT}
_NO_PERMISSION = {errno.EACCES, errno.EPERM, errno.EROFS}
_WRONG_KIND = {errno.ENOTDIR, errno.EISDIR, errno.EEXIST}


def _os_error_line(exc: OSError) -> str | None:
    """One line for a file-system refusal a user can fix (disk full, no permission, a file where a folder is
    expected); None for any other OSError, which is a bug to report with its traceback. Atomic writes mean that
    nothing half-written is left behind, so the same command resumes once the cause is fixed."""
    where = exc.filename if exc.filename is not None else "a file of the study folder"
    reason = exc.strerror or type(exc).__name__
    if exc.errno in _DISK_FULL:
        return (f"cannot write {where}: {reason}; free space on that disk (or pass another --out), then run the "
                "same command again: finished runs are kept.")
    if exc.errno in _NO_PERMISSION:
        return (f"cannot access {where}: {reason}; fix its permissions or pass another --out (or data path), then "
                "run the same command again.")
    if exc.errno in _WRONG_KIND:
        return (f"cannot use {where}: {reason}; a file stands where a folder is expected (or the reverse): check "
                "--out and the paths in the study file.")
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the command line with ``argv``; return the exit code (2 for user errors)."""
    try:
        # Without standalone mode, click returns the code of a typer.Exit instead of raising it.
        code = app(args=argv, prog_name="tunedepth", standalone_mode=False)
    except TunedepthError as exc:
        err_console.print(f"error: {exc}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except typer.Exit as exc:
        return int(exc.exit_code)
    except OSError as exc:
        message = _os_error_line(exc)
        if message is None:
            raise
        err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
        return 2
    except (typer.Abort, KeyboardInterrupt):
        err_console.print("aborted", markup=False)
        return 130
    except Exception as exc:
        # Usage errors (missing argument, unknown option) from click, which typer vendors:
        # matched by behaviour rather than by class, so either click works.
        show, code = getattr(exc, "show", None), getattr(exc, "exit_code", None)
        if callable(show) and isinstance(code, int):
            show()
            return code
        raise
    return code if isinstance(code, int) else 0


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
