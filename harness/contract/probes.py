"""Hand-built requests for the suites' probes: the behaviours no single generated request
reaches (a replay, a second cancel, refunds up to and past the amount, a 429).

Every probe goes through the run's schema, so each answer gets every check a generated case
gets (built-in and the suite's), and is recorded in the run's report the same way.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
import requests
import schemathesis
from schemathesis.specs.openapi.checks import response_headers_conformance

from harness.contract.checks import error_envelope, retry_after_on_429
from harness.contract.context import run_of_schema
from harness.contract.transport import call_and_check, retry_after_seconds, validate

RATE_LIMIT_ATTEMPTS = 20


def auth_headers(schema: schemathesis.BaseSchema) -> dict[str, str]:
    """The run's credentials (cases built by hand do not get the configured auth)."""
    return dict(run_of_schema(schema).auth_headers)


def operation(schema: schemathesis.BaseSchema, path: str, method: str) -> Any:
    """An operation of the run, or a skip when ``--contract-operation`` left it out."""
    try:
        return schema[path][method]
    except LookupError:
        pytest.skip(f"{method} {path} is not among the operations of this run")


def call(
    schema: schemathesis.BaseSchema,
    method: str,
    path: str,
    *,
    obj_id: str | None = None,
    body: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> schemathesis.Response:
    """One request to an operation of the contract, every check run on its answer."""
    kwargs: dict[str, Any] = {"headers": {**auth_headers(schema), **(headers or {})}}
    if obj_id is not None:
        kwargs["path_parameters"] = {"id": obj_id}
    if body is not None:
        kwargs.update(body=body, media_type="application/json")
    return call_and_check(operation(schema, path, method).Case(**kwargs))


def create(
    schema: schemathesis.BaseSchema,
    path: str,
    body: dict[str, Any],
    id_pointer: str,
    **headers: str,
) -> str:
    """Create an object (201 expected) and return its id, found at ``id_pointer``."""
    response = call(schema, "POST", path, body=body, headers=headers)
    assert response.status_code == 201, f"{response.status_code} {response.text[:300]}"
    value: Any = response.json()
    for part in [p for p in id_pointer.split("/") if p]:
        value = value[part]
    return str(value)


def rate_limit_says_when_to_retry(
    schema: schemathesis.BaseSchema, path: str, limited_headers: dict[str, str]
) -> None:
    """Provoke a 429 with a low-limit key: it carries Retry-After, and waiting it out works."""
    run = run_of_schema(schema)
    case = operation(schema, path, "GET").Case()
    url = f"{run.base_url}{path}"
    for _ in range(RATE_LIMIT_ATTEMPTS):
        response = requests.get(url, headers=limited_headers, timeout=10)
        if response.status_code == 429:
            break
    else:
        pytest.skip(f"never rate limited within {RATE_LIMIT_ATTEMPTS} requests")
    validate(
        case, response, checks=[retry_after_on_429, error_envelope, response_headers_conformance]
    )
    wait = retry_after_seconds(response.headers.get("Retry-After"))
    assert wait is not None and wait <= 10, f"Retry-After {wait} s"
    time.sleep(wait + 0.05)
    assert requests.get(url, headers=limited_headers, timeout=10).status_code != 429
