from __future__ import annotations

import base64
from html.parser import HTMLParser
from pathlib import Path

import numpy as np
import pytest

from tunedepth.analysis import analyze_study
from tunedepth.cli import main
from tunedepth.errors import UndefinedMetricWarning
from tunedepth.report import REPORT_FILE, write_report

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


class _Page(HTMLParser):
    """Collects the tags the tests look at: images, resource references, tables, sentences, header text."""

    def __init__(self) -> None:
        super().__init__()
        self.images: list[dict[str, str]] = []
        self.references: list[str] = []
        self.table_ids: list[str] = []
        self.sentences: list[str] = []
        self.header_text = ""
        self._stack: list[tuple[str, dict[str, str]]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "img":
            self.images.append(a)
        self.references += [a[k] for k in ("src", "href") if k in a]
        if tag == "table":
            self.table_ids.append(a.get("id", ""))
        if tag not in ("img", "meta", "br"):
            self._stack.append((tag, a))

    def handle_endtag(self, tag: str) -> None:
        if self._stack and self._stack[-1][0] == tag:
            self._stack.pop()

    def handle_data(self, data: str) -> None:
        if any(a.get("id") == "header" for _, a in self._stack):
            self.header_text += data
        if self._stack and self._stack[-1][1].get("class") == "sentence":
            self.sentences.append(data)


def _parse(path: Path) -> _Page:
    page = _Page()
    page.feed(path.read_text(encoding="utf-8"))
    return page


def test_report_is_self_contained_with_every_figure(toy_study):
    path = write_report(toy_study)
    assert path == toy_study / REPORT_FILE and path.is_file()
    assert (toy_study / "significance.csv").is_file()  # the analysis tables are written too
    page = _parse(path)
    # 2 fractions x (score vs depth, convergence, ROC, reliability, p-value heatmap) + score vs fraction
    kinds = [img.get("alt", "") for img in page.images]
    assert len(page.images) == 2 * 5 + 1, kinds
    assert sum(k.startswith("Reliability on the test set (lowest seed per regime, not pooled)") for k in kinds) == 2
    assert sum(k.startswith("Test AUC vs fine-tuning depth, the recommended depth starred") for k in kinds) == 2
    for img in page.images:
        src = img["src"]
        assert src.startswith("data:image/png;base64,")
        assert base64.b64decode(src.split(",", 1)[1], validate=True).startswith(PNG_SIGNATURE)
    assert not [ref for ref in page.references if ref.startswith(("http://", "https://", "//"))]
    assert "http://" not in path.read_text() and "https://" not in path.read_text()
    assert {"significance-table", "scores-table", "recommendation-details-table"} <= set(page.table_ids)
    assert "the depth of best validation score is chosen" in path.read_text()  # the default rule, stated
    analysis = analyze_study(toy_study)
    assert [s.strip() for s in page.sentences] == list(analysis.sentences)
    assert page.sentences[0].startswith("At 100% of the data")
    assert "toy4" in page.header_text
    assert "sha256" in page.header_text and "image_folder" in page.header_text
    assert "one seed per regime: intervals and paired tests are DeLong's" in page.header_text


def test_report_escapes_and_lists_nan_runs(synthetic_study):
    labels = np.array([0, 1] * 10)
    good = np.linspace(-1, 1, 20) + labels
    bad = good.copy()
    bad[0] = np.nan
    root = synthetic_study([
        ("scratch", 4, 1.0, 0, good, good),
        ("ft:<fc>", 1, 1.0, 0, good, bad),
    ], val_labels=labels, test_labels=labels)
    with pytest.warns(UndefinedMetricWarning):
        path = write_report(root)
    text = path.read_text()
    assert "<fc>" not in text and "&lt;fc&gt;" in text
    page = _parse(path)
    assert "ft:&lt;fc&gt; at 1, seed 0 (run run001): NaN test AUC" in text
    # the synthetic histories have no val_auc curve: the convergence figure is left out, with a note
    assert "Convergence at 1: no run has a history.csv" in text
    assert all(img["src"].startswith("data:image/png;base64,") for img in page.images)


def test_report_rejects_an_analysis_with_other_settings(toy_study):
    analysis = analyze_study(toy_study, alpha=0.01)
    with pytest.raises(ValueError, match="alpha"):
        write_report(toy_study, alpha=0.05, analysis=analysis)
    with pytest.raises(ValueError, match="depth_rule"):
        write_report(toy_study, depth_rule="stepwise", analysis=analysis)
    assert write_report(toy_study, alpha=0.01, analysis=analysis).is_file()


def test_cli_report(toy_study, capsys):
    assert main(["report", str(toy_study)]) == 0
    assert (toy_study / REPORT_FILE).is_file()
    assert "report.html" in capsys.readouterr().out


def test_cli_report_on_a_non_study_exits_2_with_one_line(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "not a tunedepth study" in err
    assert err.count("\n") == 1


def test_header_says_intervals_count_cases_and_seeds_with_several_seeds(synthetic_study):
    labels = np.array([0, 1] * 20)
    rng = np.random.default_rng(0)
    runs = [(label, depth, 1.0, seed, labels + rng.normal(size=40), labels + rng.normal(size=40))
            for label, depth in (("scratch", 4), ("ft:fc", 1)) for seed in (0, 1, 2)]
    page = _parse(write_report(synthetic_study(runs, val_labels=labels, test_labels=labels)))
    assert ("3 seeds per regime: AUCs are means over seeds; their intervals and the paired tests between regimes count "
            "both the finite set of cases (DeLong) and the variation between training runs") in page.header_text


def test_header_names_a_medmnist_data_set_by_its_flag(synthetic_study):
    import json

    labels = np.array([0, 1] * 10)
    root = synthetic_study([("scratch", 4, 1.0, 0, labels + 0.1, labels + 0.1)], val_labels=labels,
                           test_labels=labels)
    config = json.loads((root / "study.json").read_text())
    config["data"] = {"source": "medmnist", "flag": "pneumoniamnist", "size": 28, "image_size": 64}
    (root / "study.json").write_text(json.dumps(config))
    page = _parse(write_report(root))
    assert "medmnist: pneumoniamnist (28 px, resized to 64 px)" in page.header_text


def test_detection_report_shows_froc_table_figures_and_candidate_summary(detection_raw, tmp_path):
    from tunedepth.config import parse_study
    from tunedepth.study import run_study

    out = tmp_path / "out"
    run_study(parse_study(detection_raw, base_dir=tmp_path), out)
    html = write_report(out).read_text()
    assert "Detection: sensitivity at false positives per frame" in html
    assert html.count('alt="FROC curves on the test frames') == 2  # one figure per training fraction
    assert "Detection (frames, polyps, candidates)" in html
    assert html.index("train: 15 frames") < html.index("val: 6 frames") < html.index("test: 9 frames")


def test_segmentation_report_has_box_plots_and_the_table(segmentation_raw, tmp_path):
    from tunedepth.config import parse_study
    from tunedepth.study import run_study

    out = tmp_path / "out"
    run_study(parse_study(segmentation_raw, base_dir=tmp_path), out)
    html = write_report(out).read_text()
    assert "Segmentation: boundary error on the test images" in html
    assert html.count('alt="Boundary error per test image') == 2  # one per training fraction
    assert html.count('alt="Test images with reference and predicted boundaries') == 2
