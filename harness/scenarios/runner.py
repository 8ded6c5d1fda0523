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

from harness import patience
from harness.outcomes import (
    ControlDriver,
    DriverError,
    OutcomeUnreachable,
    drivers_for,
    pick,
)
from harness.scenarios import (
    eventcheck,
    expect,
    http,
    paths,
    provenance,
    requirements,
    templating,
)
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
        return step_label(self.index, self.step)

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


@dataclasses.dataclass(frozen=True)
class Finding:
    """One assertion that did not hold, and where the assertion comes from."""

    problem: str
    source: provenance.Source


@dataclasses.dataclass
class Departure:
    """Assertions of the supplement a target does not follow (level spec: reported only)."""

    step: str
    problems: list[str]
    sources: list[str]
    received: str = ""


NO_RESPONSE = provenance.Source("http", "a request gets a response")
DECLARED_SIGNATURE = provenance.Source("profile", "webhooks.signature_header")


def step_label(index: int, step: dict[str, Any]) -> str:
    """``step 3 (cancel again)``: the step's name, or its action."""
    name = step.get("name") or next(
        (k for k in step if k not in ("name", "expect", "save", "from")), "step"
    )
    return f"step {index + 1} ({name})"


class _Stop(Exception):
    """The rest of the scenario cannot apply to this target (its departures stand)."""


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
    departures: list[Departure] = dataclasses.field(default_factory=list)
    index: int = 0

    @property
    def api(self) -> str:
        return self.scenario.api

    @property
    def level(self) -> str:
        return self.target.contract_level

    def blocks(self, step: dict[str, Any], key: str) -> list[tuple[Any, provenance.Source]]:
        """The step's ``key`` blocks (rendered) with their sources."""
        found = []
        for k, block, origin in provenance.blocks(step, self.scenario.source):
            if k == key:
                found.append((self.render(block), provenance.parse(origin, self.api)))
        return found

    def judge(self, step: dict[str, Any], findings: list[Finding], received: str = "") -> list[str]:
        """The problems that fail the step at the run's level; the rest become departures."""
        failing = [f for f in findings if f.source.binding(self.level)]
        departing = [f for f in findings if not f.source.binding(self.level)]
        if departing:
            self.departures.append(
                Departure(
                    step_label(self.index, step),
                    [f.problem for f in departing],
                    sorted({str(f.source) for f in departing}),
                    received[:800],
                )
            )
        return [f"{f.problem} [{f.source}]" for f in failing]

    def render(self, value: Any) -> Any:
        try:
            return templating.render(value, self.variables)
        except templating.TemplateError as exc:
            raise _StepFailed([str(exc)]) from exc


def run_scenario(scenario: Scenario, target: Target, receiver: WebhookReceiver) -> list[Departure]:
    """Run every step; raise ScenarioSkip or ScenarioFailure. Returns the departures from the
    supplement seen on the way (at level spec they do not fail the scenario)."""
    reason = requirements.unmet(scenario, target)
    if reason:
        raise ScenarioSkip(reason)
    session = http.new_session()
    profile = target.profile(scenario.api)
    variables: dict[str, Any] = {"$codes": profile.codes, "$events": profile.events}
    found_at = dict(profile.lists)
    if profile.webhooks.get("object"):
        found_at["object"] = profile.webhooks["object"]
    aliases = paths.use_aliases(found_at)
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
            run.index = index
            try:
                _STEPS[next(k for k in _STEPS if k in step)](run, step)
            except _Stop:
                break
            except _StepFailed as exc:
                raise ScenarioFailure(
                    scenario, index, step, exc.problems, exc.exchange, exc.received
                ) from None
            except http.CredentialMissing as exc:
                raise ScenarioSkip(str(exc)) from None
    finally:
        paths.reset_aliases(aliases)
        for stream in run.streams.values():
            stream.close()
        run.session.close()
        receiver.forget(token)
    return run.departures


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
        items = paths.get(ex.json, "@items")
        ids = [e.get("id") for e in items or [] if isinstance(e, dict)]
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
        secret = _endpoint_secret(body, target.profile("kaspi").webhooks.get("secret_field"))
        if ex.status != 201 or not isinstance(body, dict) or not body.get("id") or not secret:
            raise ScenarioSkip(
                "cannot create a Kaspi webhook endpoint (expected 201 with an id and its "
                f"signing secret; the target profile's webhooks.secret_field says where): "
                f"{ex.received()}"
            )
        receiver.set_secret(token, secret)
        receiver.shared[key] = {
            "token": token,
            "id": body["id"],
            "secret": secret,
            "url": receiver.url_for(token),
        }
    return receiver.shared[key]


