"""The report in a real browser: it renders, draws every chart, and logs nothing to the console."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.report.browser import png_size, visit
from tests.report.conftest import Built

# The first test also waits for the module's pipeline run and four CLI runs (tests/report/conftest.py).
pytestmark = pytest.mark.timeout(300)

CHARTS = ("avoided", "realised", "pending", "decision")


def test_the_report_renders_every_chart_without_console_messages(built: Built, tmp_path: Path) -> None:
    screenshot = tmp_path / "report.png"

    shot = visit(built.report, tmp_path / "profile", f"--screenshot={screenshot}", "--window-size=1280,2400")
    dom = visit(built.report, tmp_path / "profile", "--dump-dom")

    assert shot.console == [] and dom.console == []
    width, height = png_size(screenshot)
    assert (width, height) == (1280, 2400) and screenshot.stat().st_size > 50_000
    for chart in CHARTS:
        found = re.search(rf'<figure id="chart-{chart}".*?</figure>', dom.output, re.S)
        assert found is not None, chart
        svg = found.group(0)
        assert re.search(rf'<svg[^>]*id="svg-{chart}"', svg) and svg.count("<path") > 20, chart
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom.output


def test_the_console_check_sees_errors_and_blocked_loads(tmp_path: Path) -> None:
    """The check above can fail: a script error and an outside image under the report's policy."""
    page = tmp_path / "bad.html"
    page.write_text(
        "<!DOCTYPE html><html><head><meta http-equiv='Content-Security-Policy' "
        "content=\"default-src 'none'; script-src 'unsafe-inline'\"></head><body>"
        "<img src='http://127.0.0.1:9/x.png'><script>console.error('boom')</script></body></html>"
    )

    console = visit(page, tmp_path / "profile", "--dump-dom").console

    assert any('"boom"' in line for line in console), console
    assert any("Content Security Policy" in line for line in console), console
