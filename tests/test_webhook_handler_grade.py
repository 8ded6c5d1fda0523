"""`paysim webhooks check` grades a partner's webhook handler: proven on the example shop's
handler (examples/shop/webhooks.py), served over real HTTP, clean and with each mistake."""

from __future__ import annotations

import importlib.util
import json
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import ModuleType
from typing import Any, ClassVar

import jsonschema
import pytest
import yaml
from werkzeug.serving import make_server

from harness.grading import delivery, events, handler
from paysim.cli import main

ROOT = Path(__file__).resolve().parent.parent
SECRETS = {"freefin": "whsec_test_freefin", "kaspi": "whsec_test_kaspi"}
SIGNATURE_RULES = {
    "handler.refuses_tampered_body",
    "handler.refuses_wrong_secret",
    "handler.refuses_missing_signature",
    "handler.refuses_malformed_signature",
}
# Each mistake of the example shop, and the rules meant to catch it (and no other).
CAUGHT_BY = {
    "skip_signature": SIGNATURE_RULES,
    "apply_duplicates": {"handler.applies_once"},
    "refuse_duplicates": {"handler.accepts_duplicate"},
    "unknown_kind_500": {"handler.ignores_unknown_kind"},
    "last_arrival_wins": {"handler.keeps_latest_state"},
    "stale_refused": {"handler.tolerates_out_of_order"},
    "slow_refunds": {"handler.accepts_valid"},
    "slow_answers": {"handler.accepts_valid"},
    "verify_reserialised": {"handler.verifies_raw_bytes"},
    "refund_booked_twice": {"handler.applies_once"},
    "strict_fields": {"handler.tolerates_new_fields"},
    "crash_on_large": {"handler.survives_oversized"},
    "parse_unchecked": {"handler.survives_malformed"},
}


def _load_shop() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "shop_webhooks", ROOT / "examples/shop/webhooks.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


SHOP = _load_shop()


def throttled_once(app: Any) -> Any:
    """``app`` behind a limiter that answers its second POST (the first check's event, after
    the grader's hello) 429 with Retry-After: 1."""
    posts: list[str] = []

    def wrapped(environ: dict[str, Any], start_response: Any) -> Any:
        if environ["REQUEST_METHOD"] == "POST":
            posts.append(environ["PATH_INFO"])
            if len(posts) == 2:
                start_response("429 Too Many Requests", [("Retry-After", "1")])
                return [b""]
        return app(environ, start_response)

    return wrapped


