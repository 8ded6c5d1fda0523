"""Run one scenario against a target: the steps in order, stopping at the first failure.

This module knows nothing of pytest (the plugin wraps it), so the project's tests can run a
scenario directly and look at the failure it raises.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any

import requests

from harness.scenarios import eventcheck, expect, http, paths, requirements, templating
from harness.scenarios.drivers import ControlDriver, DriverError, drivers_for, pick
from harness.scenarios.loader import Scenario
from harness.scenarios.receiver import WebhookReceiver
from harness.scenarios.sse import SSEStream
from harness.target import Target

DEFAULT_WAIT = 5.0


class ScenarioSkip(Exception):
    """The scenario cannot run on this target; the message says why."""


class ScenarioFailure(Exception):
    """A step failed: which one, what was expected, what came back, the request as curl."""

    def __init__(
        self,
        scenario: Scenario,
        index: int,
        step: dict[str, Any],
        problems: list[str],
        exchange: http.Exchange | None = None,
        received: str | None = None,
    ) -> None:
        self.scenario = scenario
        self.index = index
        self.step = step
        self.problems = problems
        self.exchange = exchange
        self.received = received
        super().__init__(self.render())

    @property
    def step_label(self) -> str:
        name = self.step.get("name") or next(
            (k for k in self.step if k not in ("name", "expect", "save")), "step"
        )
        return f"step {self.index + 1} ({name})"

    def render(self) -> str:
        """The readable report shown by pytest."""
        lines = [
            f"scenario {self.scenario.name!r} ({self.scenario.path}) failed at {self.step_label}"
        ]
        lines += [f"  - {p}" for p in self.problems]
        if self.exchange is not None:
            lines += ["request:", "  " + self.exchange.curl()]
            lines += ["received:", *("  " + ln for ln in self.exchange.received().splitlines())]
        if self.received:
            lines += ["received:", self.received]
        return "\n".join(lines)


class _StepFailed(Exception):
    def __init__(
        self,
        problems: list[str],
        exchange: http.Exchange | None = None,
        received: str | None = None,
    ) -> None:
        super().__init__("; ".join(problems))
        self.problems, self.exchange, self.received = problems, exchange, received


@dataclasses.dataclass
class Run:
    """The state of one scenario run."""

    scenario: Scenario
    target: Target
    receiver: WebhookReceiver
    session: requests.Session
    token: str
    variables: dict[str, Any]
    streams: dict[str, SSEStream] = dataclasses.field(default_factory=dict)

    @property
    def api(self) -> str:
        return self.scenario.api

    def render(self, value: Any) -> Any:
        try:
            return templating.render(value, self.variables)
        except templating.TemplateError as exc:
            raise _StepFailed([str(exc)]) from exc


def run_scenario(scenario: Scenario, target: Target, receiver: WebhookReceiver) -> None:
    """Run every step; raise ScenarioSkip or ScenarioFailure."""
    reason = requirements.unmet(scenario, target)
    if reason:
        raise ScenarioSkip(reason)
    session = http.new_session()
    variables: dict[str, Any] = {}
    if scenario.api == "kaspi" and requirements.uses_webhooks(scenario):
        endpoint = kaspi_endpoint(target, receiver, session)
        token = endpoint["token"]
        variables["$kaspi_webhook"] = {k: endpoint[k] for k in ("id", "secret", "url")}
    else:
        token = receiver.new_token()
    variables["$webhook_url"] = receiver.url_for(token)
    run = Run(scenario, target, receiver, session, token, variables)
    try:
        for name, value in scenario.vars.items():
            run.variables[name] = templating.render(value, run.variables)
        for index, step in enumerate(scenario.steps):
            try:
                _STEPS[next(k for k in _STEPS if k in step)](run, step)
            except _StepFailed as exc:
                raise ScenarioFailure(
                    scenario, index, step, exc.problems, exc.exchange, exc.received
                ) from None
            except http.CredentialMissing as exc:
                raise ScenarioSkip(str(exc)) from None
    finally:
        for stream in run.streams.values():
            stream.close()
        run.session.close()
        receiver.forget(token)


def kaspi_endpoint(
    target: Target, receiver: WebhookReceiver, session: requests.Session
) -> dict[str, Any]:
    """The session's Kaspi webhook endpoint (all events) pointing at the receiver.

    One per session and merchant: the API has no way to delete an endpoint and caps them at 20,
    so scenarios share it and tell their events apart by ``where``.
    """
    key = f"kaspi:{target.kaspi_url}:{target.kaspi_key}"
    if key in receiver.shared:
        # Still there? A reset of the simulator by another suite would have removed it.
        ex = http.send(
            session, http.build(target, "kaspi", {"method": "GET", "path": "/v1/webhooks"})
        )
        ids = [e.get("id") for e in (ex.json or {}).get("items", []) if isinstance(e, dict)]
        if receiver.shared[key]["id"] not in ids:
            del receiver.shared[key]
    if key not in receiver.shared:
        token = receiver.new_token()
        ex = http.send(
            session,
            http.build(
                target,
                "kaspi",
                {
                    "method": "POST",
                    "path": "/v1/webhooks",
                    "json": {"url": receiver.url_for(token), "events": ["*"]},
                },
            ),
        )
        body = ex.json
        if ex.status != 201 or not isinstance(body, dict) or "secret" not in body:
            raise ScenarioSkip(f"cannot create a Kaspi webhook endpoint: {ex.received()}")
        receiver.set_secret(token, body["secret"])
        receiver.shared[key] = {
            "token": token,
            "id": body["id"],
            "secret": body["secret"],
            "url": receiver.url_for(token),
        }
    return receiver.shared[key]


# -- requests -----------------------------------------------------------------------------
def _checks(run: Run, step: dict[str, Any], ex: http.Exchange) -> list[str]:
    if ex.error:
        return [f"no response: {ex.error}"]
    spec = run.render(step.get("expect") or {})
    problems = []
    if "status" in spec:
        problems += expect.check_status(ex.status, spec["status"])
    if "headers" in spec:
        problems += expect.check_headers(ex.response_headers, spec["headers"])
    body = ex.json
    if "body" in spec:
        problems += expect.check_body(body, spec["body"])
    if "schema" in spec:
        problems += [f"schema: {e}" for e in expect.schema_errors(body, spec["schema"])]
    return problems


def _save(run: Run, spec: dict[str, str] | None, value: Any) -> None:
    for name, path in (spec or {}).items():
        found = paths.get(value, path)
        if found is paths.MISSING:
            raise _StepFailed([f"save {name}: nothing at {path!r}"])
        run.variables[name] = found


def _one(run: Run, step: dict[str, Any]) -> http.Exchange:
    spec = run.render(step["request"])
    ex = http.build(run.target, run.api, spec)
    return http.send(run.session, ex, timeout=spec.get("timeout", 10.0))


def step_request(run: Run, step: dict[str, Any]) -> None:
    """A request, polled (``wait``), repeated (``repeat``) or sent once; checked and saved."""
    if "repeat" in step:
        _repeat(run, step)
        return
    _poll(run, step, lambda: _one(run, step))


def _poll(run: Run, step: dict[str, Any], send: Callable[[], http.Exchange]) -> None:
    wait = step.get("wait")
    deadline = time.monotonic() + (wait or {}).get("timeout", DEFAULT_WAIT)
    while True:
        ex = send()
        problems = _checks(run, step, ex)
        if not problems or not wait or time.monotonic() >= deadline:
            break
        time.sleep(wait.get("interval", 0.1))
    if problems:
        if wait:
            problems.insert(0, f"still not so after {wait.get('timeout', DEFAULT_WAIT)} s")
        raise _StepFailed(problems, ex)
    _save(run, step.get("save"), ex.json)


def _repeat(run: Run, step: dict[str, Any]) -> None:
    count = step["repeat"]["count"]
    concurrent = step["repeat"].get("concurrent", True)
    built = [http.build(run.target, run.api, run.render(step["request"])) for _ in range(count)]
    timeout = step["request"].get("timeout", 10.0)
    if concurrent:
        # A barrier lines the senders up so the requests really overlap at the server.
        barrier = threading.Barrier(count)

        def go(ex: http.Exchange) -> http.Exchange:
            with suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=10)
            return http.send(run.session, ex, timeout=timeout)

        with ThreadPoolExecutor(max_workers=count) as pool:
            done = list(pool.map(go, built))
    else:
        done = [http.send(run.session, ex, timeout=timeout) for ex in built]
    problems = []
    for i, ex in enumerate(done):
        for p in _checks(run, step, ex):
            problems.append(f"repetition {i + 1}: {p}")
            break
    problems = problems[:5] + ([f"... and {len(problems) - 5} more"] if len(problems) > 5 else [])
    problems += _results(run.render(step.get("results") or {}), done)
    if problems:
        bad = next((ex for ex in done if _checks(run, step, ex)), done[0])
        raise _StepFailed(problems, bad, received=_tally(done))
    ok = [ex for ex in done if 200 <= ex.status < 300]
    if step.get("save"):
        _save(run, step["save"], (ok or done)[0].json)


def _tally(done: list[http.Exchange]) -> str:
    counts: dict[int, int] = {}
    for ex in done:
        counts[ex.status] = counts.get(ex.status, 0) + 1
    return "  statuses of all repetitions: " + ", ".join(
        f"{s}×{n}" for s, n in sorted(counts.items())
    )


def _results(spec: dict[str, Any], done: list[http.Exchange]) -> list[str]:
    problems = []
    counts: dict[str, int] = {}
    for ex in done:
        counts[str(ex.status)] = counts.get(str(ex.status), 0) + 1
    for status, want in spec.get("statuses", {}).items():
        why = expect.match(counts.get(str(status), 0), want)
        if why:
            problems.append(f"results: number of {status} responses: {why}")
    for status, want in spec.get("by_status", {}).items():
        for i, ex in enumerate(done):
            if str(ex.status) != str(status):
                continue
            found = expect.check_headers(ex.response_headers, want.get("headers", {}))
            found += expect.check_body(ex.json, want.get("body", {}))
            if found:
                problems.append(f"results: repetition {i + 1} ({status}): {found[0]}")
                break
    ok = [ex.json for ex in done if 200 <= ex.status < 300]
    for path, want in spec.get("distinct", {}).items():
        values = {expect.show(paths.get(b, path)) for b in ok}
        why = expect.match(len(values), want)
        if why:
            problems.append(f"results: distinct {path} among 2xx: {why} {sorted(values)[:5]}")
    for path, want in spec.get("sum", {}).items():
        total = sum(v for b in ok if isinstance(v := paths.get(b, path), int | float))
        why = expect.match(total, want)
        if why:
            problems.append(f"results: sum of {path} among 2xx: {why}")
    return problems


# -- the simulator's clock and control API, outcomes, the receiver ----------------------------
def _control(run: Run) -> ControlDriver:
    assert run.target.control_url, "requirements guarantee a control URL"
    return ControlDriver(run.target.control_url)


def step_clock(run: Run, step: dict[str, Any]) -> None:
    """Move simulated time (never a sleep)."""
    seconds = run.render(step["clock"]["advance"])
    run.receiver.quiesce()
    try:
        _control(run).advance_clock(float(seconds))
    except DriverError as exc:
        raise _StepFailed([f"clock advance {seconds} s: {exc}"]) from exc


def step_control(run: Run, step: dict[str, Any]) -> None:
    """A raw control API call (simulator only), checked, polled and saved like a request."""

    def send() -> http.Exchange:
        spec = run.render(step["control"])
        has_body = "json" in spec
        ex = http.Exchange(
            method=spec["method"],
            url=_control(run).url + spec["path"],
            headers={"Content-Type": "application/json"} if has_body else {},
            body=http.json_bytes(spec["json"]) if has_body else b"",
        )
        return http.send(run.session, ex)

    _poll(run, {"expect": {"status": [200, 201, 202, 204]}, **step}, send)


def step_outcome(run: Run, step: dict[str, Any]) -> None:
    """Set up an outcome through the first driver able to."""
    spec = run.render(step["outcome"])
    now = "id" in spec
    driver = pick(
        drivers_for(run.target), run.api, spec["object"], now=now, status=spec.get("status")
    )
    if driver is None:
        raise ScenarioSkip(requirements.no_driver(run.api, spec))
    try:
        if now:
            driver.transition(run.api, spec["object"], str(spec["id"]), spec["status"])
        else:
            driver.queue(run.api, spec["object"], spec["outcome"], spec.get("delay_ms"))
    except DriverError as exc:
        raise _StepFailed([f"{driver.name}: {exc}"]) from exc


def step_receiver(run: Run, step: dict[str, Any]) -> None:
    """Tell the receiver to fail the next N deliveries of this scenario."""
    spec = run.render(step["receiver"])
    run.receiver.fail_next(
        run.token,
        spec.get("fail", 0),
        spec.get("mode", "status"),
        spec.get("status", 500),
        spec.get("hold", 6.0),
        spec.get("where"),
    )


# -- webhooks and SSE -------------------------------------------------------------------------
def _webhook_records(run: Run) -> list[eventcheck.Seen]:
    return [
        eventcheck.Seen(
            d.event_id,
            eventcheck.kind_of(d.json, d.headers),
            d.json,
            d.body.decode("utf-8", "replace"),
            d.signature_valid,
            d.valid_with_other_secret,
        )
        for d in run.receiver.deliveries(run.token)
    ]


def _sse_records(stream: SSEStream) -> list[eventcheck.Seen]:
    return [eventcheck.Seen(e.id, e.kind, e.json, e.data) for e in stream.events()]


def _await(
    run: Run,
    step: dict[str, Any],
    spec: dict[str, Any],
    fetch: Callable[[], list[eventcheck.Seen]],
    webhooks: bool,
) -> None:
    deadline = time.monotonic() + spec.get("timeout", DEFAULT_WAIT)
    where = spec.get("where")
    while True:
        records = eventcheck.where(fetch(), where)
        problems = eventcheck.check(records, spec, webhooks=webhooks)
        if not problems and spec.get("settle"):
            time.sleep(spec["settle"])
            records = eventcheck.where(fetch(), where)
            problems = eventcheck.check(records, spec, webhooks=webhooks)
            if problems:
                problems.insert(0, f"no longer so after settling {spec['settle']} s")
            break
        if (
            not problems
            or time.monotonic() >= deadline
            or eventcheck.hopeless(records, spec, problems)
        ):
            break
        time.sleep(0.05)
    if problems:
        raise _StepFailed(problems, received=eventcheck.describe(records))
    _save(run, step.get("save"), eventcheck.summary(records))


def step_expect_webhooks(run: Run, step: dict[str, Any]) -> None:
    """Wait until this scenario's deliveries satisfy the checks."""
    _await(run, step, run.render(step["expect_webhooks"]), lambda: _webhook_records(run), True)


