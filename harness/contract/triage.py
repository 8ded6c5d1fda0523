"""Triage of a failed check: an implementation failure, or a spec gap (what the seed leaves open).

At the ``spec`` level a built-in check may fail only because the seed document is silent: a
status it does not list, a response it gives no schema. When the ``strict`` contract (the seed
plus its supplement) accepts the same response, the failure is a spec gap: it is dropped from
the failures (a ``filter_failure`` hook) and reported apart, with the supplement entry that
settles it. What the strict contract rejects too stays an implementation failure.
"""

from __future__ import annotations

import json
import re
from typing import Any

import jsonschema
import schemathesis
import yaml
from schemathesis.core import NotSet
from schemathesis.core.failures import (
    AcceptedNegativeData,
    Failure,
    FailureGroup,
    MalformedJson,
    ServerError,
)
from schemathesis.openapi.checks import (
    DiscriminatorMismatch,
    JsonSchemaError,
    MalformedMediaType,
    MissingContentType,
    MissingHeaders,
    RejectedPositiveData,
    UndefinedContentType,
    UndefinedStatusCode,
    UnsupportedMethodResponse,
)
from schemathesis.specs.openapi import checks as builtin

from harness.contract.context import RunContext, documents_status, run_of
from harness.contract.loader import contract
from harness.contract.record import SpecGap
from harness.contract.transport import call_patiently
from harness.level import SUPPLEMENT, Level
from harness.pointer import resolve as resolve_pointer

# Failure type -> the built-in check that raises it, re-run against the strict contract.
_RESPONSE_CHECKS: dict[type[Failure], Any] = {
    UndefinedStatusCode: builtin.status_code_conformance,
    MissingHeaders: builtin.response_headers_conformance,
    JsonSchemaError: builtin.response_schema_conformance,
    MalformedJson: builtin.response_schema_conformance,
    DiscriminatorMismatch: builtin.response_schema_conformance,
    MissingContentType: builtin.content_type_conformance,
    MalformedMediaType: builtin.content_type_conformance,
    UndefinedContentType: builtin.content_type_conformance,
}


OPENAPI_RESPONSES = "openapi-3.0.3#/components/responses-object"
RFC_501 = "rfc9110#section-15.6.2"
JSON_SCHEMA_FORMAT = "json-schema-validation#section-7.2"
_FORMAT_ONLY = re.compile(r"^Invalid component: .*Value not matching the '[\w-]+' format\s*$", re.M)


def _check_context(run: RunContext, case: schemathesis.Case) -> schemathesis.CheckContext:
    strict = run.strict_schema()
    return schemathesis.CheckContext(
        override=None,
        auth=None,
        headers=None,
        config=strict.config.checks_config_for(operation=case.operation, phase=None),
        transport_kwargs=None,
        recorder=None,
        response_checks=None,
        phase=None,
    )


def _strict_operation(run: RunContext, case: schemathesis.Case) -> dict[str, Any] | None:
    doc = contract(run.api, Level.STRICT)
    op = doc.get("paths", {}).get(case.operation.path, {}).get(case.method.lower())
    return op if isinstance(op, dict) else None


def _entry(path: str, method: str, section: str, key: str | None, value: Any) -> tuple[str, str]:
    inner = {key: value} if key is not None else value
    snippet = {"paths": {path: {method: {section: inner}}}}
    where = f"paths.{path}.{method}.{section}" + (f".{key}" if key is not None else "")
    return where, yaml.safe_dump(snippet, allow_unicode=True, sort_keys=False).rstrip()


def _strict_accepts_response(
    run: RunContext,
    ctx: schemathesis.CheckContext,
    check: Any,
    case: schemathesis.Case,
    response: schemathesis.Response,
) -> bool:
    strict_schema = run.strict_schema()
    try:
        operation = strict_schema[case.operation.path][case.method.upper()]
    except LookupError:
        return False
    strict_case = operation.Case(
        path_parameters=case.path_parameters,
        headers=case.headers,
        query=case.query,
        body=case.body,
        media_type=case.media_type,
    )
    try:
        check(ctx, response, strict_case)
    except (Failure, AssertionError, FailureGroup):
        # Several violations of one schema come as a group.
        return False
    return True