@contextmanager
def shop(
    mistakes: set[str] = frozenset(),  # type: ignore[assignment]
    throttle: bool = False,
) -> Iterator[str]:
    """The example shop's handler on a free loopback port: its base URL."""
    app = SHOP.create_app(SECRETS, set(mistakes))
    server = make_server("127.0.0.1", 0, throttled_once(app) if throttle else app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def _grade(base: str, api: str, probe: bool = True, timeout: float | None = None) -> Any:
    return handler.grade(
        handler.HandlerTarget(
            url=f"{base}/webhooks/{api}",
            api=api,
            secret=SECRETS[api],
            state_url=f"{base}/webhooks/state" if probe else None,
            timeout_s=timeout,
        )
    )


def _verdicts(grade: Any) -> dict[str, str]:
    return {f.rule: f.verdict for f in grade.findings}


@pytest.mark.parametrize("api", ["freefin", "kaspi"])
def test_the_clean_handler_grades_clean(api: str) -> None:
    with shop() as base:
        grade = _grade(base, api)
    verdicts = _verdicts(grade)
    assert set(verdicts) == SIGNATURE_RULES | {r for rules in CAUGHT_BY.values() for r in rules}
    assert set(verdicts.values()) == {"passed"}, grade.table()


def test_a_handler_that_asks_to_wait_is_waited_for() -> None:
    """A 429 with Retry-After from the handler is waited out and the event sent again, as the
    API's sender does: the handler is judged on its answer after the wait."""
    with shop(throttle=True) as base:
        grade = _grade(base, "freefin")
    assert {f.verdict for f in grade.findings} == {"passed"}, grade.table()


def test_without_a_probe_the_state_rules_are_not_exercised_not_passed() -> None:
    with shop() as base:
        grade = _grade(base, "freefin", probe=False)
    verdicts = _verdicts(grade)
    assert verdicts["handler.applies_once"] == "not_exercised"
    assert verdicts["handler.keeps_latest_state"] == "not_exercised"
    assert "failed" not in verdicts.values()


@pytest.mark.parametrize("mistake", sorted(CAUGHT_BY))
@pytest.mark.parametrize("api", ["freefin", "kaspi"])
def test_each_mistake_is_caught_by_its_rule_alone(api: str, mistake: str) -> None:
    timeout = 0.5 if mistake.startswith("slow_") else None
    with shop({mistake}) as base:
        grade = _grade(base, api, timeout=timeout)
    failed = {f.rule for f in grade.failed}
    assert failed == CAUGHT_BY[mistake], grade.table()
    for finding in grade.failed:
        assert finding.evidence, finding.rule
        assert finding.fix


@pytest.mark.parametrize("api", ["freefin", "kaspi"])
def test_the_events_sent_are_the_apis_own(api: str) -> None:
    """The grader's events hold to the supplement's event schema and the seed's objects."""
    fmt = events.formats()[api]
    supplement = yaml.safe_load((ROOT / f"specs/{api}.supplement.yaml").read_text())
    schemas = supplement["components"]["schemas"]
    if api == "freefin":
        seed = yaml.safe_load((ROOT / "specs/freefin.openapi.yaml").read_text())
        event_schema = {k: v for k, v in schemas["Event"].items() if k != "properties"}
        event_schema["properties"] = {
            k: v for k, v in schemas["Event"]["properties"].items() if k != "payload"
        }
        objects = {
            "payment": seed["components"]["schemas"]["Payment"],
            "payout": seed["components"]["schemas"]["Payout"],
        }
    else:
        seed = json.loads((ROOT / "specs/kaspi.openapi.json").read_text())
        event_schema = {
            "type": "object",
            **{k: v for k, v in schemas["WebhookEvent"].items() if k in ("required",)},
        }
        objects = {
            "invoice": seed["components"]["schemas"]["Invoice"],
            "qr": seed["components"]["schemas"]["Invoice"],
        }
    assert len(fmt.kinds) >= 10
    for kind in fmt.kinds:
        body = events.event(fmt, kind, events.new_object_id(fmt, kind))
        jsonschema.validate(body, event_schema)
        assert body["id"].startswith("evt_") and len(body["id"]) == 36
        schema = objects.get(kind.partition(".")[0])
        if schema is not None:
            jsonschema.validate(body[fmt.object_field], schema)


def _check(base: str, report: Path, *extra: str) -> int:
    """``paysim webhooks check`` of the shop's Kaspi handler at ``base``: its exit code."""
    url, secret = f"{base}/webhooks/kaspi", SECRETS["kaspi"]
    argv = ["webhooks", "check", "--api", "kaspi", "--url", url, "--secret", secret]
    return main([*argv, "--report-dir", str(report), *extra])


def test_the_command_exits_by_the_grade_and_writes_its_report(tmp_path: Path) -> None:
    with shop() as base:
        clean = _check(base, tmp_path / "clean", "--state-url", f"{base}/webhooks/state")
        unprobed = _check(base, tmp_path / "unprobed")  # the state rules not exercised
    with shop({"skip_signature"}) as base:
        broken = _check(base, tmp_path / "broken")
    assert (clean, unprobed, broken) == (0, 5, 1)
    junit = (tmp_path / "broken/handler-grade.junit.xml").read_text()
    assert junit.count("<failure") == len(SIGNATURE_RULES)
    report = json.loads((tmp_path / "broken/handler-grade.json").read_text())
    assert report["counts"]["failed"] == len(SIGNATURE_RULES)
    everything = "".join(p.read_text() for p in (tmp_path / "broken").iterdir())
    assert SECRETS["kaspi"] not in everything  # the secret is masked in every file
    assert "curl -X POST" in everything


def test_an_unreachable_handler_exits_3_and_a_missing_secret_2(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("PAYSIM_WEBHOOK_SECRET", raising=False)
    with shop() as base:
        pass  # the port is free again
    common = [
        "webhooks",
        "check",
        "--api",
        "freefin",
        "--url",
        f"{base}/webhooks/freefin",
        "--report-dir",
        str(tmp_path),
    ]
    assert main([*common, "--secret", "s"]) == 3
    assert main(common) == 2


def test_a_handler_too_slow_to_answer_is_graded_and_its_report_written(tmp_path: Path) -> None:
    """Slower than the sender waits (3 x --timeout): not "answers nothing" (exit 3), but a
    failed grade with accepts_valid saying how long it waited, and the files written."""
    with shop({"slow_answers"}) as base:
        code = _check(base, tmp_path, "--timeout", "0.2")
    assert code == 1
    report = json.loads((tmp_path / "handler-grade.json").read_text())
    valid = next(f for f in report["findings"] if f["rule"] == "handler.accepts_valid")
    assert valid["verdict"] == "failed" and "slowest" in valid["detail"], valid
    assert "no answer within 0.6 s" in valid["detail"]


class _Recorder(BaseHTTPRequestHandler):
    """Keeps connections alive; answers 500 to a body that starts with "fail"; records the
    client port of each request (a new port: a new connection)."""

    protocol_version = "HTTP/1.1"
    ports: ClassVar[list[int]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        self.ports.append(self.client_address[1])
        self.send_response(500 if body.startswith(b"fail") else 200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


def test_the_sender_opens_a_fresh_connection_after_an_error_answer() -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_port}/hook"
        target = handler.HandlerTarget(url=url, api="kaspi", secret="s")
        sender = delivery.Sender(target, events.formats()["kaspi"])
        for body in (b"{}", b"{}", b"fail", b"{}", b"{}"):
            assert sender.post(body, {}).status is not None
        sender.close()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)
    ports = _Recorder.ports
    assert ports[0] == ports[1] == ports[2]  # kept alive while it answers well
    assert ports[3] != ports[2]  # after the 500: a new connection
    assert ports[4] == ports[3]
