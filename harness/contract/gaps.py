"""Tell spec gaps from implementation failures.

At the ``spec`` level a built-in check may fail only because the seed document is silent: a
status it does not list, a response it gives no schema. When the ``strict`` contract (the seed
plus its supplement) accepts the same response, the failure is a spec gap: it is dropped from
the failures (a ``filter_failure`` hook) and reported apart, with the supplement entry that
settles it. What the strict contract rejects too stays an implementation failure.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jsonschema
import schemathesis
import yaml
from schemathesis.core import NotSet
from schemathesis.core.failures import Failure, FailureGroup, MalformedJson, ServerError
from schemathesis.openapi.checks import (
    DiscriminatorMismatch,
    JsonSchemaError,
    MalformedMediaType,
    MissingContentType,
    MissingHeaders,
    RejectedPositiveData,
    UndefinedContentType,
    UndefinedStatusCode,
)
from schemathesis.specs.openapi import checks as builtin

from harness.contract.context import RunContext, documents_status, run_of
from harness.contract.loader import contract

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


@dataclasses.dataclass(frozen=True)
class SpecGap:
    """What the seed leaves open, and the supplement entry that settles it."""

    api: str
    operation: str
    check: str
    observed: str
    entry_path: str
    entry: str


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
    doc = contract(run.api, "strict")
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
    shared = contract(run.api, "strict").get("components", {}).get("parameters", {})
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
    root = {**schema, "components": contract(run.api, "strict").get("components", {})}
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


def classify(
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
    if run is None or run.level != "spec":
        return True
    try:
        gap = classify(run, _check_context(run, case), failure, case, response)
    except Exception:  # a classifier bug must neither hide the failure nor stop the checks
        return True
    if gap is None:
        return True
    run.report.add_gap(gap)
    return False
