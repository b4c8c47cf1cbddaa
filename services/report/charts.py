"""The report's four charts, drawn by matplotlib as inline SVG: no script, no font, no image to fetch.

Text is drawn as paths (`svg.fonttype = path`), so a chart looks the same on a machine without the
font, and nothing in it is markup a label could inject into (matplotlib also escapes the comments
it leaves beside each text). Each chart gets its own hash salt so the ids of its clip paths and
markers cannot collide with another chart's in the one HTML document.

matplotlib is imported inside the functions: only `cloudthrift report` pays for it, never a worker.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from datetime import datetime
from decimal import Decimal
from typing import Any

# Colour-blind-safe, one per kind in a stable order (Okabe-Ito).
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
_SIZE = (6.4, 3.0)


def _figure(name: str, ncols: int = 1) -> tuple[Any, Any]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=_SIZE, layout="constrained")
    axes = figure.subplots(1, ncols)
    for ax in axes if ncols > 1 else [axes]:
        ax.spines[["top", "right"]].set_visible(False)
        ax.grid(axis="y" if ncols == 1 else "x", color="#e5e5e5", linewidth=0.8)
        ax.set_axisbelow(True)
    return figure, axes


def _svg(figure: Any, name: str) -> str:
    """The figure as an `<svg>` element to inline in HTML (no XML prolog, no doctype, no metadata)."""
    import matplotlib

    buffer = io.StringIO()
    settings = {"svg.fonttype": "path", "svg.hashsalt": f"cloudthrift-{name}", "svg.id": f"svg-{name}"}
    with matplotlib.rc_context(settings):
        figure.savefig(
            buffer, format="svg", metadata={"Date": None, "Creator": None, "Format": None, "Type": None}
        )
    text = buffer.getvalue()
    return text[text.index("<svg") :]


def _empty(ax: Any, message: str) -> None:
    ax.set_xticks([])
    ax.set_yticks([])
    ax.spines[:].set_visible(False)
    ax.text(0.5, 0.5, message, ha="center", va="center", color="#666666", transform=ax.transAxes)


def _usd_axis(ax: Any, largest: float, axis: str = "y") -> None:
    """Dollars on an axis: whole dollars, cents for small amounts, and finer for what a clean-up
    of a few minutes has avoided (a demo's)."""
    from matplotlib.ticker import StrMethodFormatter

    decimals = 0 if largest >= 20 else 2 if largest >= 0.2 else 4
    getattr(ax, f"{axis}axis").set_major_formatter(StrMethodFormatter(f"${{x:,.{decimals}f}}"))


def _duration_unit(largest_hours: float) -> tuple[str, float]:
    """Hours, unless every wait is shorter than one (minutes) or than a minute (seconds)."""
    if largest_hours >= 1:
        return "hours", 1.0
    if largest_hours >= 1 / 60:
        return "minutes", 60.0
    return "seconds", 3600.0


def avoided_over_time(series: Sequence[tuple[datetime, Decimal]]) -> str:
    """Cost avoided to date, cumulative: exact at each clean-up and undo, linear in between."""
    figure, ax = _figure("avoided")
    if len(series) < 2:
        _empty(ax, "No real clean-up yet")
    else:
        from matplotlib.dates import AutoDateLocator, ConciseDateFormatter

        when = [point for point, _ in series]
        total = [float(amount) for _, amount in series]
        ax.plot(when, total, color=PALETTE[0], linewidth=2)
        ax.fill_between(when, total, color=PALETTE[0], alpha=0.15)
        ax.set_ylim(bottom=0)
        locator = AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(ConciseDateFormatter(locator))
        _usd_axis(ax, max(total))
    return _svg(figure, "avoided")


def realised_by_month(by_month_and_kind: Mapping[str, Mapping[str, Decimal]]) -> str:
    """Monthly savings realised by the clean-ups of each month, stacked by kind."""
    figure, ax = _figure("realised")
    months = sorted(by_month_and_kind)
    kinds = sorted({kind for per_kind in by_month_and_kind.values() for kind in per_kind})
    if not months:
        _empty(ax, "No real clean-up yet")
    else:
        bottom = [0.0] * len(months)
        for index, kind in enumerate(kinds):
            heights = [float(by_month_and_kind[month].get(kind, 0)) for month in months]
            color = PALETTE[index % len(PALETTE)]
            ax.bar(months, heights, bottom=bottom, label=kind, color=color, width=0.6)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        ax.legend(frameon=False, fontsize="small")
        _usd_axis(ax, max(bottom))
        ax.set_ylabel("$ per month")
    return _svg(figure, "realised")


def pending_waste(by_account: Mapping[str, Decimal], by_kind: Mapping[str, Decimal]) -> str:
    """Monthly waste still waiting on a human: by account on the left, by kind on the right."""
    figure, (left, right) = _figure("pending", ncols=2)
    for ax, values, title in ((left, by_account, "by account"), (right, by_kind, "by kind")):
        ax.set_title(title, fontsize="medium")
        if not values:
            _empty(ax, "Nothing pending")
            continue
        names = sorted(values, key=lambda name: values[name])[-10:]  # the ten largest, largest on top
        amounts = [float(values[name]) for name in names]
        ax.barh(names, amounts, color=PALETTE[1], height=0.6)
        _usd_axis(ax, max(amounts), "x")
    return _svg(figure, "pending")


def decision_time(hours: Sequence[float], median: float | None, p90: float | None) -> str:
    """How long findings wait for a human: a histogram, with the median and 90th percentile marked."""
    figure, ax = _figure("decision")
    if not hours or median is None or p90 is None:
        _empty(ax, "No decision taken yet")
    else:
        unit, scale = _duration_unit(max(hours))
        ax.hist([value * scale for value in hours], bins=min(20, max(5, len(hours))), color=PALETTE[4])
        for value, name, style, color in (
            (median, "median", "-", PALETTE[0]),
            (p90, "90th percentile", "--", PALETTE[5]),
        ):
            label = f"{name} {value * scale:.1f} {unit}"
            ax.axvline(value * scale, color=color, linewidth=2, linestyle=style, label=label)
        ax.set_xlabel(f"{unit} from first sighting to decision")
        ax.set_ylabel("decisions")
        ax.legend(frameon=False, fontsize="small")
    return _svg(figure, "decision")
