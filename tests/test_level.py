"""The level alone decides which sources bind; the scenario runner and contract triage ask it."""

from __future__ import annotations

import types

import pytest

from harness.contract import context, triage
from harness.level import CHOICES, SOURCES, Level
from harness.scenarios import provenance
from harness.target import make_target

BINDS = {
    (Level.SPEC, "seed"): True,
    (Level.SPEC, "supplement"): False,
    (Level.SPEC, "http"): True,
    (Level.SPEC, "profile"): True,
    (Level.STRICT, "seed"): True,
    (Level.STRICT, "supplement"): True,
    (Level.STRICT, "http"): True,
    (Level.STRICT, "profile"): True,
}


@pytest.mark.parametrize(("level", "source"), sorted(BINDS))
def test_which_sources_bind_at_each_level(level: Level, source: str) -> None:
    assert level.binds(source) is BINDS[level, source]


def test_the_table_covers_every_level_and_source() -> None:
    assert {(Level(level), source) for level in CHOICES for source in SOURCES} == set(BINDS)


def test_an_unknown_source_or_level_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown source 'rfc'"):
        Level.SPEC.binds("rfc")
    with pytest.raises(ValueError, match="contract_level must be spec or strict, not 'lax'"):
        Level.of("lax")
    with pytest.raises(ValueError, match="contract_level"):
        make_target({"contract_level": "lax"}, bundled_url="http://127.0.0.1:1")


def test_a_target_is_held_to_a_level_given_as_a_plain_string() -> None:
    target = make_target({"contract_level": "strict"}, bundled_url="http://127.0.0.1:1")
    assert target.level is Level.STRICT
    assert make_target({}, bundled_url="http://127.0.0.1:1").level is Level.SPEC


def _scenario_binds(level: Level) -> bool:
    return provenance.Source("supplement", "/x").binding(level)


def _triage_keeps(level: Level, monkeypatch: pytest.MonkeyPatch) -> bool:
    """Whether the contract triage keeps, at ``level``, a failure only the supplement settles."""
    gaps: list[object] = []
    run = types.SimpleNamespace(
        api="freefin", level=level, report=types.SimpleNamespace(add_gap=gaps.append)
    )
    raw: dict[str, object] = {}
    context.register(raw, run)  # type: ignore[arg-type]
    case = types.SimpleNamespace(
        operation=types.SimpleNamespace(schema=types.SimpleNamespace(raw_schema=raw))
    )
    monkeypatch.setattr(triage, "_check_context", lambda run, case: None)
    monkeypatch.setattr(triage, "classify", lambda *args: "a gap the supplement settles")
    kept = triage.filter_failure(None, AssertionError("undocumented status"), case, None)  # type: ignore[arg-type]
    assert kept is not bool(gaps), "a failure is either kept or reported as a gap"
    return bool(kept)


def test_both_judges_ask_the_level(monkeypatch: pytest.MonkeyPatch) -> None:
    assert not _scenario_binds(Level.SPEC) and _scenario_binds(Level.STRICT)
    assert not _triage_keeps(Level.SPEC, monkeypatch) and _triage_keeps(Level.STRICT, monkeypatch)


@pytest.mark.parametrize(
    "broken",
    [lambda self, source: True, lambda self, source: source != "supplement"],
    ids=["everything-binds", "strict-forgets-the-supplement"],
)
def test_a_broken_level_changes_both_judges(broken, monkeypatch: pytest.MonkeyPatch) -> None:
    right = (
        _scenario_binds(Level.SPEC),
        _scenario_binds(Level.STRICT),
        _triage_keeps(Level.SPEC, monkeypatch),
        _triage_keeps(Level.STRICT, monkeypatch),
    )
    monkeypatch.setattr(Level, "binds", broken)
    wrong = (
        _scenario_binds(Level.SPEC),
        _scenario_binds(Level.STRICT),
        _triage_keeps(Level.SPEC, monkeypatch),
        _triage_keeps(Level.STRICT, monkeypatch),
    )
    assert right[:2] != wrong[:2] and right[2:] != wrong[2:]
