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
without tests) and the study's own recommendation rules (``lookahead``, ``stepwise``; tunedepth/analysis/recommend.py).

    .venv/bin/python benchmarks/bench_recommend.py --panel bench-out/quality
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


def _rules() -> dict[str, Callable[[Any, float], Any]]:
    from tunedepth.analysis import recommend_depths

    def fixed(pick: Callable[[list[Any]], Any]) -> Callable[[Any, float], Any]:
        return lambda study, fraction: pick(list(study.arms_at(fraction)))

    def best_val(study: Any, fraction: float) -> Any:
        def mean_val(arm: Any) -> float:
            values = [r.val_auc for r in study.runs_of(arm, train_fraction=fraction).values()]
            return sum(values) / len(values)
        return max(study.arms_at(fraction), key=mean_val)

    def walk(rule: str) -> Callable[[Any, float], Any]:
        def choose(study: Any, fraction: float) -> Any:
            for rec in recommend_depths(study, depth_rule=rule):
                if rec.train_fraction == fraction:
                    return rec.arm
            return None
        return choose

    return {
        "always full fine-tuning": fixed(lambda arms: max((a for a in arms if not a.is_scratch), key=lambda a: a.depth,
                                                          default=None)),
        "always depth 1": fixed(lambda arms: next((a for a in arms if not a.is_scratch and a.depth == 1), None)),
        "always scratch": fixed(lambda arms: next((a for a in arms if a.is_scratch), None)),
        "best validation AUC (no test)": best_val,
        "lookahead (today's default)": walk("lookahead"),
        "stepwise": walk("stepwise"),
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


def cells(panel: Path) -> list[dict[str, Any]]:
    """One row per (study, fraction, seed set, rule): regret and noise floor."""
    from tunedepth.errors import TunedepthError
    from tunedepth.results import load_finished_study

    rules = _rules()
    rows: list[dict[str, Any]] = []
    for folder in sorted(p for p in panel.iterdir() if (p / "results.csv").is_file()):
        try:
            full = load_finished_study(folder)
        except TunedepthError as exc:
            print(f"skipped {folder.name}: {exc}", file=sys.stderr)
            continue
        seeds = tuple(sorted({r.seed for r in full.runs}))
        halves = _halves(full.test_labels)
        for seed_set in [(s,) for s in seeds] + ([seeds] if len(seeds) > 1 else []):
            study = _subset(full, seed_set)
            for fraction in study.train_fractions:
                arms = study.arms_at(fraction)
                aucs = [{arm: _half_auc(study, arm, fraction, h) for arm in arms} for h in halves]
                for name, rule in rules.items():
                    choice = rule(study, fraction)
                    if choice is None:
                        continue
                    regret, floor = [], []
                    for chose_on, scored_on in ((0, 1), (1, 0)):
                        oracle = max(arms, key=lambda a, k=chose_on: aucs[k][a])
                        held = aucs[scored_on]
                        regret.append(held[oracle] - held[choice])
                        floor.append(max(held.values()) - held[oracle])
                    rows.append({"study": folder.name, "fraction": fraction, "seeds": len(seed_set), "rule": name,
                                 "choice": study.label_of(choice), "regret": sum(regret) / 2,
                                 "noise_floor": sum(floor) / 2})
    return rows


def summarize(rows: list[dict[str, Any]]) -> str:
    import pandas as pd

    if not rows:
        return "No finished study in the panel yet.\n"
    frame = pd.DataFrame(rows)
    lines = ["| rule | seeds | cells | median regret | max regret | median noise floor |",
             "|---|---|---|---|---|---|"]
    for (rule, seeds), group in frame.groupby(["rule", "seeds"], sort=False):
        lines.append(f"| {rule} | {seeds} | {len(group)} | {group['regret'].median():.4f} | "
                     f"{group['regret'].max():.4f} | {group['noise_floor'].median():.4f} |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--panel", type=Path, default=REPO / "bench-out" / "quality",
                        help="folder of finished studies (default: the quality benchmark's)")
    args = parser.parse_args(argv)
    rows = cells(args.panel)
    sys.stdout.write(summarize(rows))
    if rows and any(math.isnan(r["regret"]) for r in rows):
        print("note: some cells have an undefined AUC on a half (NaN regret)", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
