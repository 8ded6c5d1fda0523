"""What differs between a recorded answer and the new target's: the status, the error code, and
the fields the seed gives meaning to (its enums, numbers and booleans, and the ids the session
made), each side normalised by its target profile (list shapes, error names)."""

from __future__ import annotations

import dataclasses
import json
from decimal import Decimal, InvalidOperation
from functools import cache
from typing import Any

from harness.apis import documents
from harness.profile import ApiProfile
from harness.replay.mapping import Ids


@dataclasses.dataclass
class Answer:
    """An answer as compared: status, JSON body (or None), events of a stream."""

    status: int
    body: Any
    events: list[dict[str, str]] = dataclasses.field(default_factory=list)


@cache
def seed_fields(api: str) -> tuple[frozenset[str], frozenset[str]]:
    """The property names the seed declares as an enum, a number or a boolean; and the names it
    requires somewhere (an optional field a server leaves out is no difference)."""
    found: set[str] = set()
    required: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            for name, prop in (node.get("properties") or {}).items():
                if isinstance(prop, dict) and (
                    "enum" in prop or prop.get("type") in ("integer", "number", "boolean")
                ):
                    found.add(name)
            if isinstance(node.get("required"), list):
                required.update(str(name) for name in node["required"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(documents.read(documents.files(api).seed))
    return frozenset(found), frozenset(required)


def error_code(body: Any, profile: ApiProfile) -> str | None:
    """The error code of either API's envelope, in the supplement's names."""
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    code = error.get("code") if isinstance(error, dict) else error
    if not isinstance(code, str):
        return None
    return {theirs: ours for ours, theirs in profile.codes.items()}.get(code, code)


def _at(body: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(body, dict) or part not in body:
            return None
        body = body[part]
    return body


def listed(body: Any, profile: ApiProfile) -> Any:
    """A list answer in one shape (``items``, ``total``), wherever the profile keeps them."""
    items = profile.lists.get("items")
    if items and isinstance(_at(body, items), list):
        total = profile.lists.get("total")
        return {"items": _at(body, items), "total": _at(body, total) if total else None}
    return body


def _leaves(body: Any, fields: frozenset[str], path: str = "") -> dict[str, Any]:
    """Dotted path -> value, for the seed's fields and every ``id``/``*_id``."""
    out: dict[str, Any] = {}
    if isinstance(body, dict):
        for name, value in body.items():
            here = f"{path}.{name}" if path else name
            if isinstance(value, dict | list):
                out.update(_leaves(value, fields, here))
            elif name in fields or name == "id" or name.endswith("_id"):
                out[here] = value
    elif isinstance(body, list):
        for n, value in enumerate(body):
            out.update(_leaves(value, fields, f"{path}.{n}" if path else str(n)))
    return out


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return a is b
    try:
        return Decimal(str(a)) == Decimal(str(b))  # 200.1 and "200.10" say one amount
    except (InvalidOperation, ValueError):
        return bool(a == b)


def payload_of(event: dict[str, str]) -> dict[str, Any]:
    """What an event is about: its data's ``payload`` (or the data itself)."""
    try:
        data = json.loads(event.get("data", ""))
    except ValueError:
        return {}
    payload = data.get("payload", data) if isinstance(data, dict) else {}
    return payload if isinstance(payload, dict) else {}


def differences(
    api: str,
    recorded: Answer,
    replayed: Answer,
    ids: Ids,
    was: ApiProfile,
    now: ApiProfile,
) -> list[str]:
    """Each difference said in one line; none when the answers agree."""
    found = []
    if recorded.status != replayed.status:
        found.append(f"status {recorded.status}, now {replayed.status}")
    codes = error_code(recorded.body, was), error_code(replayed.body, now)
    if codes[0] != codes[1]:
        found.append(f"error code {codes[0]}, now {codes[1]}")
    if recorded.status == replayed.status and recorded.status < 400:
        fields, required = seed_fields(api)
        before = _leaves(listed(recorded.body, was), fields)
        after = _leaves(listed(replayed.body, now), fields)
        for path, value in before.items():
            name = path.rpartition(".")[2]
            is_id = name == "id" or name.endswith("_id")
            if is_id and not (isinstance(value, str) and value in ids.known):
                continue  # an id this session did not make (the server's own) is not compared
            if path not in after:
                if name not in required:
                    continue
                found.append(f"{path}: {value!r}, now absent")
            elif not _same(ids.value(value), after[path]):
                found.append(f"{path}: {ids.value(value)!r}, now {after[path]!r}")
    for kind, wanted in wanted_events(recorded.events, ids):
        if wanted not in said_events(replayed.events):
            found.append(f"event {kind} {wanted[0]} {wanted[1]}: not sent")
    return found


def wanted_events(events: list[dict[str, str]], ids: Ids) -> list[tuple[str, tuple[Any, Any]]]:
    """The recorded events about objects of this session: (kind, (new id, status))."""
    found = []
    for event in events:
        said = payload_of(event)
        if isinstance(said.get("id"), str) and said["id"] in ids.known:
            found.append((event.get("event", ""), (ids.value(said["id"]), said.get("status"))))
    return found


def said_events(events: list[dict[str, str]]) -> list[tuple[Any, Any]]:
    """(object id, status) of each event."""
    return [(payload_of(e).get("id"), payload_of(e).get("status")) for e in events]
