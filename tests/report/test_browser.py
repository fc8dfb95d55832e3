"""The report opened in a real browser: every figure decodes and has a size, every table is there.

A headless Chromium (Debian's ``chromium``; ``.ci/run`` installs it with apt when absent) loads a copy of the
report with a small script appended that, on the page's ``load`` event, writes what the browser rendered (each
image's ``complete`` flag and natural size, each table's id and row count) into the page as JSON;
``--dump-dom`` prints the page after that script ran. The test is skipped, with the reason, only where no
Chromium is installed. ``TUNEDEPTH_BROWSER`` names another Chromium-family binary.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tunedepth.report import REPORT_FILE, write_report

_CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")

# Flags for a root, sandbox-less, offline container: no sandbox (no user namespaces), no GPU, no first-run
# or background network traffic, no crash reporter.
_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
          "--disable-background-networking", "--disable-component-update", "--disable-sync",
          "--disable-breakpad", "--mute-audio", "--hide-scrollbars")

_PROBE = """
<script>
window.addEventListener("load", function () {
  var images = Array.from(document.images).map(function (img) {
    return {alt: img.alt, complete: img.complete, width: img.naturalWidth, height: img.naturalHeight};
  });
  var tables = Array.from(document.querySelectorAll("table")).map(function (t) {
    return {id: t.id, rows: t.tBodies.length ? t.tBodies[0].rows.length : 0};
  });
  var out = document.createElement("pre");
  out.id = "browser-probe";
  out.textContent = "PRO" + "BE" + JSON.stringify({images: images, tables: tables}) + "EBO" + "RP";
  document.body.appendChild(out);
});
</script>
"""


def _browser() -> str | None:
    named = os.environ.get("TUNEDEPTH_BROWSER")
    if named:
        return shutil.which(named) or named
    return next((path for name in _CANDIDATES if (path := shutil.which(name))), None)


def _run_browser(browser: str, args: list[str], profile: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([browser, *_FLAGS, f"--user-data-dir={profile}", *args], capture_output=True, text=True,
                          timeout=180, check=False)


@pytest.fixture
def browser() -> str:
    path = _browser()
    if path is None:
        pytest.skip(f"no Chromium-family browser found (looked for {', '.join(_CANDIDATES)} and $TUNEDEPTH_BROWSER); "
                    "`.ci/run` installs Debian's chromium with apt where it can")
    return path


def test_report_renders_every_figure_and_table_in_a_real_browser(toy_study, browser, tmp_path):
    report = write_report(toy_study)
    probed = tmp_path / "probed.html"
    probed.write_text(report.read_text(encoding="utf-8").replace("</body>", _PROBE + "</body>"), encoding="utf-8")
    result = _run_browser(browser, ["--virtual-time-budget=10000", "--dump-dom", probed.as_uri()],
                          tmp_path / "profile")
    match = re.search(r"PROBE(.*?)EBORP", result.stdout, re.DOTALL)
    assert match, f"the browser printed no probe result (exit {result.returncode}): {result.stderr[-2000:]}"
    probe = json.loads(match.group(1))
    images = probe["images"]
    assert len(images) == 2 * 5 + 1  # 2 fractions x (score vs depth, convergence, ROC, reliability, p-values)
    # + score vs fraction
    for image in images:
        assert image["complete"] and image["width"] > 100 and image["height"] > 100, image
    tables = {t["id"]: t["rows"] for t in probe["tables"]}
    assert tables["scores-table"] == 6  # 2 fractions x (scratch, ft:fc, ft:conv1-fc)
    assert tables["significance-table"] == 6  # 2 fractions x 3 pairs
    assert tables["recommendation-details-table"] == 2


def test_report_screenshot_is_a_drawn_page(toy_study, browser, tmp_path):
    # The README's screenshot (docs/images/report-demo.png) is made the same way; this checks the command works.
    report = write_report(toy_study)
    shot = tmp_path / "report.png"
    result = _run_browser(browser, ["--window-size=1200,1600", f"--screenshot={shot}", report.as_uri()],
                          tmp_path / "profile")
    assert shot.is_file(), f"no screenshot (exit {result.returncode}): {result.stderr[-2000:]}"
    from PIL import Image

    with Image.open(shot) as image:
        assert image.size == (1200, 1600)
        colours = image.convert("L").getcolors(maxcolors=1 << 16)
    assert colours is None or len(colours) > 10  # not a blank page
    assert REPORT_FILE == report.name
