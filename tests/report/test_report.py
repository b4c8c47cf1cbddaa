"""`cloudthrift report` over a ledger the real pipeline wrote (tests/report/pipeline.py)."""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

from services.report.page import HEADLINE, lookup
from tests.report.conftest import Built
from tests.report.pipeline import SCRIPT_NAME

# The first test also waits for the module's pipeline run and four CLI runs (tests/report/conftest.py).
pytestmark = pytest.mark.timeout(300)


class Page(HTMLParser):
    """The figures (`data-figure` spans), every table's rows (cell texts), and every tag seen."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.figures: dict[str, str] = {}
        self.tables: dict[str, list[list[str]]] = {}
        self.tags: list[str] = []
        self._figure: str | None = None
        self._table: str | None = None
        self._cell: list[str] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        self.tags.append(tag)
        if "data-figure" in found:
            self._figure = found["data-figure"]
            self.figures[str(self._figure)] = ""
        if tag == "table":
            self._table = str(found.get("id"))
            self.tables[self._table] = []
        if tag == "tr" and self._table:
            self.tables[self._table].append([])
        if tag == "td":
            self._cell = []

    def handle_endtag(self, tag: str) -> None:
        if tag == "span":
            self._figure = None
        if tag == "td" and self._cell is not None and self._table:
            self.tables[self._table][-1].append("".join(self._cell).strip())
            self._cell = None
        if tag == "table":
            self._table = None

    def handle_data(self, data: str) -> None:
        if self._figure is not None:
            self.figures[self._figure] += data
        if self._cell is not None:
            self._cell.append(data)

    def rows(self, table: str) -> list[list[str]]:
        return [row for row in self.tables.get(table, []) if row]  # the header row has no td


def test_the_figures_in_the_html_equal_cloudthrift_savings_json(built: Built) -> None:
    page = Page(built.report.read_text())
    savings, seeded = built.savings, built.seeded

    assert set(page.figures) == {path for _, path, _, _ in HEADLINE} | {"dry_run.would_save_monthly_usd"}
    assert {path: text for path, text in page.figures.items()} == {
        path: lookup(savings, path) for path in page.figures
    }
    # ...and those are the pipeline's outcomes, real and rehearsed apart.
    assert savings["realised"]["executed"] == len(seeded.executed) == 3
    assert savings["dry_run"]["executed"] == len(seeded.dry_run) == 2
    assert savings["outcomes"] == {"EXECUTED": 5, "SKIPPED": 1}
    assert savings["pending"]["decisions"] == len(seeded.pending)
    assert savings["decision_time"]["decided"] == 2 + 3 + 1 + 1 + 1
    # Seconds of savings round to cents, but the curve is drawn: the chart is not the empty one.
    avoided = re.search(r'<figure id="chart-avoided".*?</figure>', built.report.read_text(), re.S)
    assert avoided is not None and "No real clean-up yet" not in avoided.group(0)


def test_real_clean_ups_and_dry_runs_are_listed_apart(built: Built) -> None:
    page = Page(built.report.read_text())
    resource = {pk: pk.rsplit("#", 1)[-1] for pk in built.seeded.executed + built.seeded.dry_run}

    cleaned = page.rows("cleaned-up")
    rehearsed = page.rows("dry-runs")

    assert sorted(row[2] for row in cleaned) == sorted(resource[pk] for pk in built.seeded.executed)
    assert sorted(row[2] for row in rehearsed) == sorted(resource[pk] for pk in built.seeded.dry_run)
    for row in cleaned:
        assert row[8] == "alice" and row[10] == "not undone"
        assert row[6] in {"snapshot_then_delete", "release"}
        assert row[9].startswith("snap-") == (row[6] == "snapshot_then_delete")
    pending = page.rows("pending")
    assert len(pending) == min(25, len(built.seeded.pending))
    assert [float(row[5].replace(",", "")) for row in pending] == sorted(
        (float(row[5].replace(",", "")) for row in pending), reverse=True
    )


def test_a_resource_named_like_a_script_is_text(built: Built) -> None:
    html = built.report.read_text()
    page = Page(html)

    assert "script" not in page.tags
    assert SCRIPT_NAME not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    names = [row[2] for row in page.rows("pending")]
    assert SCRIPT_NAME in names  # the parser unescaped it: a name in a cell, not an element


def test_the_file_references_nothing_outside_itself(built: Built) -> None:
    for report in (built.report, built.filtered, built.future):
        html = report.read_text()
        tags = set(Page(html).tags)
        assert not tags & {"script", "link", "img", "iframe", "object", "embed", "image", "audio", "video"}
        references = re.findall(r"""(?:src|href|xlink:href|action)\s*=\s*["']?([^"'\s>]*)""", html, re.I)
        assert all(ref.startswith("#") for ref in references), references
        assert "@import" not in html
        assert all(target.startswith("#") for target in re.findall(r"url\(\s*['\"]?([^)'\"]*)", html))
        assert "default-src 'none'" in html  # and the browser is told to refuse anything that tries


def test_filters_select_accounts_regions_kinds_and_periods(built: Built) -> None:
    html = built.filtered.read_text()
    page = Page(html)
    volumes = [pk for pk in built.seeded.executed if "#vol-" in pk]

    assert {row[0] for row in page.rows("pending")} == {"ebs-volume"}
    assert {row[1] for row in page.rows("cleaned-up") + page.rows("dry-runs")} == {"ebs-volume"}
    assert page.figures["realised.executed"] == str(len(volumes)) == "2"
    assert page.figures["outcomes.SKIPPED"] == "1"  # the volume deleted behind CloudThrift's back
    assert len(page.rows("dry-runs")) == 1
    assert "kinds: ebs-volume" in html and "regions: eu-west-1, us-east-1" in html

    nothing = Page(built.future.read_text())
    assert nothing.figures["pending.decisions"] == "0" and nothing.figures["realised.executed"] == "0"
    assert nothing.rows("pending") == [] and "No real clean-up yet" in built.future.read_text()


def test_the_report_is_one_file_the_cli_names(built: Built) -> None:
    assert built.report.is_file() and not Path(str(built.report) + ".partial").exists()
