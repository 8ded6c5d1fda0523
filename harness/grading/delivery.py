"""Sending events to a webhook handler and asking its state probe."""

from __future__ import annotations

import json
import subprocess
import time
from dataclasses import dataclass, field
from typing import Any

import requests

from harness import patience, signing
from harness.apis.facts import WebhookFormat
from harness.grading.findings import Evidence

UNREACHABLE = 69  # EX_UNAVAILABLE: the probe command cannot say
CONNECT_S = 5.0
PATIENCE = 3  # an answer is waited for this many times the timeout: a late one is still timed


class Unreachable(Exception):
    """The handler's URL answers nothing at all."""


@dataclass
class HandlerTarget:
    url: str
    api: str
    secret: str
    state_url: str | None = None
    state_command: list[str] | None = None
    timeout_s: float | None = None  # the supplement's 5 s unless given


# -- sending ----------------------------------------------------------------------------------


@dataclass
class Sender:
    """Sends events on a kept connection, and on a new one after any error answer, failure or
    close: a handler that answered 500 may have closed the connection it is still kept on."""

    target: HandlerTarget
    fmt: WebhookFormat
    session: requests.Session = field(default_factory=requests.Session)
    unreachable: bool = False  # the last send could not connect at all
    _stale: bool = False

    @property
    def timeout_s(self) -> float:
        return self.target.timeout_s or self.fmt.timeout_s

    def headers(
        self, body: dict[str, Any] | None, raw: bytes, secret: str | None
    ) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "User-Agent": "paysim-grader/1"}
        if body is not None:
            headers[self.fmt.event_id_header] = str(body.get("id"))
            headers[self.fmt.event_header] = str(body.get(self.fmt.kind_field))
        headers.update(self.fmt.extra_headers)
        if secret is not None:
            headers[self.fmt.signature_header] = signing.sign(raw, secret, prefix=self.fmt.prefix)
        return headers

    def close(self) -> None:
        self.session.close()

    def post(self, raw: bytes, headers: dict[str, str]) -> Evidence:
        """POST ``raw``; a 429 with Retry-After is waited out and sent again, as the API's own
        sender does, and the answer judged is the last one (timed on its own)."""
        exchange = Evidence("POST", self.target.url, headers, raw)
        started = time.perf_counter()

        def send() -> requests.Response:
            nonlocal started
            if self._stale:
                self.session.close()
                self.session = requests.Session()
            self._stale = True  # until an answer says the connection may be kept
            started = time.perf_counter()
            resp = self.session.post(
                self.target.url,
                data=raw,
                headers=headers,
                timeout=(CONNECT_S, self.timeout_s * PATIENCE),
                allow_redirects=False,
            )
            closing = resp.headers.get("Connection", "").lower() == "close"
            self._stale = resp.status_code >= 400 or closing
            return resp

        self.unreachable = False
        try:
            resp = patience.patiently(send, lambda r: (r.status_code, r.headers))
        except requests.RequestException as exc:
            exchange.elapsed_ms = (time.perf_counter() - started) * 1000
            if isinstance(exc, requests.ReadTimeout):
                waited = self.timeout_s * PATIENCE
                exchange.error = f"no answer within {waited:g} s (ReadTimeout)"
            else:
                exchange.error = f"no answer: {type(exc).__name__}"
                self.unreachable = isinstance(exc, requests.ConnectionError)
            return exchange
        exchange.elapsed_ms = (time.perf_counter() - started) * 1000
        exchange.status = resp.status_code
        exchange.answer = resp.text[:500]
        return exchange

    def send(self, body: dict[str, Any], secret: str | None = "") -> Evidence:
        """``body`` signed with the target's secret (``secret`` given: that one; None: unsigned)."""
        raw = json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
        key = self.target.secret if secret == "" else secret
        return self.post(raw, self.headers(body, raw, key))


def ok(exchange: Evidence, timeout_s: float) -> bool:
    """Accepted in time (what the accepts_valid rule alone judges: the others, ``accepted``)."""
    return accepted(exchange) and (exchange.elapsed_ms or 0) <= timeout_s * 1000


def accepted(exchange: Evidence) -> bool:
    """Answered 2xx, however long it took."""
    return exchange.status is not None and 200 <= exchange.status < 300


def refused(exchange: Evidence) -> bool:
    """Not taken: any answer but a 2xx (a dropped connection also leaves the event undone)."""
    return exchange.status is None or not 200 <= exchange.status < 300


def no_5xx(exchange: Evidence) -> bool:
    return exchange.status is not None and exchange.status < 500


# -- the state probe --------------------------------------------------------------------------


class Probe:
    def __init__(self, target: HandlerTarget) -> None:
        self.target = target

    @property
    def given(self) -> bool:
        return bool(self.target.state_url or self.target.state_command)

    def ask(self, event_id: str, object_id: str) -> dict[str, Any] | None:
        """The probe's answer, or None when it says it cannot tell."""
        if self.target.state_url:
            resp = requests.get(
                self.target.state_url,
                params={"event_id": event_id, "object_id": object_id},
                timeout=30,
            )
            if resp.status_code == 501:
                return None
            resp.raise_for_status()
            answer: dict[str, Any] = resp.json()
            return answer
        assert self.target.state_command
        done = subprocess.run(
            [*self.target.state_command, event_id, object_id],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
        )
        if done.returncode == UNREACHABLE:
            return None
        if done.returncode != 0:
            raise RuntimeError(f"the state command exited {done.returncode}: {done.stderr[-300:]}")
        parsed: dict[str, Any] = json.loads(done.stdout)
        return parsed
