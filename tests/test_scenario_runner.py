"""The scenario runner proven on its own, against a small server of the tests' own.

Each feature is shown to pass on the correct server and to fail (readably) when the server is
broken the way a scenario must notice.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest

from harness.scenarios import loader
from harness.scenarios.receiver import WebhookReceiver
from harness.scenarios.runner import ScenarioFailure, ScenarioSkip, run_scenario
from harness.target import Target


def _miniapp() -> ModuleType:
    name = "scenario_miniapp"
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            name, Path(__file__).with_name("scenario_fixtures") / "miniapp.py"
        )
        assert spec and spec.loader
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return sys.modules[name]


@pytest.fixture(scope="module")
def server() -> Iterator[object]:
    with _miniapp().Server() as srv:
        yield srv


@pytest.fixture
def app(server: object) -> Iterator[object]:
    yield server.app  # type: ignore[attr-defined]
    server.app.defects.clear()  # type: ignore[attr-defined]


@pytest.fixture(scope="module")
def mini_target(server: object) -> Target:
    url = server.url  # type: ignore[attr-defined]
    return Target(
        target_url=url,
        kaspi_url=url + "/api",
        control_url=url + "/_sim",
        api="freefin",
        freefin_key="sk_a",
        freefin_signing_secret="secret_a",
        freefin_key_2="sk_2",
        freefin_key_b="sk_b",
        freefin_signed_key="sk_s",
        freefin_signed_secret="secret_s",
        webhook_secret="secret_a",
    )


@pytest.fixture(scope="module")
def receiver(mini_target: Target) -> Iterator[WebhookReceiver]:
    with WebhookReceiver(mini_target.webhook_secret) as rx:
        yield rx


def scenario(text: str) -> loader.Scenario:
    return loader.load_text(textwrap.dedent(text), Path("inline.yaml"))[0]


def run(text: str, target: Target, receiver: WebhookReceiver) -> None:
    run_scenario(scenario(text), target, receiver)


CREATE = """
  - name: create
    request:
      method: POST
      path: /api/v1/public/payments
      headers: {Idempotency-Key: "{{ key }}"}
      json: {amount: 1000}
    expect: {status: 201}
    save: {from: "seed: POST /api/v1/public/payments 201", pid: payment.id}
"""

IDEMPOTENCY = (
    """
name: replay
api: freefin
from: "seed#/paths"
vars: {key: "{{ $unique }}"}
steps:
"""
    + CREATE
    + """
  - name: replay
    request:
      method: POST
      path: /api/v1/public/payments
      headers: {Idempotency-Key: "{{ key }}"}
      json: {amount: 1000}
    expect:
      status: 200
      body: {payment.id: "{{ pid }}", idempotent: true, payment.amount: {$gte: 1000}}
      headers: {content-type: {$matches: json}}
      schema: {type: object, required: [payment]}
"""
)


def test_request_expect_save_and_template(
    mini_target: Target, receiver: WebhookReceiver, app: object
) -> None:
    run(IDEMPOTENCY, mini_target, receiver)


def test_failure_names_step_curl_expected_and_received(
    mini_target: Target, receiver: WebhookReceiver, app: object
) -> None:
    app.defects.add("duplicate_replay")  # type: ignore[attr-defined]
    with pytest.raises(ScenarioFailure) as info:
        run(IDEMPOTENCY, mini_target, receiver)
    text = info.value.render()
    assert "failed at step 2 (replay)" in text
    assert "status: expected 200, got 201" in text
    assert "curl -sS -X POST" in text and "Idempotency-Key: sc-" in text
    assert "--data-binary '{\"amount\":1000}'" in text
    assert "Bearer sk_a" in text
    assert "HTTP 201" in text and '"idempotent"' not in text.split("received:")[1]


def test_concurrent_repeat_asserts_on_the_set(
    mini_target: Target, receiver: WebhookReceiver, app: object
) -> None:
    text = """
    name: fifty at once
    api: freefin
    from: "seed#/paths"
    vars: {key: "{{ $unique }}"}
    steps:
      - request: {method: POST, path: /api/v1/public/payments,
                  headers: {Idempotency-Key: "{{ key }}"}, json: {amount: 5}}
        repeat: {count: 20}
        expect: {status: [200, 201]}
        results:
          statuses: {"201": 1, "200": 19}
          distinct: {payment.id: 1}
          sum: {payment.amount: {$lte: 100}}
    """
    run(text, mini_target, receiver)
    app.defects.add("duplicate_replay")  # type: ignore[attr-defined]
    with pytest.raises(ScenarioFailure) as info:
        run(text, mini_target, receiver)
    rendered = info.value.render()
    assert "number of 201 responses: expected 1, got 20" in rendered
    assert "distinct payment.id among 2xx: expected 1, got 20" in rendered
    assert "statuses of all repetitions: 201×20" in rendered


REFUNDS = (
    """
