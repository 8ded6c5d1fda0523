"""Where each scenario assertion comes from, and whether it may fail the run.

Every block of assertions in a scenario (``expect``, ``results``, ``expect_webhooks``,
``expect_events``) carries a ``from:`` (its own, or its step's, or its scenario's):

* ``seed#/json/pointer`` or ``seed: METHOD /path [STATUS]``: the API's seed document
  (``specs/freefin.openapi.yaml``, ``specs/kaspi.openapi.json``); the pointer must resolve;
* ``supplement#/json/pointer``: the project's supplement (``specs/<api>.supplement.yaml``),
  what the seed leaves open settled in one way among several a conformant server could pick;
* ``http: <reason>``: HTTP semantics every API inherits (RFC 9110: no 5xx for a client's
  mistake, a 429 says when to come back).

(The runner also marks as ``profile`` what the target's own profile declares, such as how it
signs its webhooks: binding, since the partner stated it.)

Whether a source binds at the run's level is :class:`harness.level.Level`'s decision; an
assertion that does not hold and whose source does not bind is a *departure*, reported and
never a failure.

A step's inputs have sources too: every ``save`` takes its ``from:`` as assertion blocks do (its
own, its step's, the scenario's). A value saved from a request's answer at a seed source names
the answer (``seed: METHOD /path STATUS``) whose documented schema holds the saved field: the
loader checks both. At level spec, a value only the supplement promises that the target does not
give skips, as a departure, the steps that need it; it never fails them.
"""

from __future__ import annotations

import dataclasses
import re
from functools import cache
from typing import Any

from harness.apis import documents
from harness.level import Level
from harness.pointer import resolve

KINDS = ("seed", "supplement", "http")


@dataclasses.dataclass(frozen=True)
class Source:
    """One assertion's origin."""

    kind: str  # seed | supplement | http
    ref: str

    @property
    def binding_at_spec(self) -> bool:
        """Whether a mismatch fails the run at level spec (else it is a departure)."""
        return self.binding(Level.SPEC)

    def binding(self, level: str) -> bool:
        """Whether a mismatch fails the run at ``level`` (the level decides)."""
        return Level.of(level).binds(self.kind)

    def __str__(self) -> str:
        return f"{self.kind}#{self.ref}" if self.ref.startswith("/") else f"{self.kind}: {self.ref}"


@cache
def document(api: str, kind: str) -> Any:
    """The parsed seed or supplement of ``api``."""
    files = documents.files(api)
    return documents.read(files.seed if kind == "seed" else files.supplement)


def _operation_pointer(text: str) -> str:
    """``POST /v1/invoices 201`` -> ``/paths/~1v1~1invoices/post/responses/201``."""
    words = text.split()
    if len(words) not in (2, 3):
        raise ValueError(f"expected 'METHOD /path [STATUS]', got {text!r}")
    method, path = words[0].lower(), words[1].replace("~", "~0").replace("/", "~1")
    pointer = f"/paths/{path}/{method}"
    return pointer + (f"/responses/{words[2]}" if len(words) == 3 else "")


def parse(text: str, api: str) -> Source:
    """A ``from:`` value as a Source; ValueError saying what is wrong (unknown kind, a pointer
    that does not resolve in the document)."""
    text = str(text).strip()
    for kind in KINDS:
        if text.startswith(kind + "#"):
            ref = text[len(kind) + 1 :]
            break
        if text.startswith(kind + ":"):
            ref = text[len(kind) + 1 :].strip()
            break
    else:
        raise ValueError(
            f"from {text!r}: expected seed#/pointer, 'seed: METHOD /path [STATUS]', "
            "supplement#/pointer or 'http: reason'"
        )
    if kind == "http":
        if not ref:
            raise ValueError("from 'http:' needs a reason")
        return Source(kind, ref)
    pointer = ref if ref.startswith("/") else _operation_pointer(ref)
    if kind == "supplement" and not ref.startswith("/"):
        raise ValueError(f"from {text!r}: a supplement source is a JSON pointer (supplement#/…)")
    try:
        resolve(document(api, kind), pointer)
    except KeyError as exc:
        raise ValueError(f"from {text!r}: not in {api}'s {kind} document ({exc})") from None
    return Source(kind, pointer)


ASSERTION_KEYS = ("expect", "results", "expect_webhooks", "expect_events")


def blocks(step: dict[str, Any], default: str | None) -> list[tuple[str, dict[str, Any], str]]:
    """(key, block, its from-text) of every assertion block of a step; ``expect`` may be a
    list of blocks. ValueError when a block has no origin anywhere."""
    found = []
    step_from = step.get("from", default)
    for key in ASSERTION_KEYS:
        if key not in step:
            continue
        value = step[key]
        for block in value if isinstance(value, list) else [value]:
            origin = block.get("from", step_from) if isinstance(block, dict) else step_from
            if origin is None:
                raise ValueError(
                    f"{key} has no 'from': say where it comes from (seed#/…, supplement#/…, "
                    "http: …) on the block, the step or the scenario"
                )
            found.append((key, block, origin))
    return found


def save_origin(step: dict[str, Any], default: str | None) -> str | None:
    """The ``from:`` of a step's ``save`` (its own, the step's, the scenario's)."""
    spec = step.get("save") or {}
    return spec.get("from", step.get("from", default))