def _endpoint_secret(body: Any, field: str | None) -> str | None:
    """The created endpoint's signing secret: at the profile's path, else ``secret``,
    ``signing_secret`` or the one other member whose name says secret (not a hint)."""
    if field:
        found = paths.get(body, field)
        return found if isinstance(found, str) and found else None
    if not isinstance(body, dict):
        return None
    for name in ("secret", "signing_secret", "webhook_secret"):
        if isinstance(body.get(name), str) and body[name]:
            return str(body[name])
    named = [
        v
        for k, v in body.items()
        if "secret" in k.lower() and "hint" not in k.lower() and isinstance(v, str) and v
    ]
    return named[0] if len(named) == 1 else None


# -- requests -----------------------------------------------------------------------------
def _body_problem(ex: http.Exchange) -> str | None:
    """Why the body cannot be checked (empty, not JSON), or None."""
    if ex.json is not None or ex.text.strip() == "null":
        return None
    if not ex.text:
        return f"answered {ex.status} with an empty body, expected a JSON body"
    return f"answered {ex.status} with a body that is not JSON: {ex.text[:200]!r}"


def _checks(run: Run, step: dict[str, Any], ex: http.Exchange) -> list[Finding]:
    if ex.error:
        return [Finding(f"no response: {ex.error}", NO_RESPONSE)]
    findings = []
    for spec, source in run.blocks(step, "expect"):
        problems = []
        if "status" in spec:
            problems += expect.check_status(ex.status, spec["status"])
        if "headers" in spec:
            problems += expect.check_headers(ex.response_headers, spec["headers"])
        if "body" in spec or "schema" in spec:
            unreadable = _body_problem(ex)
            if unreadable:
                problems.append(unreadable)
            else:
                if "body" in spec:
                    problems += expect.check_body(ex.json, spec["body"])
                if "schema" in spec:
                    errors = expect.schema_errors(ex.json, spec["schema"])
                    problems += [f"schema: {e}" for e in errors]
        findings += [Finding(p, source) for p in problems]
    return findings


def _expects_429(step: dict[str, Any]) -> bool:
    """Whether the step tests a 429 itself (then a 429 is not waited out)."""
    text = str(step.get("expect", "")) + str(step.get("results", ""))
    return "429" in text


def _save(
    run: Run, spec: dict[str, str] | None, value: Any, ex: http.Exchange | None = None
) -> None:
    for name, path in (spec or {}).items():
        found = paths.get(value, path)
        if found is paths.MISSING:
            said = ""
            if ex is not None:
                said = _body_problem(ex) or f"answered {ex.status} without it"
            raise _StepFailed(
                [f"save {name}: expected a value at {path!r} to go on with; {said}".rstrip("; ")],
                ex,
            )
        run.variables[name] = found


def _one(run: Run, step: dict[str, Any]) -> http.Exchange:
    spec = run.render(step["request"])
    ex = http.build(run.target, run.api, spec)
    return http.send(
        run.session, ex, timeout=spec.get("timeout", 10.0), patient=not _expects_429(step)
    )


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
        findings = _checks(run, step, ex)
        if not findings or not wait or time.monotonic() >= deadline:
            break
        time.sleep(wait.get("interval", 0.1))
    if findings and wait:
        late = f"still not so after {wait.get('timeout', DEFAULT_WAIT)} s"
        findings = [Finding(f"{late}: {f.problem}", f.source) for f in findings]
    problems = run.judge(step, findings, ex.received())
    if problems:
        raise _StepFailed(problems, ex)
    _save(run, step.get("save"), ex.json, ex)


def _burst(
    run: Run, built: list[http.Exchange], timeout: float, concurrent: bool
) -> list[http.Exchange]:
    if not concurrent:
        return [http.send(run.session, ex, timeout=timeout, patient=False) for ex in built]
    # A barrier lines the senders up so the requests really overlap at the server.
    barrier = threading.Barrier(len(built))

    def go(ex: http.Exchange) -> http.Exchange:
        with suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=10)
        return http.send(run.session, ex, timeout=timeout, patient=False)

    with ThreadPoolExecutor(max_workers=len(built)) as pool:
        return list(pool.map(go, built))


