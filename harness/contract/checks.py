"""Payment checks of the contract suite, registered with ``@schemathesis.check``.

Each check looks only at what the spec and the API's documented semantics require: money is
never negative, refunds never exceed the amount, amounts keep their documented format, statuses
move only along the documented state machine, an Idempotency-Key replay returns the same object,
every 429 says when to come back, every 4xx carries the error envelope, and one merchant never
reads another's objects.

Return values follow Schemathesis 4: ``None`` when the check ran and held (counted as a pass),
``True`` when it does not apply (not counted): cases of schemas that are not the suite's, the
extra requests other checks send (OPTIONS probes and the like), answers it has nothing to say
about.
"""

from __future__ import annotations

import email.utils
import json
from collections.abc import Iterator
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar

import schemathesis
from schemathesis.core.failures import Failure

from harness import patience
from harness.apis import reachable
from harness.contract.context import RunContext, operation_key, run_of
from harness.contract.transport import call_patiently

PAYMENT_CHECKS = (
    "money_never_negative",
    "refunds_within_amount",
    "amount_format",
    "status_follows_state_machine",
    "idempotent_replay",
    "retry_after_on_429",
    "error_envelope",
    "merchant_isolation",
)


class PaymentCheckFailure(Failure):
    """A payment-specific check failed."""

    code: ClassVar[str] = "ST990"
    kind_title: ClassVar[str] = "Payment check failed"


def _fail(case: schemathesis.Case, title: str, message: str) -> PaymentCheckFailure:
    return PaymentCheckFailure(operation=case.operation.label, title=title, message=message)


def _applicable(case: schemathesis.Case, response: schemathesis.Response) -> RunContext | None:
    run = run_of(case)
    if run is None or response.request.method != case.method.upper():
        return None
    return run


def _json(response: schemathesis.Response) -> Any:
    try:
        return json.loads(response.content or b"")
    except (ValueError, UnicodeDecodeError):
        return None


def _walk(body: Any, path: str = "") -> Iterator[tuple[str, str, Any]]:
    """(json path, key, value) of every object member, at any depth."""
    if isinstance(body, dict):
        for key, value in body.items():
            yield f"{path}.{key}", key, value
            yield from _walk(value, f"{path}.{key}")
    elif isinstance(body, list):
        for index, value in enumerate(body):
            yield from _walk(value, f"{path}[{index}]")


def _as_decimal(value: Any) -> Decimal | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return Decimal(str(value))
    if isinstance(value, str):
        try:
            return Decimal(value)
        except InvalidOperation:
            return None
    return None


def _pointer(body: Any, pointer: str) -> Any:
    for part in [p for p in pointer.split("/") if p]:
        if not isinstance(body, dict):
            return None
        body = body.get(part)
    return body


