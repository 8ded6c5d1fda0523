"""The contract a run holds the target to, and the Schemathesis schema built from it.

Two levels:

- ``spec``: the seed document, plus what it states globally made explicit on every operation
  (the security scheme's 401/403, the rate limit's 429 with ``Retry-After``, the error envelope
  on 4xx answers that name no body), plus the links the stateful runs follow;
- ``strict``: all of that plus the supplement written beside the seed (``*.supplement.yaml``).

The seed files are never changed: every level is built in memory.
"""

from __future__ import annotations

import copy
import functools
from typing import Any

import schemathesis

from harness.apis import FACTS, ApiFacts
from harness.apis.documents import read as read_document
from harness.level import SUPPLEMENT, Level

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")

PROFILES: dict[str, dict[str, Any]] = {
    # Default: deterministic and small enough for every CI run. The spec level's cases by the
    # supplement's request rules (test_operation_positive) are examples and coverage cases
    # only: fuzzing them too would cost more than the rest of an API's run together.
    "default": {
        "max_examples": 8,
        "stateful_examples": 12,
        "stateful_steps": 6,
        "positive_phases": ["examples", "coverage"],
    },
    # Nightly: more examples, longer chains, every phase.
    "deep": {"max_examples": 200, "stateful_examples": 150, "stateful_steps": 20},
}
SEED = 42


def deep_merge(base: dict[str, Any], overlay: dict[str, Any]) -> dict[str, Any]:
    """``overlay`` merged into a copy of ``base``: mappings merge, anything else replaces."""
    merged = copy.deepcopy(base)
    for key, value in overlay.items():
        # A reference object is atomic: it replaces what was there rather than merge into it.
        if isinstance(value, dict) and isinstance(merged.get(key), dict) and "$ref" not in value:
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """Every (METHOD, path, operation object) of a document."""
    return [
        (method.upper(), path, op)
        for path, item in doc.get("paths", {}).items()
        for method, op in item.items()
        if method in METHODS and isinstance(op, dict)
    ]


def apply_global_statements(doc: dict[str, Any], profile: ApiFacts) -> dict[str, Any]:
    """Make the spec's global statements explicit on each operation it covers."""
    doc = copy.deepcopy(doc)
    envelope = {"application/json": {"schema": {"$ref": profile.error_schema_ref}}}
    global_security = doc.get("security")
    for _method, _path, op in operations(doc):
        responses = op.setdefault("responses", {})
        secured = op.get("security", global_security)
        for status, response in profile.global_statuses.items():
            if status in ("401", "403") and not secured:
                continue
            responses.setdefault(status, copy.deepcopy(response))
        for parameter in op.get("parameters", []):
            promised = profile.parameter_statuses.get(parameter.get("$ref"), {})
            for status, response in promised.items():
                responses.setdefault(status, copy.deepcopy(response))
        for status, response in responses.items():
            # One error envelope for the whole API: a 4xx that names no body carries it.
            if status.startswith("4") and "$ref" not in response and "content" not in response:
                response["content"] = copy.deepcopy(envelope)
    return doc


def never_applicable(doc: dict[str, Any]) -> dict[str, str]:
    """Built-in checks that nothing in ``doc`` (or the suite's auth setup) can trigger, with
    the reason: the report shows them as "n/a" instead of passes they never earned."""
    shared = doc.get("components", {}).get("parameters", {})
    found: dict[str, str] = {}
    required_headers = []
    for _method, path, op in operations(doc):
        for parameter in [*doc["paths"][path].get("parameters", []), *op.get("parameters", [])]:
            if "$ref" in parameter:
                parameter = shared.get(parameter["$ref"].rsplit("/", 1)[-1], {})
            if parameter.get("in") == "header" and parameter.get("required"):
                required_headers.append(parameter.get("name"))
    if not any(method == "DELETE" for method, _path, _op in operations(doc)):
        found["use_after_free"] = "no DELETE operation: nothing is ever freed"
    if not required_headers:
        found["missing_required_header"] = "no operation has a required header parameter"
    # Schemathesis needs several identities ([auth.wfc]) for it; the suite gives one key per
    # scheme and checks the same property itself with merchant B's key (merchant_isolation).
    found["object_level_authorization"] = "one identity per run; see merchant_isolation"
    return found


def _rewrite_refs(value: Any, seed_name: str) -> Any:
    """References into the seed file (``<seed>#/...``) made local (``#/...``)."""
    if isinstance(value, dict):
        return {
            k: (
                v.replace(f"{seed_name}#", "#")
                if k == "$ref" and isinstance(v, str)
                else _rewrite_refs(v, seed_name)
            )
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_rewrite_refs(v, seed_name) for v in value]
    return value


def _as_response(entry: dict[str, Any], status: str, profile: ApiFacts) -> dict[str, Any]:
    """A supplement response entry (description, ``$ref`` to a schema, headers) as OpenAPI."""
    response: dict[str, Any] = {"description": entry.get("description", f"{status} (supplement)")}
    if "$ref" in entry:
        response["content"] = {"application/json": {"schema": {"$ref": entry["$ref"]}}}
    elif "schema" in entry:
        response["content"] = {"application/json": {"schema": entry["schema"]}}
    elif status.startswith("4"):
        response["content"] = {"application/json": {"schema": {"$ref": profile.error_schema_ref}}}
    if "headers" in entry:
        response["headers"] = entry["headers"]
    return response


