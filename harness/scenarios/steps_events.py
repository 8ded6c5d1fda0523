"""Event steps: the webhooks this scenario received and the SSE streams it opened, waited on
until their checks hold; event kinds as the target profile names them."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from harness.apis import FACTS
from harness.scenarios import eventcheck, expect, http, provenance
from harness.scenarios.sse import SSEStream
from harness.scenarios.state import (
    DECLARED_SIGNATURE,
    DEFAULT_WAIT,
    Mismatch,
    Run,
    StepFailed,
    Stop,
    save,
)


def _webhook_records(run: Run) -> list[eventcheck.Seen]:
    return [
        eventcheck.Seen(
            d.event_id,
            eventcheck.kind_of(d.json, d.headers),
            d.json,
            d.body.decode("utf-8", "replace"),
            d.signature_valid,
            d.valid_with_other_secret,
            d.answered,
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
        findings = [Mismatch(p, source) for p in problems]
        if webhooks and run.target.profile(run.api).webhooks.get("signature_header"):
            # The target declared how it signs: a signature that does not verify breaks its
            # own stated contract, whatever the supplement says.
            findings = [
                Mismatch(f.problem, DECLARED_SIGNATURE) if f.problem.startswith("signed") else f
                for f in findings
            ]
        failing = run.judge(step, findings, received)
        if failing:
            raise StepFailed(failing, received=received)
    save(run, step, eventcheck.summary(records))


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
            finding = Mismatch(
                "cannot resume: the earlier events carried no id",
                provenance.Source("supplement", "/sse/resume"),
            )
            if run.judge(step, [finding]):
                raise StepFailed([finding.problem])
            raise Stop()
        headers["Last-Event-ID"] = str(spec["last_event_id"])
    facts = FACTS[run.api]
    if facts.event_stream is None:
        raise StepFailed([f"{run.api} has no event stream"])
    stream = SSEStream(getattr(run.target, facts.url_setting) + facts.event_stream, headers).open()
    if stream.status != 200:
        raise StepFailed(
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
        raise StepFailed([f"no open SSE stream {name!r}"])
    stream = run.streams[name]
    if "heartbeats" in spec:
        _await_heartbeats(run, step, spec, stream)
        if not set(spec) - {"heartbeats", "stream", "timeout", "from"}:
            return
    _await(run, step, spec, lambda: _sse_records(stream), False)


def _await_heartbeats(
    run: Run, step: dict[str, Any], spec: dict[str, Any], stream: SSEStream
) -> None:
    """Wait until the stream's comment lines (``: ping``) satisfy ``heartbeats``."""
    deadline = time.monotonic() + spec.get("timeout", DEFAULT_WAIT)
    while True:
        pings = sum(1 for c in stream.comments if c == "ping")  # the seed's heartbeat, ': ping'
        why = expect.match(pings, spec["heartbeats"])
        if why is None or time.monotonic() >= deadline:
            break
        time.sleep(0.1)
    if why is not None:
        source = run.blocks(step, "expect_events")[0][1]
        failing = run.judge(step, [Mismatch(f"heartbeats: {why}", source)])
        if failing:
            raise StepFailed(failing, received=f"comments: {stream.comments[:5]}")