name: concurrent refunds never exceed the amount
api: freefin
from: "seed#/paths"
vars: {key: "{{ $unique }}"}
steps:
"""
    + CREATE
    + """
  - outcome: {object: payment, id: "{{ pid }}", status: succeeded}
  - request: {method: POST, path: "/api/v1/public/payments/{{ pid }}/refund",
              json: {amount: 300}}
    repeat: {count: 6}
    results: {sum: {amount: {$lte: 1000}}}
  - request: {method: GET, path: "/api/v1/public/payments/{{ pid }}"}
    expect: {body: {amount_refunded: {$lte: 1000}, "refunds[0].amount": 300}}
"""
)


def test_outcome_driver_and_sum_of_results(
    mini_target: Target, receiver: WebhookReceiver, app: object
) -> None:
    run(REFUNDS, mini_target, receiver)
    app.defects.add("over_refund")  # type: ignore[attr-defined]
    with pytest.raises(ScenarioFailure, match=r"sum of amount among 2xx: expected \$lte 1000"):
        run(REFUNDS, mini_target, receiver)


NEVER = """
name: never succeeds
api: freefin
from: "seed#/paths"
vars: {key: "{{ $unique }}"}
steps:
"""


def test_wait_polls_until_timeout_and_reports_last_response(
    mini_target: Target, receiver: WebhookReceiver, app: object
) -> None:
    text = (
        NEVER
        + CREATE
        + """
  - request: {method: GET, path: "/api/v1/public/payments/{{ pid }}"}
    wait: {timeout: 0.5, interval: 0.1}
    expect: {body: {status: succeeded}}
"""
    )
    started = time.monotonic()
    with pytest.raises(ScenarioFailure) as info:
        run(text, mini_target, receiver)
    assert 0.5 <= time.monotonic() - started < 3
    assert "still not so after 0.5 s" in info.value.render()
    assert 'body status: expected "succeeded", got "pending"' in info.value.render()


SIGNATURES = """
name: signatures
api: freefin
from: "seed#/paths"
steps:
  - request: {method: POST, path: /api/v1/public/payments, auth: signed, sign: false,
              json: {amount: 1}}
    expect: {status: 400, body: {error.code: signature_required}}
  - request: {method: POST, path: /api/v1/public/payments, auth: signed,
              raw: '{"amount":1}', sign: {over: '{"amount": 1}'}}
    expect: {status: 400, body: {error.code: invalid_signature}}
  - request: {method: POST, path: /api/v1/public/payments, auth: signed, json: {amount: 1},
              sign: {upper: true}}
    expect: {status: 400, body: {error.code: invalid_signature}}
  - request: {method: POST, path: /api/v1/public/payments, auth: signed, json: {amount: 1},
              sign: {secret: wrong}}
    expect: {status: 400, body: {error.code: invalid_signature}}
  - request: {method: POST, path: /api/v1/public/payments, auth: signed, raw: '{"amount":1}'}
    expect: {status: 201}
"""


def test_signing_raw_bodies_and_forgeries(
    mini_target: Target, receiver: WebhookReceiver, app: object
) -> None:
    run(SIGNATURES, mini_target, receiver)
    app.defects.add("no_signature_check")  # type: ignore[attr-defined]
    with pytest.raises(ScenarioFailure, match="step 1"):
        run(SIGNATURES, mini_target, receiver)


WEBHOOKS = """
name: retries
api: freefin
from: "seed#/paths"
steps:
  - receiver: {fail: 2, status: 500}
  - request: {method: POST, path: /api/v1/public/payments,
              json: {amount: 7, webhook_url: "{{ $webhook_url }}"}}
    expect: {status: 201}
    save: {from: "seed: POST /api/v1/public/payments 201", pid: payment.id}
  - expect_webhooks: {attempts: 1, kinds: [payment.created], timeout: 2}
  - clock: {advance: 4}
  - expect_webhooks: {attempts: 1, settle: 0.2}
  - clock: {advance: 1}
  - expect_webhooks: {attempts: 2, timeout: 2}
  - clock: {advance: 30}
  - expect_webhooks:
      where: {payload.id: "{{ pid }}"}
      attempts: 3
      count: 1
      timeout: 1
      signed: true
      unique_ids: true
    save: {eid: "ids[0]"}
