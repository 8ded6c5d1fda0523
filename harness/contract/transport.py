"""Calls that respect the target's rate limit: a 429 with Retry-After is waited out, not failed.

A 429 without a usable Retry-After is returned as it is, so the ``retry_after_on_429`` check
sees it. Waits and retries are bounded (:mod:`harness.patience`). A create of what the seed
gives no way to delete is sent only within the run's allowance (:mod:`harness.leftovers`).
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from schemathesis.core.failures import FailureGroup
from schemathesis.generation import GenerationMode

from harness import leftovers, patience
from harness.contract.context import operation_key, run_of


def call_patiently(case: schemathesis.Case, **kwargs: Any) -> schemathesis.Response:
    """``case.call()``, waiting and retrying while the target answers 429 with Retry-After."""
    allowance = _allowance(case)
    if allowance is not None:
        valid = case.meta is None or case.meta.generation.mode is GenerationMode.POSITIVE
        if not allowance.may_send(valid):
            pytest.skip(allowance.reason())  # the operation's other cases are not sent
        if valid and isinstance(case.body, dict):
            case.body = {**case.body, **allowance.kind.quiet}
    response = patience.patiently(lambda: case.call(**kwargs), lambda r: (r.status_code, r.headers))
    if allowance is not None:
        allowance.answered(response.status_code)
    return response


def _allowance(case: schemathesis.Case) -> leftovers.Allowance | None:
    """The run's allowance for the case's operation, when it makes what cannot be deleted."""
    run = run_of(case)
    if run is None:
        return None
    key = operation_key(case)
    kind = leftovers.undeletable(run.api, *key)
    if kind is None:
        return None
    with run.lock:
        if key not in run.allowances:
            listed = leftovers.count(run.base_url, kind.list_path, run.auth_headers)
            run.allowances[key] = leftovers.Allowance(kind, listed)
        return run.allowances[key]


def validate(case: schemathesis.Case, response: Any, **kwargs: Any) -> None:
    """``case.validate_response`` whose failure names no secret.

    The failure text carries a curl command with the request's headers as sent; the credentials
    in it are replaced by the environment variables that hold them.
    """
    try:
        case.validate_response(response, **kwargs)
    except FailureGroup as group:
        run = run_of(case)
        text = str(group.args[0]) if group.args else str(group)
        raise AssertionError(run.report.redact(text) if run else text) from None


def call_and_check(
    case: schemathesis.Case, keep_going: bool = False, **kwargs: Any
) -> schemathesis.Response:
    """Call patiently, then run every enabled check (built-in and the suite's) on the answer.

    With ``keep_going`` failed checks do not raise: they are in the run's report (through the
    ``after_validate`` hook), and generation goes on to the next example. Without it the first
    failing answer raises ``AssertionError`` with every failed check, secrets masked.
    """
    response = call_patiently(case, **kwargs)
    try:
        validate(case, response, transport_kwargs=kwargs or None)
    except AssertionError:
        if not keep_going:
            raise
    return response