def step_sse(run: Run, step: dict[str, Any]) -> None:
    """Open a named SSE stream that records events in the background."""
    spec = run.render(step["sse"])
    key, _ = (
        http.credential(run.target, run.api, spec.get("auth", "key_a"))
        if isinstance(spec.get("auth", "key_a"), str)
        else (spec["auth"]["literal"], None)
    )
    headers = http.auth_headers(run.api, key)
    if "last_event_id" in spec:
        headers["Last-Event-ID"] = str(spec["last_event_id"])
    stream = SSEStream(run.target.target_url + "/api/v1/public/events", headers).open()
    if stream.status != 200:
        raise _StepFailed(
            [f"SSE stream {spec['open']}: status {stream.status} {stream.error or ''}".strip()]
        )
    old = run.streams.pop(spec["open"], None)
    if old:
        old.close()
    run.streams[spec["open"]] = stream


def step_expect_events(run: Run, step: dict[str, Any]) -> None:
    """Wait until a stream's events satisfy the checks."""
    spec = run.render(step["expect_events"])
    name = spec.get("stream") or next(iter(run.streams), None)
    if name not in run.streams:
        raise _StepFailed([f"no open SSE stream {name!r}"])
    stream = run.streams[name]
    _await(run, step, spec, lambda: _sse_records(stream), False)


_STEPS: dict[str, Callable[[Run, dict[str, Any]], None]] = {
    "request": step_request,
    "outcome": step_outcome,
    "clock": step_clock,
    "control": step_control,
    "receiver": step_receiver,
    "expect_webhooks": step_expect_webhooks,
    "sse": step_sse,
    "expect_events": step_expect_events,
}