"""


def test_receiver_fails_first_deliveries_and_sees_retries(
    mini_target: Target, receiver: WebhookReceiver, app: object
) -> None:
    run(WEBHOOKS, mini_target, receiver)
    for defect, message in (
        ("no_retry", "attempts: expected 2, got 1"),
        ("unsigned_webhooks", "does not verify"),
    ):
        app.defects.clear()  # type: ignore[attr-defined]
        app.defects.add(defect)  # type: ignore[attr-defined]
        with pytest.raises(ScenarioFailure, match=message):
            run(WEBHOOKS, mini_target, receiver)


def test_receiver_timeout_mode_holds_past_the_senders_timeout(
    mini_target: Target, receiver: WebhookReceiver, app: object
) -> None:
    text = WEBHOOKS.replace("{fail: 2, status: 500}", "{fail: 2, mode: timeout, hold: 1}")
    run(text, mini_target, receiver)


SSE = """
name: sse
api: freefin
from: "seed#/paths"
steps:
  - sse: {open: live}
  - request: {method: POST, path: /api/v1/public/payments, json: {amount: 9}}
    save: {from: "seed: POST /api/v1/public/payments 201", pid: payment.id}
  - outcome: {object: payment, id: "{{ pid }}", status: succeeded}
  - expect_events:
      stream: live
      where: {payload.id: "{{ pid }}"}
      kinds: [payment.created, payment.status_changed, payment.succeeded]
      unique_ids: true
    save: {first: "ids[0]"}
  - sse: {open: resumed, last_event_id: "{{ first }}"}
  - expect_events:
      stream: resumed
      where: {payload.id: "{{ pid }}"}
      kinds: [payment.status_changed, payment.succeeded]
      timeout: 1
"""


def test_sse_events_and_resume(mini_target: Target, receiver: WebhookReceiver, app: object) -> None:
    run(SSE, mini_target, receiver)
    app.defects.add("sse_no_resume")  # type: ignore[attr-defined]
    with pytest.raises(ScenarioFailure, match="kinds: expected"):
        run(SSE, mini_target, receiver)


def test_skips_with_a_reason_when_the_target_cannot_drive_it(
    mini_target: Target, receiver: WebhookReceiver
) -> None:
    remote = Target(
        target_url=mini_target.target_url, kaspi_url="x", api="freefin", freefin_key="sk_a"
    )
    with pytest.raises(ScenarioSkip, match="cannot drive freefin payment -> succeeded"):
        run(REFUNDS, remote, receiver)
    with pytest.raises(ScenarioSkip, match="credential signed"):
        run(SIGNATURES, remote, receiver)
    with pytest.raises(ScenarioSkip, match="control API"):
        run(WEBHOOKS, remote, receiver)
    kaspi_only = Target(target_url="http://127.0.0.1:9", kaspi_url="x", api="kaspi")
    with pytest.raises(ScenarioSkip, match="tested for kaspi only"):
        run(IDEMPOTENCY, kaspi_only, receiver)


def test_outcome_hook_command_drives_other_targets(
    mini_target: Target, receiver: WebhookReceiver, tmp_path: Path
) -> None:
    seen = tmp_path / "hook.json"
    hook = f"{sys.executable} -c \"import sys; open({str(seen)!r}, 'w').write(sys.stdin.read())\""
    remote = Target(
        target_url=mini_target.target_url,
        kaspi_url="x",
        api="freefin",
        freefin_key="sk_a",
        outcome_hook=hook,
    )
    text = """
    name: hook
    api: freefin
    from: "seed#/paths"
    steps:
      - outcome: {object: payment, id: abc, status: succeeded}
    """
    run(text, remote, receiver)
    assert '"id": "abc"' in seen.read_text() and '"outcome": "succeeded"' in seen.read_text()


class _Hook:
    """A tiny outcome hook over HTTP on 127.0.0.1: records each JSON body, answers ``status``."""

    def __init__(self, status: int = 200) -> None:
        hook = self
        self.status = status
        self.received: list[Any] = []

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                hook.received.append(
                    (
                        self.path,
                        self.headers.get("Content-Type"),
                        json.loads(self.rfile.read(length)),
                    )
                )
                body = b"{}" if hook.status < 300 else b"driver broke: no such payment"
                self.send_response(hook.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/outcome"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> _Hook:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


HOOKED = """
name: hook over http
api: freefin
from: "seed#/paths"
steps:
  - name: force it
    outcome: {object: payment, id: abc, status: succeeded}
  - name: queue the next
    outcome: {object: payment, outcome: pending, delay_ms: 50}