def saved_paths(spec: dict[str, str] | None) -> dict[str, str]:
    """name -> path of a ``save`` mapping, without its ``from``."""
    return {k: v for k, v in (spec or {}).items() if k != "from"}


def _resolved(doc: Any, node: Any) -> Any:
    """``node`` with local ``$ref``s followed (the seeds use ``#/components/...``)."""
    while isinstance(node, dict) and isinstance(node.get("$ref"), str):
        node = resolve(doc, node["$ref"].removeprefix("#"))
    return node


def _properties(doc: Any, schema: Any) -> set[str]:
    """The property names a response schema documents (through ``$ref`` and ``allOf``)."""
    schema = _resolved(doc, schema)
    if not isinstance(schema, dict):
        return set()
    names = set(schema.get("properties") or {})
    for part in schema.get("allOf") or []:
        names |= _properties(doc, part)
    return names


def _template_matches(template: str, path: str) -> bool:
    """Whether a request path (``{{ ... }}`` in it) is an instance of a seed path template."""
    path = re.sub(r"\{\{[^{}]*\}\}", "X", path.split("?", 1)[0])
    pattern = re.sub(r"\\\{[^/]+?\\\}", "[^/]+", re.escape(template))
    return re.fullmatch(pattern, path) is not None


def seed_template(api: str, method: str, path: str) -> str | None:
    """The seed's path template of ``method`` that a request path (``{{ ... }}`` in it standing
    for any value) is an instance of, or None."""
    for template, operations in (document(api, "seed").get("paths") or {}).items():
        if method.lower() in operations and _template_matches(template, path):
            return str(template)
    return None


def answer_fields(api: str, origin: str) -> set[str] | None:
    """The property names the seed documents in the JSON body of the answer ``origin`` names
    (``seed: METHOD /path STATUS``); None when the seed documents no body for it. KeyError when
    the seed has no such answer."""
    doc = document(api, "seed")
    answer = _resolved(doc, resolve(doc, _operation_pointer(origin.split(":", 1)[1])))
    schema = (((answer or {}).get("content") or {}).get("application/json") or {}).get("schema")
    return None if schema is None else _properties(doc, schema)


def _check_seed_save(step: dict[str, Any], api: str, origin: str) -> None:
    """A value saved from an answer at a seed source: the source is that answer, and the seed
    documents the saved field in its schema. ValueError saying what is wrong."""
    words = origin.split(":", 1)[1].split() if ":" in origin else []
    request = step.get("request") or {}
    if len(words) != 3 or origin.startswith("seed#"):
        raise ValueError(
            f"save from {origin!r}: a value taken from an answer names the answer it comes "
            "from ('seed: METHOD /path STATUS') or a supplement entry"
        )
    method, template, _status = words
    if method.lower() != str(request.get("method", "")).lower() or not _template_matches(
        template, str(request.get("path", ""))
    ):
        raise ValueError(
            f"save from {origin!r}: the step sends {request.get('method')} "
            f"{request.get('path')}, not that operation"
        )
    documented = answer_fields(api, origin)
    if documented is None:
        raise ValueError(
            f"save from {origin!r}: the seed documents no body for this answer; a value read "
            "from it is the supplement's (supplement#/…)"
        )
    for name, path in saved_paths(step.get("save")).items():
        head = str(path).removeprefix("$.").removeprefix("$")
        key = re.split(r"[.\[]", head, maxsplit=1)[0]
        if key.startswith("@") or not key:
            continue  # a profile alias or the whole body: the schema is there
        if documented and key not in documented:
            raise ValueError(
                f"save {name}: {key!r} is not in the seed's schema of {origin.split(':', 1)[1]}"
                f" (it has {', '.join(sorted(documented))}); name the supplement entry that "
                "promises it"
            )


def check_save(step: dict[str, Any], api: str, default: str | None) -> None:
    """ValueError when a step's ``save`` has no source, or one that does not hold."""
    if not step.get("save"):
        return
    origin = save_origin(step, default)
    if origin is None:
        raise ValueError(
            "save has no 'from': say where the saved value is promised (seed: METHOD /path "
            "STATUS, supplement#/…) on the save, the step or the scenario"
        )
    source = parse(origin, api)
    if source.kind == "http":
        raise ValueError(
            f"save from {origin!r}: HTTP promises no field of a body; name the seed answer or "
            "the supplement entry"
        )
    if source.kind == "seed" and "request" in step:
        _check_seed_save(step, api, str(origin).strip())


def check_scenario(doc: dict[str, Any]) -> str | None:
    """The first provenance problem of a scenario document, or None."""
    api = doc.get("api", "")
    default = doc.get("from")
    if default is not None:
        try:
            parse(default, api)
        except ValueError as exc:
            return f"at from: {exc}"
    for i, step in enumerate(doc.get("steps") or []):
        try:
            if "from" in step:
                parse(step["from"], api)
            for key, _block, origin in blocks(step, default):
                try:
                    parse(origin, api)
                except ValueError as exc:
                    raise ValueError(f"{key}: {exc}") from None
            check_save(step, api, default)
        except ValueError as exc:
            return f"at steps[{i}]: {exc}"
    return None
