"""Request steps: one request, polled until its expectations hold, or repeated (concurrently)
with checks over every answer; a burst the target's rate limit cuts short is sent again."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from typing import Any

from harness import patience
from harness.promises import Why
from harness.scenarios import expect, http, paths
from harness.scenarios.state import (
    DEFAULT_WAIT,
    NO_RESPONSE,
    Mismatch,
    Run,
    ScenarioSkip,
    StepFailed,
    body_problem,
    save,
    step_label,
)


def checks(run: Run, step: dict[str, Any], ex: http.Exchange) -> list[Mismatch]:
    if ex.error:
        return [Mismatch(f"no response: {ex.error}", NO_RESPONSE)]
    findings = []
    for spec, source in run.blocks(step, "expect"):
        problems = []
        if "status" in spec:
            problems += expect.check_status(ex.status, spec["status"])
        if "headers" in spec:
            problems += expect.check_headers(ex.response_headers, spec["headers"])
        if "body" in spec or "schema" in spec:
            unreadable = body_problem(ex)
            if unreadable:
                problems.append(unreadable)
            else:
                if "body" in spec:
                    problems += expect.check_body(ex.json, spec["body"])
                if "schema" in spec:
                    errors = expect.schema_errors(ex.json, spec["schema"])
                    problems += [f"schema: {e}" for e in errors]
        findings += [Mismatch(p, source) for p in problems]
    return findings


def expects_429(step: dict[str, Any]) -> bool:
    """Whether the step tests a 429 itself (then a 429 is not waited out)."""
    text = str(step.get("expect", "")) + str(step.get("results", ""))
    return "429" in text


def _one(run: Run, step: dict[str, Any]) -> http.Exchange:
    spec = run.render(step["request"])
    ex = http.build(run.target, run.api, spec)
    return http.send(
        run.session, ex, timeout=spec.get("timeout", 10.0), patient=not expects_429(step)
    )


def step_request(run: Run, step: dict[str, Any]) -> None:
    """A request, polled (``wait``), repeated (``repeat``) or sent once; checked and saved."""
    if "repeat" in step:
        _repeat(run, step)
        return
    poll(run, step, lambda: _one(run, step))


def poll(run: Run, step: dict[str, Any], send: Callable[[], http.Exchange]) -> None:
    wait = run.render(step.get("wait"))
    deadline = time.monotonic() + (wait or {}).get("timeout", DEFAULT_WAIT)
    while True:
        ex = send()
        findings = checks(run, step, ex)
        if not findings or not wait or time.monotonic() >= deadline:
            break
        time.sleep(wait.get("interval", 0.1))
    if findings and wait:
        late = f"still not so after {wait.get('timeout', DEFAULT_WAIT)} s"
        findings = [Mismatch(f"{late}: {f.problem}", f.source) for f in findings]
    problems = run.judge(step, findings, ex.received())
    if problems:
        raise StepFailed(problems, ex)
    save(run, step, ex.json, ex)


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
    """The repetitions the target throttled (429, or 503 with Retry-After), sent again once it
    says so.

    A burst the target's own rate limit cuts short says nothing of the behaviour under test;
    what still cannot get through makes the scenario not applicable, never failed.
    """
    for _ in range(patience.MAX_RETRIES):
        throttled = [i for i, ex in enumerate(done) if _throttled(ex)]
        if not throttled:
            return done
        worst = max((done[i] for i in throttled), key=_retry_after)
        if not patience.wait_for(worst.status or 0, worst.response_headers):
            break
        again = _burst(run, [http.unsent(done[i]) for i in throttled], timeout, True)
        for i, ex in zip(throttled, again, strict=True):
            done[i] = ex
    still = sum(_throttled(ex) for ex in done)
    raise ScenarioSkip(
        f"not applicable: the target refused {still} of {len(done)} requests of "
        f"{step_label(run.index, step)} (429, or 503 with Retry-After) even after waiting out "
        "Retry-After",
        Why.THROTTLED,
    )


def _throttled(ex: http.Exchange) -> bool:
    return patience.asks_to_wait(ex.status, ex.response_headers)


def _retry_after(ex: http.Exchange) -> float:
    return patience.retry_after_seconds(patience.header(ex.response_headers)) or 0.0


def _repeat(run: Run, step: dict[str, Any]) -> None:
    count = step["repeat"]["count"]
    concurrent = step["repeat"].get("concurrent", True)
    built = [http.build(run.target, run.api, run.render(step["request"])) for _ in range(count)]
    timeout = step["request"].get("timeout", 10.0)
    done = _burst(run, built, timeout, concurrent)
    if not expects_429(step) and any(_throttled(ex) for ex in done):
        done = _unthrottled(run, step, done, timeout)
    findings = []
    for i, ex in enumerate(done):
        for f in checks(run, step, ex):
            findings.append(Mismatch(f"repetition {i + 1}: {f.problem}", f.source))
            break
    if len(findings) > 5:
        more = Mismatch(f"... and {len(findings) - 5} more", findings[5].source)
        findings = [*findings[:5], more]
    for spec, source in run.blocks(step, "results"):
        findings += [Mismatch(p, source) for p in _results(spec, done)]
    problems = run.judge(step, findings, _tally(done))
    if problems:
        bad = next((ex for ex in done if checks(run, step, ex)), done[0])
        raise StepFailed(problems, bad, received=_tally(done))
    ok = [ex for ex in done if 200 <= ex.status < 300]
    if step.get("save"):
        first = (ok or done)[0]
        save(run, step, first.json, first)


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