def supplement_overlay(profile: ApiFacts, seed: dict[str, Any]) -> dict[str, Any]:
    """The supplement as an OpenAPI overlay of the seed (paths and components).

    The supplement lists ``global_responses`` (every operation may give them) and, per
    operationId (or "METHOD path"), ``responses`` (status -> schema), ``error_codes``
    (status -> codes) and optionally ``requestBody``; its ``components.schemas`` are added
    beside the seed's and its ``components.parameters`` merged into the seed's shared
    parameters (after the profile's ``strict_parameters``).
    """
    data = _rewrite_refs(read_document(profile.documents.supplement), profile.documents.seed.name)
    schemas = {
        name: schema
        for name, schema in data.get("components", {}).get("schemas", {}).items()
        if schema != {"$ref": f"#/components/schemas/{name}"}
    }
    parameters = deep_merge(
        {
            name: change
            for name, change in profile.strict_parameters.items()
            if name in seed.get("components", {}).get("parameters", {})
        },
        data.get("components", {}).get("parameters", {}),
    )
    overlay: dict[str, Any] = {
        "components": {"schemas": schemas, "parameters": parameters},
        "paths": {},
    }
    for method, path, op in operations(seed):
        known = set(op.get("responses", {}))
        extra = data.get("operations", {}).get(op.get("operationId") or f"{method} {path}", {})
        responses = {
            status: _as_response(entry, status, profile)
            for status, entry in data.get("global_responses", {}).items()
            if status not in known
        }
        for status in extra.get("error_codes", {}):
            if status not in known:
                responses.setdefault(status, _as_response({}, status, profile))
        for status, entry in extra.get("responses", {}).items():
            responses[status] = _as_response(entry, status, profile)
        changes: dict[str, Any] = {"responses": responses}
        if "requestBody" in extra:
            changes["requestBody"] = extra["requestBody"]
        overlay["paths"].setdefault(path, {})[method.lower()] = changes
    return overlay


@functools.cache
def contract(api: str, level: str) -> dict[str, Any]:
    """The document a run at ``level`` holds the target to (links included)."""
    profile = FACTS[api]
    doc = read_document(profile.documents.seed)
    if Level.of(level).binds(SUPPLEMENT) and profile.documents.supplement.exists():
        doc = deep_merge(doc, supplement_overlay(profile, doc))
    doc = apply_global_statements(doc, profile)
    links = read_document(profile.documents.links)
    return deep_merge(doc, {k: links[k] for k in ("paths",) if k in links})


@functools.cache
def chaining_contract(api: str) -> dict[str, Any]:
    """The ``spec`` contract with the ``strict`` contract's request rules, for the stateful runs
    and the per-operation positive cases of the ``spec`` level.

    The seed alone leaves inputs so loose (any string is a phone number) that generated creates
    are refused before any business rule runs, and chains never start. Requests that the
    supplement calls valid are valid for the seed too, so generating them (positive data only)
    holds the target to nothing more; responses are still checked against the seed.
    """
    spec, strict = contract(api, Level.SPEC), contract(api, Level.STRICT)
    doc = copy.deepcopy(spec)
    components = doc.setdefault("components", {})
    for section in ("schemas", "parameters"):
        known = components.setdefault(section, {})
        for name, value in strict.get("components", {}).get(section, {}).items():
            # New schemas only (what the strict request rules refer to); the shared parameters'
            # rules are input rules, so the strict ones replace them.
            if section == "parameters" or name not in known:
                known[name] = copy.deepcopy(value)
    for method, path, op in operations(doc):
        strict_op = strict["paths"][path][method.lower()]
        for field in ("requestBody", "parameters"):
            if field in strict_op:
                op[field] = copy.deepcopy(strict_op[field])
    return doc


def contract_copy(api: str, level: str) -> dict[str, Any]:
    """A private copy of :func:`contract` (Schemathesis may annotate what it is given)."""
    return copy.deepcopy(contract(api, level))


def schemathesis_config(
    *,
    base_url: str,
    scheme: str,
    credentials: dict[str, str],
    profile: str,
    positive_only: bool = False,
) -> schemathesis.Config:
    """Schemathesis settings: target, auth for the scheme, seed and bounds of the profile."""
    bounds = PROFILES[profile]
    generation: dict[str, Any] = {
        "max-examples": bounds["max_examples"],
        "deterministic": profile == "default",
        # NUL where the seed allows a string: a store that takes none must still answer 4xx
        "allow-x00": True,
    }
    if positive_only:
        generation["mode"] = "positive"
    return schemathesis.Config.from_dict(
        {
            "seed": SEED,
            "warnings": False,
            "base-url": base_url,
            "request-timeout": 10,
            # Failures must carry a curl that reproduces them; the report puts environment
            # variables in place of the secrets instead of Schemathesis's "[Filtered]".
            "output": {"sanitization": {"enabled": False}},
            "auth": {"openapi": {scheme: credentials}},
            "checks": {
                # A documented business refusal (422: over the remainder, bank not supported) is a
                # valid answer to well-formed data; 400 to well-formed data is not.
                "positive_data_acceptance": {
                    "expected-statuses": [
                        "2xx",
                        "3xx",
                        "401",
                        "403",
                        "404",
                        "409",
                        "422",
                        "429",
                        "5xx",
                    ]
                },
            },
            "generation": generation,
        }
    )
