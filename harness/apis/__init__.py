"""Each API's facts, in one home: ``freefin.py``, ``kaspi.py`` (the shape in ``facts.py``) and
``documents.py`` (where each API's seed, supplement and links are)."""

from __future__ import annotations

from harness.apis import freefin, kaspi
from harness.apis.facts import ApiFacts, ObjectRef, reachable

FACTS: dict[str, ApiFacts] = {"freefin": freefin.FACTS, "kaspi": kaspi.FACTS}

__all__ = ["FACTS", "ApiFacts", "ObjectRef", "reachable"]