"""


def _hooked(mini_target: Target, hook: str) -> Target:
    return Target(
        target_url=mini_target.target_url,
        kaspi_url="x",
        api="freefin",
        freefin_key="sk_a",
        outcome_hook=hook,
    )


def test_outcome_hook_url_is_posted_the_outcome_as_json(
    mini_target: Target, receiver: WebhookReceiver
) -> None:
    with _Hook() as hook:
        run(HOOKED, _hooked(mini_target, hook.url), receiver)
    assert hook.received == [
        (
            "/outcome",
            "application/json",
            {
                "api": "freefin",
                "object": "payment",
                "id": "abc",
                "outcome": "succeeded",
                "delay_ms": None,
            },
        ),
        (
            "/outcome",
            "application/json",
            {
                "api": "freefin",
                "object": "payment",
                "id": None,
                "outcome": "pending",
                "delay_ms": 50,
            },
        ),
    ]


def test_outcome_hook_url_answering_500_fails_the_step_readably(
    mini_target: Target, receiver: WebhookReceiver
) -> None:
    with _Hook(status=500) as hook, pytest.raises(ScenarioFailure) as info:
        run(HOOKED, _hooked(mini_target, hook.url), receiver)
    failure = info.value
    assert failure.step.get("name") == "force it"
    problem = failure.problems[0]
    assert problem.startswith("outcome hook: POST " + hook.url), problem
    assert "got 500 driver broke: no such payment" in problem
    assert '"id": "abc"' in problem
    assert len(hook.received) == 1  # the scenario stopped at the failing step
    assert "outcome hook" in failure.render()


def test_receiver_fails_only_the_deliveries_it_is_told_to(
    mini_target: Target, receiver: WebhookReceiver, app: object
) -> None:
    text = """
    name: only this order's deliveries fail
    api: freefin
    from: "seed#/paths"
    vars: {oid: "{{ $unique }}"}
    steps:
      - receiver: {fail: 1, status: 500, where: {payload.amount: 77}}
      - request: {method: POST, path: /api/v1/public/payments,
                  json: {amount: 5, webhook_url: "{{ $webhook_url }}"}}
      - request: {method: POST, path: /api/v1/public/payments,
                  json: {amount: 77, webhook_url: "{{ $webhook_url }}"}}
      - expect_webhooks: {where: {payload.amount: 5}, attempts: 1, timeout: 1}
      - expect_webhooks: {where: {payload.amount: 77}, attempts: 1, timeout: 1}
      - clock: {advance: 5}
      - expect_webhooks: {where: {payload.amount: 77}, attempts: 2, timeout: 1}
      - expect_webhooks: {where: {payload.amount: 5}, attempts: 1, settle: 0.1}
    """
    run(textwrap.dedent(text), mini_target, receiver)
    # Without `where` the first delivery (the amount 5 one) takes the failure.
    unfiltered = textwrap.dedent(text).replace(", where: {payload.amount: 77}", "")
    with pytest.raises(ScenarioFailure, match=r"attempts: expected [12], got [12]"):
        run(unfiltered, mini_target, receiver)


def test_results_by_status_and_list_matchers(
    mini_target: Target, receiver: WebhookReceiver, app: object
) -> None:
    text = """
    name: by status
    api: freefin
    from: "seed#/paths"
    vars: {key: "{{ $unique }}"}
    steps:
      - request: {method: POST, path: /api/v1/public/payments,
                  headers: {Idempotency-Key: "{{ key }}"}, json: {amount: 5}}
        repeat: {count: 4, concurrent: false}
        results:
          by_status:
            "200": {body: {idempotent: true, payment.refunds: {$len: 0}}}
            "201": {body: {payment: {$exists: true}}}
      - control: {method: POST, path: /clock/advance, json: {seconds: 0}}
        expect: {body: {offset: {$gte: 0}}}
      - request: {method: GET, path: /api/v1/public/banks/sbp}
        expect: {body: {items: {$every: {member_id: "x"}, $len: 0}}}
    """
    run(textwrap.dedent(text), mini_target, receiver)
    broken = textwrap.dedent(text).replace("idempotent: true", "idempotent: false")
    with pytest.raises(ScenarioFailure, match=r"repetition 2 \(200\): body idempotent"):
        run(broken, mini_target, receiver)
    some = textwrap.dedent(text).replace("$every: {member_id", "$some: {member_id")
    with pytest.raises(ScenarioFailure, match=r"expected \$some"):
        run(some, mini_target, receiver)


def test_receiver_verifies_with_a_per_path_secret() -> None:
    from harness.scenarios.receiver import verify

    with WebhookReceiver("default") as rx:
        token = rx.new_token()
        rx.set_secret(token, "endpoint-secret")
        body = b'{"id": "evt_1", "event": "invoice.paid"}'
        import hashlib
        import hmac

        import requests

        for secret in ("endpoint-secret", "default"):
            sig = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
            requests.post(
                rx.url_for(token),
                data=body,
                timeout=5,
                headers={"X-Arzan-Signature": sig, "X-Arzan-Event-Id": "evt_1"},
            )
        got = rx.deliveries(token)
        assert [d.signature_valid for d in got] == [True, False]
        assert got[0].event_id == "evt_1"
        assert verify(body, got[0].signature, "endpoint-secret")


def _seen(kind: str, created_at: str, event_id: str) -> Any:
    from harness.scenarios.eventcheck import Seen

    body = {"id": event_id, "event": kind, "created_at": created_at}
    return Seen(event_id, kind, body, str(body))


def test_ordered_by_orders_parallel_deliveries_by_a_body_path() -> None:
    from harness.scenarios import eventcheck

    spec = {"ordered_by": "created_at", "kinds": ["a.created", "a.status_changed", "a.paid"]}
    # Arrival order is shuffled (parallel deliveries); created_at gives the order; equal
    # timestamps may come in either order; a retry (same id) counts once.
    arrived = [
        _seen("a.paid", "T2", "e3"),
        _seen("a.created", "T1", "e1"),
        _seen("a.status_changed", "T2", "e2"),
        _seen("a.created", "T1", "e1"),
    ]
    assert eventcheck.check(arrived, spec, webhooks=True) == []
    assert eventcheck.check(arrived, {"kinds": spec["kinds"]}, webhooks=True) != []

    reversed_ = [
        _seen("a.created", "T1", "e1"),
        _seen("a.paid", "T2", "e3"),
        _seen("a.status_changed", "T3", "e2"),
    ]
    problems = eventcheck.check(reversed_, spec, webhooks=True)
    assert problems and "ordered by created_at" in problems[0], problems
    assert eventcheck.hopeless(reversed_, spec, problems)

    early = reversed_[:2]  # the rest may still come: not yet hopeless
    problems = eventcheck.check(early, spec, webhooks=True)
    assert problems and not eventcheck.hopeless(early, spec, problems)

    missing = [_seen("a.created", "T1", "e1")]
    del missing[0].body["created_at"]
    assert eventcheck.check(missing, spec, webhooks=True) == [
        "ordered_by: event a.created e1 has no created_at"
    ]


def test_ordered_by_is_part_of_the_format(tmp_path: Path) -> None:
    text = (
        "name: x\napi: kaspi\nfrom: 'seed#/paths'\nsteps:\n"
        "  - expect_webhooks: {ordered_by: created_at, kinds: [a]}\n"
    )
    assert loader.load_text(text, tmp_path / "s.yaml")[0].steps[0]["expect_webhooks"]
    with pytest.raises(loader.ScenarioFormatError, match="ordered_by"):
        loader.load_text(text.replace("created_at", "''"), tmp_path / "s.yaml")
