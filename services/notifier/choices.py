"""A card's priced choices (issue 14): every remedy of the check with its net saving, what stays billed
and its undo, so a human picks the cheaper clean-up when the default one would lose money."""

from __future__ import annotations

from decimal import Decimal

from shared.events import CostEstimate, RemedyChoice


def money(value: Decimal) -> str:
    return f"${value:,.2f}"


def choice_label(choice: RemedyChoice) -> str:
    """A button's words for a remedy: what it does, what it saves, and when it cannot be undone."""
    words = choice.remedy.replace("-", " ").capitalize()
    undo = "" if choice.undo else ", cannot be undone"
    return f"{words} (saves {money(choice.net_monthly_saving_usd)}/mo{undo})"


def choices_text(cost: CostEstimate) -> str:
    """Every remedy, priced: the net saving, what stays billed, its undo (or that it has none)."""
    lines = []
    for index, choice in enumerate(cost.choices):
        net = choice.net_monthly_saving_usd
        verdict = f"saves {money(net)}/month" if net >= 0 else f"**loses {money(-net)}/month**: not offered"
        default = " (default)" if index == 0 and not cost.loses_money else ""
        kept = (
            f", keeps {money(choice.residual_monthly_usd)}/month billed"
            if choice.residual_monthly_usd
            else ""
        )
        undo = f"undo: {choice.undo}" if choice.undo else "**cannot be undone**"
        note = f"; {choice.note}" if choice.note else ""
        lines.append(f"• `{choice.remedy}`{default}: {verdict}{kept}; {undo}{note}")
    return "\n".join(lines)