@schemathesis.check
def money_never_negative(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """No money field of any response is below zero."""
    run = _applicable(case, response)
    if run is None:
        return True
    for path, key, value in _walk(_json(response)):
        amount = _as_decimal(value) if key in run.profile.money_fields else None
        if amount is not None and amount < 0:
            raise _fail(case, "Money amount is negative", f"`{path[1:]}` is {value!r}")
    return None


@schemathesis.check
def amount_format(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Every money field of a successful response has the API's documented format."""
    run = _applicable(case, response)
    if run is None or not 200 <= response.status_code < 300:
        return True
    for path, key, value in _walk(_json(response)):
        if (
            key in run.profile.money_fields
            and value is not None
            and not (run.profile.amount_check(value))
        ):
            raise _fail(
                case,
                "Amount has the wrong format",
                f"`{path[1:]}` is {value!r}; {run.profile.name} amounts are "
                f"{run.profile.amount_format}",
            )
    return None


def _refund_problem(obj: dict[str, Any]) -> str | None:
    amount = _as_decimal(obj.get("amount"))
    if amount is None:
        return None
    for field in ("amount_refunded", "refunded_amount"):
        refunded = _as_decimal(obj.get(field))
        if refunded is not None and refunded > amount:
            return f"`{field}` {obj[field]!r} exceeds `amount` {obj['amount']!r}"
    refunds = obj.get("refunds")
    if isinstance(refunds, list):
        total = sum(
            (_as_decimal(r.get("amount")) or Decimal(0))
            for r in refunds
            if isinstance(r, dict) and r.get("status") != "failed"
        )
        if total > amount:
            return f"refunds sum to {total}, above `amount` {obj['amount']!r}"
    return None


@schemathesis.check
def refunds_within_amount(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Refunded money never exceeds the amount, in any response and after every refund."""
    run = _applicable(case, response)
    if run is None or not 200 <= response.status_code < 300:
        return True
    body = _json(response)
    for obj in [body, *(v for _p, _k, v in _walk(body))]:
        problem = _refund_problem(obj) if isinstance(obj, dict) else None
        if problem:
            raise _fail(case, "Refunds exceed the payment amount", problem)
    if operation_key(case)[1].endswith("/refund"):
        # Check the refunded object as a client would see it after the refund.
        parent_id = (case.path_parameters or {}).get("id")
        url = run.base_url + run.profile.parent_read.format(id=parent_id)
        parent = patience.request("GET", url, headers=run.auth_headers, timeout=10)
        try:
            parent_body = parent.json() if parent.ok else None
        except ValueError:
            parent_body = None
        problem = _refund_problem(parent_body) if isinstance(parent_body, dict) else None
        if problem:
            raise _fail(
                case,
                "Refunds exceed the payment amount",
                f"after this refund was accepted, GET {url} shows {problem}",
            )
    return None


@schemathesis.check
def status_follows_state_machine(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Statuses only move along the documented state machine; cancel and refund respect it."""
    run = _applicable(case, response)
    if run is None or not 200 <= response.status_code < 300:
        return True
    key = operation_key(case)
    body = _json(response)
    path_id = str((case.path_parameters or {}).get("id", ""))
    with run.lock:
        if key in run.profile.preconditions:
            kind, allowed = run.profile.preconditions[key]
            seen = run.seen_statuses.get((kind, path_id))
            graph = run.profile.transitions[kind]
            if seen and not any(reachable(graph, seen[-1], s) for s in allowed):
                verb = "Cancel" if key[1].endswith("/cancel") else "Refund"
                raise _fail(
                    case,
                    "Status moved outside the documented state machine",
                    f"{verb} of {kind} {path_id} was accepted ({response.status_code}) although "
                    f"it was {seen[-1]!r}; allowed only from {sorted(allowed)}",
                )
        for ref in run.profile.objects.get(key, ()):
            obj = _pointer(body, ref.pointer)
            if not isinstance(obj, dict) or not isinstance(obj.get("status"), str):
                continue
            obj_id = path_id if ref.id_from_path else str(obj.get(ref.id_field, ""))
            graph = run.profile.transitions[ref.kind]
            history = run.seen_statuses.setdefault((ref.kind, obj_id), [])
            if history and not reachable(graph, history[-1], obj["status"]):
                raise _fail(
                    case,
                    "Status moved outside the documented state machine",
                    f"{ref.kind} {obj_id} went from {history[-1]!r} to {obj['status']!r} "
                    f"(seen so far: {' -> '.join(history)})",
                )
            if not history or history[-1] != obj["status"]:
                history.append(obj["status"])
    return None


@schemathesis.check
def idempotent_replay(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Replaying a create with the same Idempotency-Key and body returns the same object."""
    run = _applicable(case, response)
    if run is None or response.status_code != 201:
        return True
    pointer = run.profile.idempotent_creates.get(operation_key(case))
    headers = {k.lower(): v for k, v in (case.headers or {}).items()}
    key = headers.get("idempotency-key")
    if pointer is None or not isinstance(key, str) or not key.strip():
        return True
    first_id = _pointer(_json(response), pointer)
    replay = call_patiently(case)
    replay_body = _json(replay)
    replay_id = _pointer(replay_body, pointer)
    if not 200 <= replay.status_code < 300 or replay_id != first_id:
        raise _fail(
            case,
            "Idempotency-Key replay did not return the same object",
            f"first: 201 with id {first_id!r}; replay with Idempotency-Key {key!r}: "
            f"{replay.status_code} with id {replay_id!r}",
        )
    flag = replay_body.get("idempotent") if isinstance(replay_body, dict) else None
    if flag is False:
        raise _fail(
            case,
            "Idempotency-Key replay did not return the same object",
            "the replay answered `idempotent: false`",
        )
    return None


def _valid_retry_after(value: str) -> bool:
    value = value.strip()
    if value.isdigit():
        return True
    return email.utils.parsedate_to_datetime(value) is not None if value else False


@schemathesis.check
def retry_after_on_429(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Every 429 carries a Retry-After header (seconds or an HTTP date)."""
    run = run_of(case)
    if run is None or response.status_code != 429:
        return True
    values = response.headers.get("retry-after") or []
    try:
        ok = bool(values) and _valid_retry_after(values[0])
    except (TypeError, ValueError):
        ok = False
    if not ok:
        raise _fail(
            case,
            "429 without a valid Retry-After",
            f"Retry-After: {values[0]!r}" if values else "the 429 has no Retry-After header",
        )
    return None


@schemathesis.check
def error_envelope(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Every 4xx answer to a documented operation carries the API's error envelope."""
    run = _applicable(case, response)
    if run is None or not 400 <= response.status_code < 500:
        return True
    body = _json(response)
    problem = run.profile.envelope_problem(body)
    if problem:
        shown = (response.content or b"")[:200].decode("utf-8", "replace")
        raise _fail(
            case,
            "4xx error body is not the documented error envelope",
            f"{response.status_code} body {shown!r}: {problem}",
        )
    return None


@schemathesis.check
def merchant_isolation(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case
) -> bool | None:
    """Another merchant's key cannot read an object that this merchant just read.

    Not applicable when merchant B's key itself is refused (401/403): only an answer to a
    valid key shows whether the object is kept apart.
    """
    run = _applicable(case, response)
    if (
        run is None
        or not run.other_merchant_headers
        or not 200 <= response.status_code < 300
        or operation_key(case) not in run.profile.object_reads
    ):
        return True
    url = str(response.request.url)
    with run.lock:
        if url in run.probed:
            return True
        run.probed.add(url)
    other = patience.request("GET", url, headers=run.other_merchant_headers, timeout=10)
    if other.status_code in (401, 403):
        # Merchant B's key was refused: that says nothing about isolation (preflight checks it).
        return True
    if 200 <= other.status_code < 300:
        raise _fail(
            case,
            "Another merchant can read this object",
            f"GET {url} with merchant B's credentials answered {other.status_code}",
        )
    return None
