"""The level a target is held to, and the one decision it makes: does a source bind.

Every judgement names where it comes from (its *source*): the API's ``seed`` document, the
project's ``supplement`` (what the seed leaves open, settled one way), ``http`` (semantics every
API inherits) or the target's own ``profile``. At level ``spec`` every source but the supplement
binds; at ``strict`` all do. A mismatch with a source that does not bind is a *departure*:
reported, never a failure. The scenario runner and the contract suite's triage both ask
:meth:`Level.binds`; nothing else compares level names.
"""

from __future__ import annotations

import enum

SEED = "seed"
SUPPLEMENT = "supplement"
HTTP = "http"
PROFILE = "profile"
SOURCES = (SEED, SUPPLEMENT, HTTP, PROFILE)


class Level(enum.StrEnum):
    """``spec``: the seed documents alone; ``strict``: the seeds plus their supplements."""

    SPEC = "spec"
    STRICT = "strict"

    def binds(self, source: str) -> bool:
        """Whether a mismatch with an assertion from ``source`` fails the run at this level
        (otherwise it is a departure)."""
        if source not in SOURCES:
            raise ValueError(f"unknown source {source!r}: one of {', '.join(SOURCES)}")
        return self is Level.STRICT or source != SUPPLEMENT

    @classmethod
    def of(cls, value: str | Level) -> Level:
        """``value`` as a Level; a ValueError naming the levels otherwise."""
        try:
            return cls(value)
        except ValueError:
            named = " or ".join(CHOICES)
            raise ValueError(f"contract_level must be {named}, not {value!r}") from None


CHOICES: tuple[str, ...] = tuple(level.value for level in Level)
