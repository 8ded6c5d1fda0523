"""Finders of what the seeds leave open in operations and schemas: ids, bodies, enums, types."""

from __future__ import annotations

from typing import Any

from harness.seedgaps.documents import (
    BODY_METHODS,
    CONSTRAINTS,
    Documents,
    Resolution,
    SeedGap,
    has_body_schema,
    key_of,
    label_of,
    resource_name_of,
)


def find_operation_ids(doc: Documents) -> list[SeedGap]:
    """Operations without an operationId."""
    missing = [f"{m.upper()} {p}" for m, p, op in doc.operations() if not op.get("operationId")]
    if not missing:
        return []
    total = sum(1 for _ in doc.operations())
    keyed = any(" " in k for k in (doc.supplement.get("operations") or {}))
    resolutions = [r for r in (doc.supplement_entry("operations") if keyed else None,) if r]
    return [
        SeedGap(
            doc.api,
            "no_operation_id",
            f"{len(missing)} of {total} operations",
            "no operationId: " + ", ".join(missing[:6]) + (" …" if len(missing) > 6 else ""),
            tuple(resolutions),
            note='the supplement keys operations by "METHOD /path" and the links overlay names '
            "them by operationRef",
        )
    ]


def find_response_schemas(doc: Documents) -> list[SeedGap]:
    """Documented responses without a body schema, each with the entry that gives one."""
    findings = []
    for method, path, op in doc.operations():
        entry_path, entry = doc.supplement_operation(method, path, op)
        for status, response in (op.get("responses") or {}).items():
            response, _home = doc.resolve(response)
            if not isinstance(response, dict) or has_body_schema(response):
                continue
            if "text/event-stream" in (response.get("content") or {}):
                continue  # a stream: see undescribed_stream
            resolutions = []
            if str(status) in (entry.get("responses") or {}):
                found = doc.supplement_entry(f"{entry_path}.responses.{key_of(str(status))}")
                resolutions.append(found)
            if str(status)[0] in "45":
                resolutions += _error_resolutions(doc, entry_path, entry, str(status))
            findings.append(
                SeedGap(
                    doc.api,
                    "no_response_schema",
                    label_of(method, path, op),
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
        found.append(doc.supplement_entry(f"{entry_path}.error_codes.{key_of(status)}"))
    return found


def find_request_schemas(doc: Documents) -> list[SeedGap]:
    """POST/PUT/PATCH operations without a request body, or with one without a schema."""
    findings = []
    for method, path, op in doc.operations():
        if method not in BODY_METHODS:
            continue
        body = op.get("requestBody")
        if body is not None and has_body_schema(doc.resolve(body)[0] or {}):
            continue
        entry_path, entry = doc.supplement_operation(method, path, op)
        what = "no request body documented" if body is None else "a request body without schema"
        settled_by = "requestBody" if entry.get("requestBody") else None
        if body is None and entry.get("no_body") is True:
            settled_by = "no_body"  # the operation takes no body: there is nothing to describe
        if settled_by:
            found = doc.supplement_entry(f"{entry_path}.{settled_by}")
            findings.append(
                SeedGap(
                    doc.api,
                    "no_request_schema",
                    label_of(method, path, op),
                    what,
                    (found,) if found else (),
                )
            )
        else:
            findings.append(
                SeedGap(
                    doc.api,
                    "no_request_schema",
                    label_of(method, path, op),
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
            for c in CONSTRAINTS
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


def find_loose_request_schemas(doc: Documents) -> list[SeedGap]:
    """Request bodies whose rules (bounds, patterns, enums, required) only the supplement says."""
    findings = []
    for method, path, op in doc.operations():
        body = op.get("requestBody")
        if body is None or not has_body_schema(doc.resolve(body)[0] or {}):
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
            SeedGap(
                doc.api,
                "loose_request_schema",
                label_of(method, path, op),
                "the seed's body schema leaves rules open; the supplement adds " + "; ".join(added),
                (found,) if found else (),
            )
        )
    return findings


def resource_schema(doc: Documents, method: str, path: str, op: dict[str, Any]) -> tuple[str, Any]:
    """(name, schema) of the resource an operation acts on: its 2xx body schema in the seed, else
    the seed schema named after the path's collection (``/v1/invoices/{id}`` -> Invoice)."""
    for status, response in (op.get("responses") or {}).items():
        response, _h = doc.resolve(response)
        if str(status).startswith("2") and isinstance(response, dict):
            schema = (response.get("content") or {}).get("application/json", {}).get("schema")
            if isinstance(schema, dict) and "$ref" in schema:
                return schema["$ref"].rsplit("/", 1)[-1], schema
    name = resource_name_of(path)
    schemas = doc.seed.get("components", {}).get("schemas", {})
    return (name, schemas[name]) if name in schemas else ("", None)


def request_fields(doc: Documents, op: dict[str, Any]) -> dict[str, dict[str, Any]]:
    body = doc.resolve(op.get("requestBody") or {})[0] or {}
    schema = (body.get("content") or {}).get("application/json", {}).get("schema")
    return doc.properties(schema) if schema else {}


def settling_entries(doc: Documents, words: list[str]) -> list[Resolution]:
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
                hits.append(".".join(key_of(h) for h in here))
            walk(value, here)

    walk({k: v for k, v in doc.supplement.items() if k != "components"}, [])
    hits.sort(key=len)
    return [r for r in (doc.supplement_entry(h) for h in hits[:1]) if r]


def find_enum_mismatches(doc: Documents) -> list[SeedGap]:
    """Request enums with values that the resource's own enum of the same field lacks."""
    findings = []
    for method, path, op in doc.operations():
        fields = request_fields(doc, op)
        name, schema = resource_schema(doc, method, path, op)
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
                resolutions += settling_entries(doc, [str(value), name])
            findings.append(
                SeedGap(
                    doc.api,
                    "enum_mismatch",
                    label_of(method, path, op),
                    f"request {field} accepts {extra} but {name}.{field} has only "
                    f"{resource[field]['enum']}",
                    tuple(resolutions),
                )
            )
    return findings


def find_type_mismatches(doc: Documents) -> list[SeedGap]:
    """Fields typed one way in a request body and another in the resource it creates."""
    findings = []
    for method, path, op in doc.operations():
        name, schema = resource_schema(doc, method, path, op)
        if not schema:
            continue
        resource = doc.properties(schema)
        for field, rule in request_fields(doc, op).items():
            theirs = resource.get(field, {}).get("type")
            if rule.get("type") and theirs and rule["type"] != theirs:
                money = doc.supplement_entry("components.schemas.Money")
                findings.append(
                    SeedGap(
                        doc.api,
                        "type_mismatch",
                        label_of(method, path, op),
                        f"request {field} is a {rule['type']}, {name}.{field} a {theirs} "
                        f"(example {resource[field].get('example')!r})",
                        (money,) if money and field in ("amount", "price") else (),
                    )
                )
    return findings