def _strict_parameters(run: RunContext, op: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    """(where it is defined, parameter) of the strict operation's parameters."""
    shared = contract(run.api, Level.STRICT).get("components", {}).get("parameters", {})
    resolved = []
    for parameter in op.get("parameters", []):
        ref = parameter.get("$ref", "")
        if ref.startswith("#/components/parameters/"):
            name = ref.rsplit("/", 1)[-1]
            resolved.append((f"components.parameters.{name}", shared.get(name, {})))
        else:
            resolved.append(("", parameter))
    return resolved


def _schema_problem(run: RunContext, schema: dict[str, Any], value: Any) -> str | None:
    root = {**schema, "components": contract(run.api, Level.STRICT).get("components", {})}
    error = jsonschema.exceptions.best_match(jsonschema.Draft4Validator(root).iter_errors(value))
    return error.message if error is not None else None


def _strict_rejects_data(run: RunContext, case: schemathesis.Case) -> tuple[str, str, Any] | None:
    """(where, why, entry) when the strict contract rejects data the spec allows, else None.

    ``where`` is the contract entry that settles it: the operation's ``requestBody``, one of its
    ``parameters`` or a shared parameter (``components.parameters.<name>``).
    """
    op = _strict_operation(run, case) or {}
    values = {
        "header": {k.lower(): v for k, v in (case.headers or {}).items()},
        "query": dict(case.query or {}),
        "path": dict(case.path_parameters or {}),
    }
    for shared, parameter in _strict_parameters(run, op):
        given = values.get(parameter.get("in", ""), {})
        name = parameter.get("name", "")
        key = name.lower() if parameter.get("in") == "header" else name
        if key in given and "schema" in parameter:
            problem = _schema_problem(run, parameter["schema"], given[key])
            if problem:
                return shared or "parameters", f"{name}: {problem}", parameter
    body = op.get("requestBody", {})
    if isinstance(case.body, NotSet):
        if body.get("required"):
            return "requestBody", "the body is required", body
        return None
    content = body.get("content", {}).get("application/json", {})
    if content.get("schema") is not None:
        problem = _schema_problem(run, content["schema"], case.body)
        if problem:
            return "requestBody", problem, body
    return None


def _methods_in_use(api: str) -> set[str]:
    """The methods the seed uses on any path: for these a 405, for others 501 is fine."""
    paths = contract(api, Level.SPEC).get("paths", {})
    return {m.upper() for ops in paths.values() for m in ops if m != "parameters"}


def _enveloped_4xx(run: RunContext, response: schemathesis.Response) -> bool:
    """A 4xx whose body is the API's error envelope (a deliberate refusal, not a crash)."""
    if not 400 <= response.status_code < 500:
        return False
    try:
        body = json.loads(response.content or b"")
    except (ValueError, UnicodeDecodeError):
        return False
    return run.profile.envelope_problem(body) is None


def _resolve(doc: dict[str, Any], schema: Any) -> Any:
    while isinstance(schema, dict) and "$ref" in schema:
        schema = resolve_pointer(doc, schema["$ref"].removeprefix("#"))
    return schema


def _minimal(doc: dict[str, Any], schema: Any) -> Any:
    """The smallest ordinary value of a schema: required properties only, examples where
    given, one item in an array."""
    schema = _resolve(doc, schema) or {}
    if "example" in schema:
        return schema["example"]
    if "default" in schema:
        return schema["default"]
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        props = schema.get("properties", {})
        return {name: _minimal(doc, props.get(name, {})) for name in schema.get("required", [])}
    if "enum" in schema:
        return schema["enum"][0]
    if kind == "array":
        return [_minimal(doc, schema["items"])] if schema.get("items") else []
    return {"string": "x", "integer": 1, "number": 1, "boolean": False, "array": []}.get(str(kind))


def _beyond_minimal(
    run: RunContext, case: schemathesis.Case, response: schemathesis.Response
) -> bool:
    """Whether the target refused generated data (with its envelope) but accepts the
    operation's minimal example: then the seed is loose, not the target wrong."""
    if not _enveloped_4xx(run, response):
        return False
    label = case.operation.label
    with run.lock:
        known = run.minimal_accepted.get(label)
    if known is None:
        # The seed's request body; where the seed has none, the supplement's (the data of
        # test_operation_positive comes from its rules).
        for level in Level:
            doc = contract(run.api, level)
            op = doc.get("paths", {}).get(case.operation.path, {}).get(case.method.lower(), {})
            content = (op.get("requestBody") or {}).get("content", {}).get("application/json")
            if content and content.get("schema") is not None:
                break
        kwargs: dict[str, Any] = {
            "headers": dict(run.auth_headers),
            "path_parameters": dict(case.path_parameters or {}),
        }
        if content and content.get("schema") is not None:
            kwargs.update(body=_minimal(doc, content["schema"]), media_type="application/json")
        minimal = case.operation.Case(**kwargs)
        known = 200 <= call_patiently(minimal).status_code < 300
        with run.lock:
            run.minimal_accepted[label] = known
    return known


def classify(
    run: RunContext,
    ctx: schemathesis.CheckContext,
    failure: Failure,
    case: schemathesis.Case,
    response: schemathesis.Response,
) -> SpecGap | None:
    """A SpecGap when the strict contract accepts what the spec-level check rejected, or when
    HTTP and OpenAPI leave it to the server (the supplement's settlement is named first)."""
    return _settled(run, ctx, failure, case, response) or _latitude(run, failure, case, response)


def _latitude(
    run: RunContext,
    failure: Failure,
    case: schemathesis.Case,
    response: schemathesis.Response,
) -> SpecGap | None:
    """What HTTP and OpenAPI leave to any server, whatever the supplement says."""
    if isinstance(failure, UndefinedStatusCode) and _enveloped_4xx(run, response):
        return SpecGap(
            run.api,
            case.operation.label,
            "status_code_conformance",
            f"{response.status_code}: a client error the seed does not list for this operation",
            OPENAPI_RESPONSES,
            "OpenAPI 3.0.3 does not require an operation's responses to cover every status; "
            "a 4xx with the API's error envelope is the target's own refusal",
        )
    if isinstance(failure, RejectedPositiveData) and _beyond_minimal(run, case, response):
        return SpecGap(
            run.api,
            case.operation.label,
            "positive_data_acceptance",
            f"{response.status_code} to generated data the seed does not bound; the seed's "
            "minimal example is accepted",
            OPENAPI_RESPONSES,
            "the seed's schema sets no bounds here: the target validates further, and accepts "
            "the operation's minimal example",
        )
    return None


def _settled(
    run: RunContext,
    ctx: schemathesis.CheckContext,
    failure: Failure,
    case: schemathesis.Case,
    response: schemathesis.Response,
) -> SpecGap | None:
    """A SpecGap when the strict contract accepts what the spec-level check rejected."""
    path, method = case.operation.path, case.method.lower()
    status = str(response.status_code)
    check = _RESPONSE_CHECKS.get(type(failure))
    method_sent = str(response.request.method or "").upper()
    if (
        isinstance(failure, UnsupportedMethodResponse | ServerError)
        and response.status_code == 501
        and method_sent not in _methods_in_use(run.api)
    ):
        return SpecGap(
            run.api,
            case.operation.label,
            "unsupported_method",
            f"501 to {method_sent}, a method the API uses on no path",
            RFC_501,
            "RFC 9110 §15.6.2: 501 is the appropriate answer to a method the server supports "
            "for no resource",
        )
    if isinstance(failure, AcceptedNegativeData) and _FORMAT_ONLY.search(failure.message):
        return SpecGap(
            run.api,
            case.operation.label,
            "negative_data_rejection",
            f"{response.status_code} to a value outside a `format` ({failure.message.strip()})",
            JSON_SCHEMA_FORMAT,
            "in JSON Schema `format` is an annotation: the seed does not say the server "
            "refuses a value outside it",
        )
    if check is not None:
        if not _strict_accepts_response(run, ctx, check, case, response):
            return None
        responses = (_strict_operation(run, case) or {}).get("responses", {})
        value = responses.get(status) or responses.get(f"{status[0]}XX") or responses.get("default")
        where, entry = _entry(path, method, "responses", status, value)
        return SpecGap(
            run.api,
            case.operation.label,
            check.__name__,
            f"{response.status_code} {failure.title}",
            where,
            entry,
        )
    if isinstance(failure, RejectedPositiveData):
        rejected = _strict_rejects_data(run, case)
        if rejected is None:
            return None
        section, reason, value = rejected
        if section.startswith("components."):
            _c, _p, name = section.split(".")
            where = section
            shown = {k: v for k, v in value.items() if k != "description"}
            entry = yaml.safe_dump(
                {"components": {"parameters": {name: shown}}}, allow_unicode=True, sort_keys=False
            ).rstrip()
        else:
            where, entry = _entry(path, method, section, None, value)
        return SpecGap(
            run.api,
            case.operation.label,
            "positive_data_acceptance",
            f"{response.status_code} to data the spec allows ({reason})",
            where,
            entry,
        )
    return None


@schemathesis.hook
def filter_failure(
    context: schemathesis.HookContext,
    failure: Failure,
    case: schemathesis.Case,
    response: schemathesis.Response,
) -> bool:
    """Drop spec gaps from the failures at the ``spec`` level (they are reported apart), and
    5xx answers the operation documents at any level (Kaspi's 502: Kaspi refused the invoice).

    A documented 5xx is what the API promised for that case, not a crash; the response is
    still held to every other check (its status, schema and error envelope).
    """
    if isinstance(failure, ServerError) and documents_status(case, response.status_code):
        return False
    run = run_of(case)
    if run is None or run.level.binds(SUPPLEMENT):
        return True  # the run's schema is the strict contract already: nothing is a gap
    try:
        gap = classify(run, _check_context(run, case), failure, case, response)
    except Exception:  # a classifier bug must neither hide the failure nor stop the checks
        return True
    if gap is None:
        return True
    run.report.add_gap(gap)
    return False
