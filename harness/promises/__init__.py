"""What each seed document promises: the catalogue the coverage map is drawn over.

Three kinds of promise, each with a stable id and a JSON pointer into its seed:

* ``operation``: each operation with each status it documents (``POST /v1/invoices 201``),
  read from the seed itself;
* ``transition``: each lifecycle move the seed's enums and descriptions imply;
* ``behaviour``: each behaviour its descriptions state (idempotent replay, signatures, ...).

The last two are written in ``<api>.yaml`` beside this module; every pointer must resolve.
Every contract check and scenario names the promises it proves; :mod:`.coverage` turns a
finished run into proved, failed or not exercised per promise, with the reason.
"""

from __future__ import annotations

import dataclasses
import enum
from functools import cache
from pathlib import Path

import pytest
import yaml

from harness.pointer import resolve
from harness.scenarios.provenance import document

APIS = ("freefin", "kaspi")
METHODS = ("get", "put", "post", "delete", "patch")


class Why(enum.StrEnum):
    """Why a promise, or a check of one, was not exercised: one category each."""

    CONTROL_API = "needs the control API"
    OUTCOME_HOOK = "needs an outcome hook"
    CREDENTIAL = "needs a credential"
    PROFILE = "feature declared absent by the target profile"
    RECEIVER = "needs a webhook receiver the target can reach"
    THROTTLED = "the target's rate limit left no room"
    NOT_SELECTED = "not selected in this run"
    TARGET = "the target gave nothing to try it on"
    NO_CHECK = "covered by no check"


def not_exercised(why: Why, reason: str) -> BaseException:
    """The skip to raise when a check cannot run here: pytest's own, carrying its category as
    ``why``, which the run's record keeps (the ``not_exercised`` property of its JUnit case)."""
    skip = pytest.skip.Exception(reason, _use_item_location=True)
    skip.why = why  # type: ignore[attr-defined]
    return skip


def why_not_exercised(exc: BaseException) -> Why | None:
    """The category a skip raised by :func:`not_exercised` carries, or None."""
    why = getattr(exc, "why", None)
    return why if isinstance(why, Why) else None


@dataclasses.dataclass(frozen=True)
class Promise:
    """One promise of a seed document."""

    id: str
    api: str
    kind: str  # operation | transition | behaviour
    pointer: str
    says: str


def operation_id(method: str, path: str, status: str | int) -> str:
    """The id of an operation's documented status: ``POST /v1/invoices 201``."""
    return f"{method.upper()} {path} {status}"


def _escape(path: str) -> str:
    return path.replace("~", "~0").replace("/", "~1")


@cache
def catalogue(api: str) -> dict[str, Promise]:
    """Every promise of ``api``'s seed, by id, in the document's order."""
    seed = document(api, "seed")
    found: dict[str, Promise] = {}
    for path, item in seed["paths"].items():
        for method in METHODS:
            operation = item.get(method)
            if not isinstance(operation, dict):
                continue
            for status, answer in operation.get("responses", {}).items():
                pid = operation_id(method, path, status)
                said = answer.get("description", "") if isinstance(answer, dict) else ""
                pointer = f"/paths/{_escape(path)}/{method}/responses/{status}"
                found[pid] = Promise(pid, api, "operation", pointer, said)
    written = yaml.safe_load(Path(__file__).with_name(f"{api}.yaml").read_text("utf-8"))
    for kind, key in (("transition", "transitions"), ("behaviour", "behaviours")):
        for entry in written[key]:
            if entry["id"] in found:
                raise ValueError(f"{api} promise {entry['id']!r} is declared twice")
            try:
                resolve(seed, entry["seed"])
            except KeyError as exc:
                raise ValueError(f"{api} promise {entry['id']!r}: {exc}") from None
            found[entry["id"]] = Promise(entry["id"], api, kind, entry["seed"], entry["says"])
    return found


def unknown(api: str, ids: list[str]) -> list[str]:
    """The ids among ``ids`` that ``api``'s catalogue does not hold."""
    known = catalogue(api)
    return [i for i in ids if i not in known]