def _unthrottled(
    run: Run, step: dict[str, Any], done: list[http.Exchange], timeout: float
) -> list[http.Exchange]:
    """The repetitions the target throttled (429 + Retry-After), sent again once it says so.

    A burst the target's own rate limit cuts short says nothing of the behaviour under test;
    what still cannot get through makes the scenario not applicable, never failed.
    """
    for _ in range(patience.MAX_RETRIES):
        throttled = [i for i, ex in enumerate(done) if ex.status == 429]
        if not throttled:
            return done
        worst = max((done[i] for i in throttled), key=_retry_after)
        if not patience.wait_for(429, worst.response_headers):
            break
        again = _burst(run, [http.unsent(done[i]) for i in throttled], timeout, True)
        for i, ex in zip(throttled, again, strict=True):
            done[i] = ex
    still = sum(ex.status == 429 for ex in done)
    raise ScenarioSkip(
        f"not applicable: the target's rate limit refused {still} of {len(done)} requests of "
        f"{step_label(run.index, step)} (429) even after waiting out Retry-After"
    )


def _retry_after(ex: http.Exchange) -> float:
    return patience.retry_after_seconds(patience.header(ex.response_headers)) or 0.0


def _repeat(run: Run, step: dict[str, Any]) -> None:
    count = step["repeat"]["count"]
    concurrent = step["repeat"].get("concurrent", True)
    built = [http.build(run.target, run.api, run.render(step["request"])) for _ in range(count)]
    timeout = step["request"].get("timeout", 10.0)
    done = _burst(run, built, timeout, concurrent)
    if not _expects_429(step) and any(ex.status == 429 for ex in done):
        done = _unthrottled(run, step, done, timeout)
    findings = []
    for i, ex in enumerate(done):
        for f in _checks(run, step, ex):
            findings.append(Finding(f"repetition {i + 1}: {f.problem}", f.source))
            break
    if len(findings) > 5:
        more = Finding(f"... and {len(findings) - 5} more", findings[5].source)
        findings = [*findings[:5], more]
    for spec, source in run.blocks(step, "results"):
        findings += [Finding(p, source) for p in _results(spec, done)]
    problems = run.judge(step, findings, _tally(done))
    if problems:
        bad = next((ex for ex in done if _checks(run, step, ex)), done[0])
        raise _StepFailed(problems, bad, received=_tally(done))
    ok = [ex for ex in done if 200 <= ex.status < 300]
    if step.get("save"):
        first = (ok or done)[0]
        _save(run, step["save"], first.json, first)


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
    return ControlDriver(run.target.control_url, run.target.control_token)


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
        control = _control(run)
        ex = http.Exchange(
            method=spec["method"],
            url=control.url + spec["path"],
            headers={
                **control.headers,
                **({"Content-Type": "application/json"} if has_body else {}),
            },
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
    except OutcomeUnreachable as exc:
        what = spec.get("status") or spec.get("outcome")
        raise ScenarioSkip(
            f"the {driver.name} cannot make a {spec['object']} {what}: {exc}"
        ) from None
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
        key = "expect_webhooks" if webhooks else "expect_events"
        source = run.blocks(step, key)[0][1]
        received = eventcheck.describe(records)
        findings = [Finding(p, source) for p in problems]
        if webhooks and run.target.profile(run.api).webhooks.get("signature_header"):
            # The target declared how it signs: a signature that does not verify breaks its
            # own stated contract, whatever the supplement says.
            findings = [
                Finding(f.problem, DECLARED_SIGNATURE) if f.problem.startswith("signed") else f
                for f in findings
            ]
        failing = run.judge(step, findings, received)
        if failing:
            raise _StepFailed(failing, received=received)
    _save(run, step.get("save"), eventcheck.summary(records))


def _named(run: Run, spec: dict[str, Any]) -> dict[str, Any]:
    """The event checks with the supplement's kinds renamed as the target profile says."""
    names: dict[str, str] = run.variables.get("$events") or {}
    if not names:
        return spec
    out = dict(spec)
    for key in ("kinds", "kinds_set", "includes", "excludes"):
        if isinstance(out.get(key), list):
            out[key] = [names.get(k, k) for k in out[key]]
    if isinstance(out.get("where"), dict):
        out["where"] = {
            k: names.get(v, v) if k in ("@kind", "kind", "event", "type") else v
            for k, v in out["where"].items()
        }
    return out


def step_expect_webhooks(run: Run, step: dict[str, Any]) -> None:
    """Wait until this scenario's deliveries satisfy the checks."""
    spec = _named(run, run.render(step["expect_webhooks"]))
    _await(run, step, spec, lambda: _webhook_records(run), True)


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
        if spec["last_event_id"] in (None, ""):
            # Nothing to resume from: the ids were a departure already (the supplement's);
            # at strict that fails, at spec the rest of the scenario cannot apply.
            finding = Finding(
                "cannot resume: the earlier events carried no id",
                provenance.Source("supplement", "/sse/resume"),
            )
            if run.judge(step, [finding]):
                raise _StepFailed([finding.problem])
            raise _Stop()
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
    spec = _named(run, run.render(step["expect_events"]))
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
