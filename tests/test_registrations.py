"""The registry hygiene of the tests themselves (tests/registrations.py): what a test registers into the
kinds' global registries is gone when it ends, so a later test listing kinds or checks (the README's
table, tests/deploy/test_docs.py) never sees it, whatever order pytest runs them in."""

from __future__ import annotations

import sys

import pytest

from shared.kinds import discover, kinds
from shared.kinds.base import Check
from tests.registrations import THROWAWAY, foreign_registrations, take_out, throwaway_kind


def test_the_throwaway_kind_is_taken_out_even_when_its_first_import_registered_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The leak this guards against: the module's first import registers the kind, so a test that only
    unregistered what it registered itself left it behind."""
    monkeypatch.delitem(sys.modules, "tests.kinds.throwaway_topic", raising=False)  # as in a fresh process
    with throwaway_kind() as module:
        assert kinds.get(THROWAWAY) is module.ThrowawayTopic
    assert THROWAWAY not in kinds and foreign_registrations() == []
    with throwaway_kind() as again:  # a later test: the cached module's class registered again
        assert kinds.get(THROWAWAY) is again.ThrowawayTopic
    assert THROWAWAY not in kinds


def test_a_check_a_test_adds_to_a_shipped_kind_is_named_and_taken_out() -> None:
    volume = discover().get("ebs-volume")
    probe = type("Probe", (Check,), {"__module__": __name__})
    volume.check("probe")(probe)
    try:
        assert foreign_registrations() == ["ebs-volume check probe"]
        take_out(foreign_registrations())
        assert "probe" not in volume.checks and foreign_registrations() == []
    finally:
        volume.checks.unregister("probe")


def test_the_shipped_kinds_are_all_ours() -> None:
    assert len(discover()) > 0 and foreign_registrations() == []
