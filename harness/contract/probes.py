"""Hand-built requests for the suites' probes: the behaviours no single generated request
reaches (a replay, a second cancel, refunds up to and past the amount, a 429).

Every probe goes through the run's schema, so each answer gets every check a generated case
gets (built-in and the suite's), and is recorded in the run's report the same way.
"""

from __future__ import annotations

import json
import time
from typing import Any

import requests
import schemathesis
from schemathesis.specs.openapi.checks import response_headers_conformance

from harness.contract.checks import error_envelope, retry_after_on_429
from harness.contract.context import run_of_schema
from harness.contract.transport import call_and_check, validate
from harness.patience import retry_after_seconds
from harness.promises import Why, not_exercised

RATE_LIMIT_ATTEMPTS = 20
# Text as the seeds' own examples write it ("Подписка Pro · 1 месяц", "Заказ #1042"): Cyrillic,
# Kazakh letters, punctuation outside ASCII, a character outside the BMP. Generated data reaches
# such text only by chance; every free-text field of a create gets it in a probe.
NATIVE_TEXT = "Заказ №7 · Алматы, Қазақстан ☕ «тест»"


def auth_headers(schema: schemathesis.BaseSchema) -> dict[str, str]:
    """The run's credentials (cases built by hand do not get the configured auth)."""
    return dict(run_of_schema(schema).auth_headers)


def operation(schema: schemathesis.BaseSchema, path: str, method: str) -> Any:
    """An operation of the run, or a skip when ``--contract-operation`` left it out."""
    try:
        return schema[path][method]
    except LookupError:
        raise not_exercised(
            Why.NOT_SELECTED, f"{method} {path} is not among the operations of this run"
        ) from None


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
    """Create an object (201 expected) and return its id, found at ``id_pointer``.

    Whatever the target answers instead is a named failure of the target (an empty or non-JSON
    body, no id), never an error of the harness.
    """
    response = call(schema, "POST", path, body=body, headers=headers)
    said = f"POST {path} answered {response.status_code}"
    assert response.status_code == 201, (
        f"{said}, expected 201 (created): {response.text[:300] or '(empty body)'}"
    )
    if not response.content:
        raise AssertionError(f"{said} with an empty body, expected the created object")
    try:
        value: Any = json.loads(response.content)
    except ValueError:
        raise AssertionError(
            f"{said} with a body that is not JSON: {response.text[:300]!r}"
        ) from None
    for part in [p for p in id_pointer.split("/") if p]:
        value = value.get(part) if isinstance(value, dict) else None
    if not isinstance(value, str | int) or value == "":
        raise AssertionError(f"{said} without an id at {id_pointer}: {response.text[:300]}")
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
        raise not_exercised(Why.TARGET, f"never rate limited within {RATE_LIMIT_ATTEMPTS} requests")
    validate(
        case, response, checks=[retry_after_on_429, error_envelope, response_headers_conformance]
    )
    wait = retry_after_seconds(response.headers.get("Retry-After"))
    assert wait is not None and wait <= 10, f"Retry-After {wait} s"
    time.sleep(wait + 0.05)
    assert requests.get(url, headers=limited_headers, timeout=10).status_code != 429
