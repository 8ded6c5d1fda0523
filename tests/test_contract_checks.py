"""The suite's checks in isolation: what counts as held, failed or not applicable."""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

import pytest
import requests

from harness.apis import FACTS
from harness.contract import auth, checks
from harness.contract.context import RunContext
from harness.contract.record import Report

URL = "http://target/api/v1/public/payments/p1"


def _run() -> RunContext:
    return RunContext(
        profile=FACTS["freefin"],
        level="spec",
        base_url="http://target",
        auth_headers={"Authorization": "Bearer a"},
        other_merchant_headers={"Authorization": "Bearer b"},
        signing_secret="",
        report=Report(),
        strict_factory=lambda: None,  # type: ignore[arg-type,return-value]
    )


def _isolation(monkeypatch: pytest.MonkeyPatch, b_status: int) -> bool | None:
    """merchant_isolation on a 200 read of merchant A, merchant B answered ``b_status``."""
    run = _run()
    monkeypatch.setattr(checks, "run_of", lambda case: run)
    monkeypatch.setattr(
        checks.patience,
        "request",
        lambda method, url, **kw: SimpleNamespace(status_code=b_status, headers={}),
    )
    operation = SimpleNamespace(
        method="GET", path="/api/v1/public/payments/{id}", label="GET /api/v1/public/payments/{id}"
    )
    case: Any = SimpleNamespace(method="GET", operation=operation)
    response: Any = SimpleNamespace(status_code=200, request=SimpleNamespace(method="GET", url=URL))
    return checks.merchant_isolation(None, response, case)  # type: ignore[arg-type]


@pytest.mark.parametrize("status", [401, 403])
def test_isolation_does_not_apply_when_b_is_refused(
    monkeypatch: pytest.MonkeyPatch, status: int
) -> None:
    assert _isolation(monkeypatch, status) is True  # not applicable: not counted as a pass


def test_isolation_holds_on_404(monkeypatch: pytest.MonkeyPatch) -> None:
    assert _isolation(monkeypatch, 404) is None


def test_isolation_fails_when_b_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(checks.PaymentCheckFailure, match="Another merchant"):
        _isolation(monkeypatch, 200)


def test_request_finisher_signs_the_prepared_body() -> None:
    """A POST is signed over the bytes it goes out with: sha256=HMAC(secret, body)."""
    body = b'{"amount": 150000, "order_id": "x"}'
    prepared = requests.Request(
        "POST", "http://target/p", data=body, headers={"Content-Type": "application/json"}
    ).prepare()
    auth.RequestFinisher("case-1", "s3cret")(prepared)
    assert prepared.headers[auth.SIGNATURE_HEADER] == auth.signature("s3cret", body)
    assert auth.signature("s3cret", body).startswith("sha256=")
    get = requests.Request("GET", "http://target/p").prepare()
    auth.RequestFinisher("case-1", "s3cret")(get)
    assert auth.SIGNATURE_HEADER not in get.headers


def test_request_finisher_never_sends_generated_framing_headers() -> None:
    """Negative cases fill headers with arbitrary names; the HTTP framing ones are dropped."""
    body = b'{"amount": 1}'
    generated = {"Expect": "$2", "Content-Length": "j72V", "Transfer-Encoding": "x", "D": "ok"}
    prepared = requests.Request("POST", "http://target/p", data=body, headers=generated).prepare()
    prepared.headers["Content-Length"] = "j72V"  # as a generated header would overwrite it
    auth.RequestFinisher("case-1", "")(prepared)
    assert "Expect" not in prepared.headers and "Transfer-Encoding" not in prepared.headers
    assert prepared.headers["Content-Length"] == str(len(body))
    assert prepared.headers["D"] == "ok"  # other generated headers go as generated
