"""The spec-gap report: what the seed documents leave open or contradict, and how it is settled.

Reads each API's seed document (``specs/freefin.openapi.yaml``, ``specs/kaspi.openapi.json``)
and lists findings of these kinds:

- ``no_operation_id``: operations without an operationId (nothing stable to name them by);
- ``no_response_schema``: a documented response without a body schema;
- ``no_request_schema``: a POST/PUT/PATCH with no request body documented;
- ``loose_request_schema``: a request body whose rules the supplement tightens;
- ``enum_mismatch``: a request enum with values the resource's own enum lacks (Kaspi's simulate
  accepts ``failed``; Invoice.status has no ``failed``);
- ``type_mismatch``: a field typed one way in a request and another in the resource;
- ``undescribed_events``: webhooks or events named in the text but never described;
- ``undescribed_stream``: a text/event-stream response whose events have no schema;
- ``missing_links``: an operation on ``{id}`` that no link connects to where ids come from;
- ``security_errors``: a security scheme whose refusals (401/403) are not documented with a
  body on the operations it guards;
- ``partial_errors``: an error status documented on some operations it applies to, not all.

Each finding names how the harness resolves it: the entry of ``specs/<api>.supplement.yaml``
or ``specs/<api>.links.yaml`` that settles it, looked up in those files (so a finding whose
entry is missing is reported as open). ``paysim gaps`` prints them; the run report includes them.
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

SPECS = Path(__file__).resolve().parent.parent / "specs"
SEEDS = {"freefin": "freefin.openapi.yaml", "kaspi": "kaspi.openapi.json"}
METHODS = ("get", "put", "post", "delete", "patch")
BODY_METHODS = ("post", "put", "patch")
KINDS = (
    "no_operation_id",
    "no_response_schema",
    "no_request_schema",
    "loose_request_schema",
    "enum_mismatch",
    "type_mismatch",
    "undescribed_events",
    "undescribed_stream",
    "missing_links",
    "security_errors",
    "partial_errors",
)
_CONSTRAINTS = (
    "enum",
    "minimum",
    "maximum",
    "multipleOf",
    "pattern",
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "format",
)
_EVENT_NAME = re.compile(r"`([a-z]+\.[a-z_]+)`|\"([a-z]+\.[a-z_]+)\"")


@dataclasses.dataclass(frozen=True)
class Resolution:
    """Where the harness settles a finding: a file and an entry in it (dotted path)."""

    file: str
    entry: str
    excerpt: str = ""


@dataclasses.dataclass(frozen=True)
class Finding:
    """One thing a seed document leaves open or contradicts."""

    api: str
    kind: str
    where: str
    detail: str
    resolutions: tuple[Resolution, ...] = ()
    note: str = ""

    @property
    def resolved(self) -> bool:
        return bool(self.resolutions)

    def to_json(self) -> dict[str, Any]:
        """A plain dict, for the JSON output and the report."""
        data = dataclasses.asdict(self)
        data["resolutions"] = [dataclasses.asdict(r) for r in self.resolutions]
        data["resolved"] = self.resolved
        return data


class Documents:
    """One API's seed, supplement and links overlay, with $ref resolution across them."""

    def __init__(self, api: str, specs: Path = SPECS) -> None:
        self.api = api
        self.seed_name = SEEDS[api]
        self.supplement_name = f"{api}.supplement.yaml"
        self.links_name = f"{api}.links.yaml"
        self.seed = _read(specs / self.seed_name)
        self.supplement = _read(specs / self.supplement_name)
        self.links = _read(specs / self.links_name)

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(method, path, operation) of the seed, in document order."""
        for path, item in self.seed.get("paths", {}).items():
            for method, op in item.items():
                if method in METHODS and isinstance(op, dict):
                    yield method, path, op

    def resolve(self, node: Any, home: str = "seed") -> tuple[Any, str]:
        """Follow ``$ref`` chains; returns the target and the document it lives in."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 20:
            seen += 1
            ref = node["$ref"]
            file, _, pointer = ref.partition("#")
            if file:
                home = "seed" if file == self.seed_name else "supplement"
            doc = self.seed if home == "seed" else self.supplement
            node = _pointer(doc, pointer)
        return node, home

    def properties(self, schema: Any, home: str = "seed") -> dict[str, dict[str, Any]]:
        """Properties of an object schema, through $ref and allOf, resolved one level."""
        schema, home = self.resolve(schema, home)
        found: dict[str, dict[str, Any]] = {}
        if not isinstance(schema, dict):
            return found
        for part in schema.get("allOf", []):
            for name, prop in self.properties(part, home).items():
                found[name] = {**found.get(name, {}), **prop}
        for name, prop in (schema.get("properties") or {}).items():
            resolved, _h = self.resolve(prop, home)
            found[name] = {
                **found.get(name, {}),
                **(resolved if isinstance(resolved, dict) else {}),
            }
        return found

    def supplement_operation(
        self, method: str, path: str, op: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """The supplement's entry for an operation (keyed by operationId or "METHOD /path")."""
        ops = self.supplement.get("operations") or {}
        for key in (op.get("operationId"), f"{method.upper()} {path}"):
            if key and key in ops:
                return f"operations.{_key(key)}", ops[key] or {}
        return "", {}

    def supplement_entry(self, dotted: str) -> Resolution | None:
        """A Resolution for a supplement entry, or None when the supplement lacks it."""
        return _entry(self.supplement, self.supplement_name, dotted)

    def links_entry(self, dotted: str) -> Resolution | None:
        """A Resolution for an entry of the links overlay, or None when it lacks it."""
        return _entry(self.links, self.links_name, dotted)


def _read(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return data or {}


def _pointer(doc: Any, pointer: str) -> Any:
    node = doc
    for part in filter(None, pointer.split("/")):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def _split(dotted: str) -> list[str]:
    """Split a dotted entry path; segments in brackets keep their dots and slashes."""
    return [a or b for a, b in re.findall(r"\[([^\]]+)\]|([^.\[\]]+)", dotted)]


def _entry(doc: dict[str, Any], file: str, dotted: str) -> Resolution | None:
    node: Any = doc
    for part in _split(dotted):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    text = (
        node
        if isinstance(node, str)
        else yaml.safe_dump(node, allow_unicode=True, sort_keys=False, width=96).rstrip()
    )
    lines = text.splitlines()
    excerpt = "\n".join(lines[:10]) + ("\n…" if len(lines) > 10 else "")
    return Resolution(file, dotted, excerpt)


def _key(name: str) -> str:
    """A dotted-path segment: bracketed when it holds dots, slashes or spaces."""
    return f"[{name}]" if re.search(r"[./ ]", name) else name


def _label(method: str, path: str, op: dict[str, Any]) -> str:
    op_id = op.get("operationId")
    return f"{method.upper()} {path}" + (f" ({op_id})" if op_id else "")


def _has_schema(response: dict[str, Any]) -> bool:
    return any(
        isinstance(c, dict) and "schema" in c for c in (response.get("content") or {}).values()
    )


def _secured(doc: Documents, op: dict[str, Any]) -> bool:
    return bool(op.get("security", doc.seed.get("security")))


def _collection(path: str) -> str:
    """The collection a path's first ``{param}`` belongs to: ``/v1/invoices/{id}/x`` ->
    ``/v1/invoices``."""
    return path.split("/{", 1)[0]


def _resource_name(path: str) -> str:
    segment = _collection(path).rstrip("/").rsplit("/", 1)[-1]
    segment = segment.removesuffix("s") if segment.endswith("s") else segment
    return "".join(part.capitalize() for part in re.split(r"[-_]", segment))


# --- the finders, one per kind --------------------------------------------------------------


def find_operation_ids(doc: Documents) -> list[Finding]:
    """Operations without an operationId."""
    missing = [f"{m.upper()} {p}" for m, p, op in doc.operations() if not op.get("operationId")]
    if not missing:
        return []
    total = sum(1 for _ in doc.operations())
    keyed = any(" " in k for k in (doc.supplement.get("operations") or {}))
    resolutions = [r for r in (doc.supplement_entry("operations") if keyed else None,) if r]
    return [
        Finding(
            doc.api,
            "no_operation_id",
            f"{len(missing)} of {total} operations",
            "no operationId: " + ", ".join(missing[:6]) + (" …" if len(missing) > 6 else ""),
            tuple(resolutions),
            note='the supplement keys operations by "METHOD /path" and the links overlay names '
            "them by operationRef",
        )
    ]


def find_response_schemas(doc: Documents) -> list[Finding]:
    """Documented responses without a body schema, each with the entry that gives one."""
    findings = []
    for method, path, op in doc.operations():
        entry_path, entry = doc.supplement_operation(method, path, op)
        for status, response in (op.get("responses") or {}).items():
            response, _home = doc.resolve(response)
            if not isinstance(response, dict) or _has_schema(response):
                continue
            if "text/event-stream" in (response.get("content") or {}):
                continue  # a stream: see undescribed_stream
            resolutions = []
            if str(status) in (entry.get("responses") or {}):
                found = doc.supplement_entry(f"{entry_path}.responses.{_key(str(status))}")
                resolutions.append(found)
            if str(status)[0] in "45":
                resolutions += _error_resolutions(doc, entry_path, entry, str(status))
            findings.append(
                Finding(
                    doc.api,
                    "no_response_schema",
                    _label(method, path, op),
                    f"{status} ({response.get('description', '').strip()}) has no body schema",
                    tuple(r for r in resolutions if r),
                )
            )
    return findings


def _error_resolutions(
    doc: Documents, entry_path: str, entry: dict[str, Any], status: str
) -> list[Resolution | None]:
    """How an error status without a body is settled: the global response, else the error
    envelope the harness holds every undocumented 4xx body to; and the operation's codes."""
    found = [doc.supplement_entry(f"global_responses.{status}")]
    if found[0] is None:
        envelope = "ErrorEnvelope" if doc.api == "kaspi" else "Error"
        found.append(doc.supplement_entry(f"components.schemas.{envelope}"))
    if status in (entry.get("error_codes") or {}):
        found.append(doc.supplement_entry(f"{entry_path}.error_codes.{_key(status)}"))
    return found


def find_request_schemas(doc: Documents) -> list[Finding]:
    """POST/PUT/PATCH operations without a request body, or with one without a schema."""
    findings = []
    for method, path, op in doc.operations():
        if method not in BODY_METHODS:
            continue
        body = op.get("requestBody")
        if body is not None and _has_schema(doc.resolve(body)[0] or {}):
            continue
        entry_path, entry = doc.supplement_operation(method, path, op)
        what = "no request body documented" if body is None else "a request body without schema"
        settled_by = "requestBody" if entry.get("requestBody") else None
        if body is None and entry.get("no_body") is True:
            settled_by = "no_body"  # the operation takes no body: there is nothing to describe
        if settled_by:
            found = doc.supplement_entry(f"{entry_path}.{settled_by}")
            findings.append(
                Finding(
                    doc.api,
                    "no_request_schema",
                    _label(method, path, op),
                    what,
                    (found,) if found else (),
                )
            )
        else:
            findings.append(
                Finding(
                    doc.api,
                    "no_request_schema",
                    _label(method, path, op),
                    what,
                    note="not settled by the supplement: the harness sends no body and "
                    "expects none to be needed",
                )
            )
    return findings


def _tightened(doc: Documents, seed_schema: Any, rules: Any) -> list[str]:
    """What a supplement body schema adds to the seed's: constraints per field, required."""
    added = []
    seed_props = doc.properties(seed_schema, "seed")
    rule_props = doc.properties(rules, "supplement")
    for name, rule in rule_props.items():
        before = seed_props.get(name, {})
        new = [
            f"{c} {rule[c]}" if c != "enum" else f"enum {rule[c]}"
            for c in _CONSTRAINTS
            if c in rule and rule[c] != before.get(c)
        ]
        if name not in seed_props:
            new.insert(0, "new field")
        if new:
            added.append(f"{name}: " + ", ".join(str(n) for n in new))
    seed_required = set((doc.resolve(seed_schema, "seed")[0] or {}).get("required", []))
    rule_required = set((doc.resolve(rules, "supplement")[0] or {}).get("required", []))
    if rule_required - seed_required:
        added.append("required: " + ", ".join(sorted(rule_required - seed_required)))
    return added


def find_loose_request_schemas(doc: Documents) -> list[Finding]:
    """Request bodies whose rules (bounds, patterns, enums, required) only the supplement says."""
    findings = []
    for method, path, op in doc.operations():
        body = op.get("requestBody")
        if body is None or not _has_schema(doc.resolve(body)[0] or {}):
            continue
        entry_path, entry = doc.supplement_operation(method, path, op)
        rules_body = entry.get("requestBody")
        if not rules_body:
            continue
        seed_body = doc.resolve(body)[0]
        seed_schema = seed_body.get("content", {}).get("application/json", {}).get("schema")
        rules = rules_body.get("content", {}).get("application/json", {}).get("schema")
        added = _tightened(doc, seed_schema, rules)
        if rules_body.get("required") and not seed_body.get("required"):
            added.append("the body itself is required")
        if not added:
            continue
        found = doc.supplement_entry(f"{entry_path}.requestBody")
        findings.append(
            Finding(
                doc.api,
                "loose_request_schema",
                _label(method, path, op),
                "the seed's body schema leaves rules open; the supplement adds " + "; ".join(added),
                (found,) if found else (),
            )
        )
    return findings


def _resource_schema(doc: Documents, method: str, path: str, op: dict[str, Any]) -> tuple[str, Any]:
    """(name, schema) of the resource an operation acts on: its 2xx body schema in the seed, else
    the seed schema named after the path's collection (``/v1/invoices/{id}`` -> Invoice)."""
    for status, response in (op.get("responses") or {}).items():
        response, _h = doc.resolve(response)
        if str(status).startswith("2") and isinstance(response, dict):
            schema = (response.get("content") or {}).get("application/json", {}).get("schema")
            if isinstance(schema, dict) and "$ref" in schema:
                return schema["$ref"].rsplit("/", 1)[-1], schema
    name = _resource_name(path)
    schemas = doc.seed.get("components", {}).get("schemas", {})
    return (name, schemas[name]) if name in schemas else ("", None)


def _request_fields(doc: Documents, op: dict[str, Any]) -> dict[str, dict[str, Any]]:
    body = doc.resolve(op.get("requestBody") or {})[0] or {}
    schema = (body.get("content") or {}).get("application/json", {}).get("schema")
    return doc.properties(schema) if schema else {}


def _settling_entries(doc: Documents, words: list[str]) -> list[Resolution]:
    """Supplement entries whose key path names every word (``failed_invoices`` for failed,
    invoice), best first: the most specific (shortest) paths."""
    hits: list[str] = []

    def walk(node: Any, trail: list[str]) -> None:
        if not isinstance(node, dict):
            return
        for key, value in node.items():
            here = [*trail, str(key)]
            joined = ".".join(here).lower()
            if all(w.lower() in joined for w in words) and len(here) <= 3:
                hits.append(".".join(_key(h) for h in here))
            walk(value, here)

    walk({k: v for k, v in doc.supplement.items() if k != "components"}, [])
    hits.sort(key=len)
    return [r for r in (doc.supplement_entry(h) for h in hits[:1]) if r]


def find_enum_mismatches(doc: Documents) -> list[Finding]:
    """Request enums with values that the resource's own enum of the same field lacks."""
    findings = []
    for method, path, op in doc.operations():
        fields = _request_fields(doc, op)
        name, schema = _resource_schema(doc, method, path, op)
        if not schema:
            continue
        resource = doc.properties(schema)
        for field, rule in fields.items():
            if "enum" not in rule or "enum" not in resource.get(field, {}):
                continue
            extra = [v for v in rule["enum"] if v not in resource[field]["enum"]]
            if not extra:
                continue
            resolutions = []
            for value in extra:
                resolutions += _settling_entries(doc, [str(value), name])
            findings.append(
                Finding(
                    doc.api,
                    "enum_mismatch",
                    _label(method, path, op),
                    f"request {field} accepts {extra} but {name}.{field} has only "
                    f"{resource[field]['enum']}",
                    tuple(resolutions),
                )
            )
    return findings


def find_type_mismatches(doc: Documents) -> list[Finding]:
    """Fields typed one way in a request body and another in the resource it creates."""
    findings = []
    for method, path, op in doc.operations():
        name, schema = _resource_schema(doc, method, path, op)
        if not schema:
            continue
        resource = doc.properties(schema)
        for field, rule in _request_fields(doc, op).items():
            theirs = resource.get(field, {}).get("type")
            if rule.get("type") and theirs and rule["type"] != theirs:
                money = doc.supplement_entry("components.schemas.Money")
                findings.append(
                    Finding(
                        doc.api,
                        "type_mismatch",
                        _label(method, path, op),
                        f"request {field} is a {rule['type']}, {name}.{field} a {theirs} "
                        f"(example {resource[field].get('example')!r})",
                        (money,) if money and field in ("amount", "price") else (),
                    )
                )
    return findings


def _texts(node: Any, trail: str = "") -> Iterator[tuple[str, str]]:
    """(where, text) of every description, summary and example in a document."""
    if isinstance(node, dict):
        for key, value in node.items():
            here = f"{trail}.{key}" if trail else str(key)
            if key in ("description", "summary") and isinstance(value, str):
                yield here, value
            elif key in ("example", "examples") and not isinstance(value, dict):
                yield here, json.dumps(value, ensure_ascii=False)
            else:
                yield from _texts(value, here)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _texts(value, f"{trail}[{i}]")


def _described_events(doc: Documents) -> set[str]:
    """Event kinds the supplement describes (Event.kind enum, events.kinds keys, etc.)."""
    events = doc.supplement.get("events") or {}
    kinds = {
        k.strip() for key in (events.get("kinds") or {}) for k in re.split(r"\s*/\s*", str(key))
    }
    # "qr.created / qr.status_changed / ..." names several kinds in one key
    for schema in (doc.supplement.get("components", {}).get("schemas") or {}).values():
        kind = (
            (schema or {}).get("properties", {}).get("kind", {}) if isinstance(schema, dict) else {}
        )
        kinds |= set(kind.get("enum", []))
    return kinds


def find_undescribed_events(doc: Documents) -> list[Finding]:
    """Webhooks/events named in the seed's text with no webhooks, callbacks or event schema."""
    described_in_seed = "webhooks" in doc.seed or '"callbacks"' in json.dumps(doc.seed)
    if described_in_seed:
        return []
    named: dict[str, str] = {}
    for where, text in _texts(doc.seed):
        if "webhook" not in text.lower() and "events" not in where and "event" not in text:
            continue
        for match in _EVENT_NAME.finditer(text):
            event = match.group(1) or match.group(2)
            if event.split(".")[0] in (
                "payment",
                "payout",
                "invoice",
                "qr",
                "subscription",
                "refund",
                "webhook",
            ):
                named.setdefault(event, where)
    mentions = [w for w, t in _texts(doc.seed) if "webhook" in t.lower()]
    if not named and not mentions:
        return []
    described = _described_events(doc)
    unknown = sorted(set(named) - described)
    resolutions = [
        r
        for r in (
            doc.supplement_entry("events.body"),
            doc.supplement_entry("events.webhooks"),
            doc.supplement_entry("events.kinds"),
        )
        if r
    ]
    detail = (
        f"webhooks are mentioned in {len(mentions)} places and event kinds named "
        f"({', '.join(sorted(named)) or 'none'}), but the document has no webhooks, "
        "callbacks, event schema, signature or retry rules"
    )
    note = (
        f"named but not in the supplement either: {unknown}"
        if unknown
        else "every named kind is described in the supplement"
    )
    return [
        Finding(doc.api, "undescribed_events", "the document", detail, tuple(resolutions), note)
    ]


def find_undescribed_streams(doc: Documents) -> list[Finding]:
    """Event-stream responses whose framing and event bodies have no schema."""
    findings = []
    for method, path, op in doc.operations():
        for status, response in (op.get("responses") or {}).items():
            response, _h = doc.resolve(response)
            stream = (response or {}).get("content", {}).get("text/event-stream")
            if stream is None:
                continue
            resolutions = [
                r for r in (doc.supplement_entry("sse"), doc.supplement_entry("events.body")) if r
            ]
            findings.append(
                Finding(
                    doc.api,
                    "undescribed_stream",
                    _label(method, path, op),
                    f"{status} is text/event-stream with schema {stream.get('schema')}: the event "
                    "bodies, ids, resume and heartbeats are described only in prose",
                    tuple(resolutions),
                )
            )
    return findings


def _has_link(
    doc: Documents,
    source: tuple[str, str, dict[str, Any]],
    target: tuple[str, str, dict[str, Any]],
    overlay: bool,
) -> str | None:
    """The dotted path of a link from source to target (seed or links overlay), or None."""
    s_method, s_path, _s_op = source
    t_method, t_path, t_op = target
    ref = "#/paths/" + t_path.replace("~", "~0").replace("/", "~1") + f"/{t_method}"
    tree = doc.links if overlay else doc.seed
    responses = (((tree.get("paths") or {}).get(s_path) or {}).get(s_method) or {}).get(
        "responses"
    ) or {}
    for status, response in responses.items():
        for name, link in ((response or {}).get("links") or {}).items():
            if link.get("operationRef") == ref or (
                t_op.get("operationId") and link.get("operationId") == t_op["operationId"]
            ):
                return f"paths.{_key(s_path)}.{s_method}.responses.{_key(str(status))}.links.{name}"
    return None


def find_missing_links(doc: Documents) -> list[Finding]:
    """Operations on an ``{id}`` without a link from where such ids come from."""
    ops = list(doc.operations())
    findings = []
    for target in ops:
        t_method, t_path, t_op = target
        if "{" not in t_path:
            continue
        name = _collection(t_path).rsplit("/", 1)[-1]
        sources = [o for o in ops if "{" not in o[1] and o[1].rsplit("/", 1)[-1] == name]
        creates = [o for o in sources if o[0] == "post"] or sources
        if not creates:
            continue
        if any(_has_link(doc, s, target, overlay=False) for s in creates):
            continue
        entries = [e for e in (_has_link(doc, s, target, overlay=True) for s in creates) if e]
        resolutions = [r for r in (doc.links_entry(e) for e in entries[:1]) if r]
        chains = doc.supplement_entry("links.chains")
        source_label = " or ".join(f"{m.upper()} {p}" for m, p, _o in creates)
        note = (
            ""
            if resolutions
            else (
                "not in the links overlay: stateful runs reach it only with ids from elsewhere"
                + (
                    " (the supplement's links.chains describes the chain in prose)"
                    if chains and t_path in chains.excerpt
                    else ""
                )
            )
        )
        findings.append(
            Finding(
                doc.api,
                "missing_links",
                _label(t_method, t_path, t_op),
                f"no link from {source_label} (where its ids come from)",
                tuple(resolutions),
                note,
            )
        )
    return findings


def find_security_errors(doc: Documents) -> list[Finding]:
    """Security schemes whose refusals are not documented on the operations they guard."""
    schemes = (doc.seed.get("components") or {}).get("securitySchemes") or {}
    secured = [(m, p, op) for m, p, op in doc.operations() if _secured(doc, op)]
    if not schemes or not secured:
        return []
    findings = []
    documented = {s for _m, _p, op in doc.operations() for s in (op.get("responses") or {})}
    for status in ("401", "403"):
        if status == "403" and "403" not in documented:
            continue  # the API never refuses a known key: nothing to document
        with_body = without_body = 0
        for _m, _p, op in secured:
            response = doc.resolve((op.get("responses") or {}).get(status))[0]
            if isinstance(response, dict):
                if _has_schema(response):
                    with_body += 1
                else:
                    without_body += 1
        missing = len(secured) - with_body - without_body
        if missing == 0 and without_body == 0:
            continue
        found = doc.supplement_entry(f"global_responses.{status}")
        findings.append(
            Finding(
                doc.api,
                "security_errors",
                "security: "
                + ", ".join(
                    f"{n} ({s.get('type')} {s.get('scheme') or s.get('in', '')})".strip()
                    for n, s in schemes.items()
                ),
                f"{status} is documented with a body on {with_body}, "
                f"without one on {without_body}, "
                f"and not at all on {missing} of the {len(secured)} operations it guards",
                (found,) if found else (),
            )
        )
    return findings


def _applies(status: str, method: str, path: str, op: dict[str, Any]) -> bool:
    if status == "404":
        return "{" in path
    if status == "400":
        return method in BODY_METHODS and "requestBody" in op
    return status == "429"


def find_partial_errors(doc: Documents) -> list[Finding]:
    """Error statuses documented on some operations they apply to and not on others."""
    findings = []
    ops = list(doc.operations())
    for status in ("400", "404", "429"):
        applicable = [o for o in ops if _applies(status, *o)]
        having = [o for o in applicable if status in (o[2].get("responses") or {})]
        found = doc.supplement_entry(f"global_responses.{status}")
        if len(having) == len(applicable) or not (having or found):
            continue
        lacking = [_label(*o) for o in applicable if o not in having]
        findings.append(
            Finding(
                doc.api,
                "partial_errors",
                f"{status} responses",
                f"documented on {len(having)} of {len(applicable)} operations it applies to; "
                f"missing on {', '.join(lacking[:5])}" + (" …" if len(lacking) > 5 else ""),
                (found,) if found else (),
            )
        )
    return findings


FINDERS = (
    find_operation_ids,
    find_response_schemas,
    find_request_schemas,
    find_loose_request_schemas,
    find_enum_mismatches,
    find_type_mismatches,
    find_undescribed_events,
    find_undescribed_streams,
    find_missing_links,
    find_security_errors,
    find_partial_errors,
)


def analyse(api: str, specs: Path = SPECS) -> list[Finding]:
    """Every finding for one API's seed document."""
    doc = Documents(api, specs)
    return [finding for finder in FINDERS for finding in finder(doc)]


def analyse_all(apis: tuple[str, ...] = ("freefin", "kaspi"), specs: Path = SPECS) -> list[Finding]:
    """Every finding for the given APIs, in API then kind order."""
    order = {k: i for i, k in enumerate(KINDS)}
    findings = [f for api in apis for f in analyse(api, specs)]
    return sorted(findings, key=lambda f: (apis.index(f.api), order[f.kind]))


def to_json(findings: list[Finding]) -> dict[str, Any]:
    """The findings with counts per API and kind."""
    counts: dict[str, dict[str, int]] = {}
    for f in findings:
        per = counts.setdefault(f.api, {"findings": 0, "open": 0})
        per["findings"] += 1
        per["open"] += 0 if f.resolved else 1
        per[f.kind] = per.get(f.kind, 0) + 1
    return {"counts": counts, "findings": [f.to_json() for f in findings]}


def render_text(findings: list[Finding], excerpts: bool = False) -> str:
    """Human-readable report, grouped by API and kind."""
    lines: list[str] = []
    for api in dict.fromkeys(f.api for f in findings):
        mine = [f for f in findings if f.api == api]
        open_ = sum(not f.resolved for f in mine)
        lines.append(f"== {api} ({SEEDS[api]}): {len(mine)} findings, {open_} open")
        for kind in KINDS:
            of_kind = [f for f in mine if f.kind == kind]
            if not of_kind:
                continue
            lines.append(f"\n-- {kind} ({len(of_kind)})")
            for f in of_kind:
                lines.append(f"{'  ' if f.resolved else 'OPEN '}{f.where}: {f.detail}")
                for r in f.resolutions:
                    lines.append(f"      settled by {r.file}: {r.entry}")
                    if excerpts:
                        lines += ["        " + ln for ln in r.excerpt.splitlines()]
                if f.note:
                    lines.append(f"      note: {f.note}")
        lines.append("")
    return "\n".join(lines)
