"""Regret of depth-selection rules on a panel of real studies (issue 15): how much test AUC a rule's choice loses
against the best choice, measured so that the oracle's own noise does not inflate it.

The panel is the finished studies of the quality benchmark (``benchmarks/bench_quality.py``: real MedMNIST data,
scratch and every depth, 3 fractions, 3 seeds). For every study, fraction and seed set (each seed alone, and all
seeds together), every rule chooses a regime from the **validation** predictions only; the test predictions only
score the choices:

* the test cases are split in two halves (seeded, stratified by label); the oracle is the regime of highest test
  AUC on one half (mean over the seed set's runs), and both the oracle's and the rule's choices are scored on the
  other half; regret = oracle's AUC - rule's AUC there, averaged over the two ways round;
* the **noise floor** is the oracle's own regret on the held-out half (best regime on that half - the oracle's
  choice from the other half): a rule cannot be expected to do better.

Rules: the trivial ones (always full fine-tuning, always depth 1, always scratch, the best single validation AUC
without tests) and the study's own rules (tunedepth/analysis/recommend.py): ``lookahead`` and ``stepwise`` on
validation AUC as before, and ``best``, ``shallowest_in_set`` and ``lookahead`` on each ``depth_metric`` (auc,
log_loss, brier), without and with cross-fitting.

Besides regret, each cell records the verdict against scratch on test of the rule's choice and of the best depth on
test (significant better / worse / not, at ``--alpha``): a rule *agrees with test* in a cell where test's verdict
is significant when its own verdict is the same (a rule that always says "not significant" scores 0 there); and
the size of the confidence set, for the study's own rules, and whether it holds the best depth on test (what a
one-seed sentence that names the set promises).

    .venv/bin/python benchmarks/bench_recommend.py --panel bench-out/quality \
        --csv benchmarks/results/recommend_cells.csv
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SPLIT_SEED = 0


def _subset(study: Any, seeds: tuple[int, ...]) -> Any:
    """The study with only the runs of ``seeds``."""
    runs = tuple(r for r in study.runs if r.seed in seeds)
    results = study.results[study.results["seed"].isin(seeds)]
    return dataclasses.replace(study, runs=runs, results=results)


RULES_BY_SETTING = [  # (depth_rule, depth_metric, cross_fit): the study's own rules, legacy first
    ("lookahead", "auc", False), ("stepwise", "auc", False),
    *((rule, metric, fit) for rule in ("best", "shallowest_in_set", "lookahead")
      for metric in ("auc", "log_loss", "brier") for fit in (False, True)
      if (rule, metric, fit) != ("lookahead", "auc", False)),
]


def rule_name(rule: str, metric: str, cross_fit: bool) -> str:
    return f"{rule} · {metric}{' · cross-fit' if cross_fit else ''}"


def _trivial() -> dict[str, Callable[[Any, float], Any]]:
    def fixed(pick: Callable[[list[Any]], Any]) -> Callable[[Any, float], Any]:
        return lambda study, fraction: pick(list(study.arms_at(fraction)))

    def best_val(study: Any, fraction: float) -> Any:
        def mean_val(arm: Any) -> float:
            values = [r.val_auc for r in study.runs_of(arm, train_fraction=fraction).values()]
            return sum(values) / len(values)
        return max((a for a in study.arms_at(fraction) if not a.is_scratch), key=mean_val, default=None)

    return {
        "always full fine-tuning": fixed(lambda arms: max((a for a in arms if not a.is_scratch), key=lambda a: a.depth,
                                                          default=None)),
        "always depth 1": fixed(lambda arms: next((a for a in arms if not a.is_scratch and a.depth == 1), None)),
        "always scratch": fixed(lambda arms: next((a for a in arms if a.is_scratch), None)),
        "best validation AUC, no tests (trivial)": best_val,
    }


def _halves(labels: Any) -> tuple[Any, Any]:
    import numpy as np

    rng = np.random.default_rng(SPLIT_SEED)
    first = []
    for label in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == label))
        first.extend(idx[: len(idx) // 2].tolist())
    mask = np.zeros(labels.size, dtype=bool)
    mask[first] = True
    return np.flatnonzero(mask), np.flatnonzero(~mask)


def _half_auc(study: Any, arm: Any, fraction: float, idx: Any) -> float:
    from tunedepth.evaluation import roc_auc_score

    runs = study.runs_of(arm, train_fraction=fraction).values()
    values = [roc_auc_score(study.test_labels[idx], r.test_scores[idx]) for r in runs]
    return sum(values) / len(values)


def _verdict(comparison: Any, alpha: float) -> int:
    """+1 / -1 when significantly better / worse than scratch on test, 0 otherwise (or untestable)."""
    if comparison is None or math.isnan(comparison.p_value) or comparison.p_value >= alpha:
        return 0
    return 1 if comparison.difference > 0 else -1


def _cells_of(name: str, full: Any, halves: tuple[Any, Any], alpha: float) -> list[dict[str, Any]]:
    from tunedepth.analysis import compare_regimes, recommend_depths

    rows: list[dict[str, Any]] = []
    seeds = tuple(sorted({r.seed for r in full.runs}))
    for seed_set in [(s,) for s in seeds] + ([seeds] if len(seeds) > 1 else []):
        study = _subset(full, seed_set)
        choices: dict[str, dict[float, tuple[Any, int | None]]] = {}
        for rule_label, rule in _trivial().items():
            choices[rule_label] = {f: (rule(study, f), None) for f in study.train_fractions}
        for setting in RULES_BY_SETTING:
            recs = recommend_depths(study, alpha=alpha, depth_rule=setting[0], depth_metric=setting[1],
                                    cross_fit=setting[2], n_boot=500)
            choices[rule_name(*setting)] = {r.train_fraction: (r.arm, r.confidence_set) for r in recs}
        for fraction in study.train_fractions:
            if not _complete(full, fraction, seed_set):
                continue
            arms = study.arms_at(fraction)
            depths = [a for a in arms if not a.is_scratch]
            scratch = next((a for a in arms if a.is_scratch), None)
            if not depths:
                continue
            aucs = [{arm: _half_auc(study, arm, fraction, h) for arm in arms} for h in halves]
            best_on_test = max(depths, key=lambda a: _mean_test_auc(study, a, fraction))
            truth = 0 if scratch is None else _verdict(
                compare_regimes(study, best_on_test, scratch, train_fraction=fraction, split="test"), alpha)
            for rule_label, by_fraction in choices.items():
                choice, the_set = by_fraction.get(fraction, (None, None))
                if choice is None:
                    continue
                regret, floor = [], []
                for chose_on, scored_on in ((0, 1), (1, 0)):
                    oracle = max(arms, key=lambda a, k=chose_on: aucs[k][a])
                    held = aucs[scored_on]
                    regret.append(held[oracle] - held[choice])
                    floor.append(max(held.values()) - held[oracle])
                said = 0
                if scratch is not None and choice != scratch:
                    said = _verdict(compare_regimes(study, choice, scratch, train_fraction=fraction, split="test"),
                                    alpha)
                rows.append({"study": name, "fraction": fraction, "seeds": len(seed_set),
                             "seed_set": "+".join(str(s) for s in seed_set), "rule": rule_label,
                             "choice": study.label_of(choice), "regret": sum(regret) / 2,
                             "noise_floor": sum(floor) / 2, "test_verdict": truth, "rule_verdict": said,
                             "set_size": None if the_set is None else len(the_set),
                             "set_has_best": None if the_set is None else study.label_of(best_on_test) in the_set})
    return rows


def _mean_test_auc(study: Any, arm: Any, fraction: float) -> float:
    runs = study.runs_of(arm, train_fraction=fraction).values()
    return sum(r.test_auc for r in runs) / len(runs)


def _cache_epoch_predictions() -> None:
    """Every rule re-reads the runs' per-epoch predictions: keep them in memory for the benchmark's process."""
    from tunedepth.results import FinishedStudy

    read = FinishedStudy.run_epoch_log_odds
    cache: dict[tuple[str, str, str], Any] = {}

    def cached(self: Any, run_id: str, split: Any) -> Any:
        key = (str(self.root), run_id, split)
        if key not in cache:
            cache[key] = read(self, run_id, split)
        return cache[key]

    FinishedStudy.run_epoch_log_odds = cached  # type: ignore[method-assign]


def _load_partial(folder: Path, scratch: Path) -> Any:
    """Every finished run of a study folder, whether the study has ended or not: a mirror of the folder (links to
    its study.json and runs) with a results.csv that lists every complete run, loaded as a finished study."""
    from tunedepth.results import StudyLayout, StudyStore, load_finished_study

    mirror = scratch / folder.name
    mirror.mkdir(parents=True)
    layout = StudyLayout(folder)
    (mirror / layout.study_json.name).symlink_to(layout.study_json.resolve())
    (mirror / layout.runs_dir.name).symlink_to(layout.runs_dir.resolve())
    store = StudyStore(mirror)
    store.write_results(sorted(p.name for p in layout.runs_dir.iterdir() if store.is_complete(p.name)))
    return load_finished_study(mirror)


def _complete(study: Any, fraction: float, seed_set: tuple[int, ...]) -> bool:
    """Whether every arm run at this fraction has a run for every seed of the set."""
    return all(set(seed_set) <= set(study.runs_of(arm, train_fraction=fraction)) for arm in study.arms_at(fraction))


def cells(panel: Path, *, alpha: float = 0.05, studies: list[str] | None = None) -> list[dict[str, Any]]:
    """One row per (study, fraction, seed set, rule): regret, noise floor, verdicts against scratch, set size.
    Studies still running count with their finished runs; a (fraction, seed set) counts when every arm has its
    runs. Folders named ``old-*`` (kept for the record, e.g. runs with a known defect) are not in the panel."""
    import tempfile
    import warnings

    from tunedepth.errors import TunedepthError

    _cache_epoch_predictions()
    rows: list[dict[str, Any]] = []
    folders = sorted(p for p in panel.iterdir() if (p / "study.json").is_file() and not p.name.startswith("old-"))
    scratch = Path(tempfile.mkdtemp(prefix="bench-recommend-"))
    for folder in folders:
        if studies and folder.name not in studies:
            continue
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                full = _load_partial(folder, scratch)
        except TunedepthError as exc:
            print(f"skipped {folder.name}: {exc}", file=sys.stderr)
            continue
        print(f"{folder.name}: {len(full.runs)} runs", file=sys.stderr, flush=True)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            rows += _cells_of(folder.name, full, _halves(full.test_labels), alpha)
    return rows


def summarize(rows: list[dict[str, Any]]) -> str:
    """The regret table: per rule and seed count, regret and regret above the noise floor (median, max), agreement
    with test's verdict against scratch, the confidence set's mean size."""
    import pandas as pd

    if not rows:
        return "No finished study in the panel yet.\n"
    frame = pd.DataFrame(rows)
    frame["excess"] = frame["regret"] - frame["noise_floor"]
    lines = ["| rule | seeds | cells | median regret | max regret | median floor | median excess | max excess | "
             "agrees with test (cells) | mean set size | set holds the best on test |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for (rule, seeds), group in frame.groupby(["rule", "seeds"], sort=False):
        significant = group[group["test_verdict"] != 0]
        agree = (significant["rule_verdict"] == significant["test_verdict"]).mean() if len(significant) else math.nan
        size = group["set_size"].dropna()
        holds = group["set_has_best"].dropna().astype(bool)
        lines.append(
            f"| {rule} | {seeds} | {len(group)} | {group['regret'].median():.4f} | {group['regret'].max():.4f} | "
            f"{group['noise_floor'].median():.4f} | {group['excess'].median():.4f} | {group['excess'].max():.4f} | "
            f"{agree:.0%} ({len(significant)}) | {size.mean() if len(size) else math.nan:.1f} | "
            f"{f'{holds.mean():.0%}' if len(holds) else '–'} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--panel", type=Path, default=REPO / "bench-out" / "quality",
                        help="folder of finished studies (default: the quality benchmark's)")
    parser.add_argument("--study", action="append", metavar="NAME", help="only this study of the panel (repeatable)")
    parser.add_argument("--csv", type=Path, help="also write every cell to this CSV file")
    parser.add_argument("--alpha", type=float, default=0.05, help="level of every rule's tests and of the verdicts")
    args = parser.parse_args(argv)
    rows = cells(args.panel, alpha=args.alpha, studies=args.study)
    if args.csv and rows:
        import pandas as pd

        pd.DataFrame(rows).to_csv(args.csv, index=False, float_format="%.6g")
    sys.stdout.write(summarize(rows))
    if rows and any(math.isnan(r["regret"]) for r in rows):
        print("note: some cells have an undefined AUC on a half (NaN regret)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
