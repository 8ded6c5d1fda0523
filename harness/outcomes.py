"""Outcome drivers: make a payment succeed or an invoice get paid, whatever the target is.

A scenario or a contract probe says what it needs abstractly (``{object: payment, id: ...,
status: succeeded}``, or the outcome of the next created object); the first driver able to do
it does it:

* :class:`KaspiSandboxDriver`: Kaspi's in-spec ``POST /v1/sandbox/invoices/{id}/simulate``;
* :class:`ControlDriver`: the simulator's control API (``target.control_url``);
* :class:`HookDriver`: ``target.outcome_hook``, an HTTP URL or a command the partner supplies.

The outcome hook contract (README, "Outcome hooks"): the hook is given one JSON object,
``{"api", "object", "id", "outcome", "delay_ms"}``; ``id`` null means "the next object of this
kind created"; ``delay_ms`` (only then) how long after its creation the object reaches the
outcome. A URL is POSTed the object: 2xx done, **501** "I cannot reach this outcome" (the body's
``reason`` or text says why), anything else a failure. A command (split like a shell line, run
without a shell) reads it on stdin: exit 0 done, exit **69** (EX_UNAVAILABLE) "I cannot reach
this outcome" (its last output line says why), anything else a failure. Each call has
:data:`HOOK_TIMEOUT_S`.

When no driver can, or the hook says it cannot, the scenario or probe is skipped with the reason
(never passed silently, never failed).
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
from typing import Any, Protocol

import requests

from harness import patience
from harness.target import Target

SANDBOX_STATUSES = ("paid", "canceled", "failed", "pending")
HOOK_UNREACHABLE_STATUS = 501
HOOK_UNREACHABLE_EXIT = 69
HOOK_TIMEOUT_S = float(os.environ.get("PAYSIM_OUTCOME_HOOK_TIMEOUT", "30"))


class DriverError(Exception):
    """A driver was able to try but the target refused."""


class OutcomeUnreachable(DriverError):
    """The hook says this target cannot reach the outcome: skip, with its reason."""


class Driver(Protocol):
    """Sets up outcomes on one kind of target."""

    name: str

    def supports(self, api: str, obj: str, *, now: bool, status: str | None) -> bool:
        """Whether it can force ``status`` now (``now``) or queue the next object's outcome."""

    def queue(self, api: str, obj: str, outcome: str, delay_ms: int | None) -> None:
        """The outcome of the next created object."""

    def transition(self, api: str, obj: str, obj_id: str, status: str) -> None:
        """Force an existing object into ``status`` now."""


def _post(
    url: str,
    payload: dict[str, Any],
    headers: dict[str, str] | None = None,
    timeout: float = 10.0,
) -> Any:
    try:
        resp = patience.request("POST", url, json=payload, headers=headers, timeout=timeout)
    except requests.RequestException as exc:
        raise DriverError(f"POST {url}: {exc}") from exc
    if resp.status_code >= 300:
        raise DriverError(
            f"POST {url} {json.dumps(payload)}: expected 2xx, got {resp.status_code} "
            f"{resp.text[:500] or '(empty body)'}"
        )
    try:
        return resp.json() if resp.content else None
    except ValueError:
        return None


class ControlDriver:
    """The simulator's control API."""

    name = "control API"

    def __init__(self, control_url: str, token: str = "") -> None:
        self.url = control_url.rstrip("/")
        self.headers = {"X-Control-Token": token} if token else {}

    def supports(self, api: str, obj: str, *, now: bool, status: str | None) -> bool:
        return True

    def queue(self, api: str, obj: str, outcome: str, delay_ms: int | None) -> None:
        payload: dict[str, Any] = {"api": api, "object": obj, "outcome": outcome}
        if delay_ms is not None:
            payload["delay_ms"] = delay_ms
        _post(f"{self.url}/outcomes", payload, headers=self.headers)

    def transition(self, api: str, obj: str, obj_id: str, status: str) -> None:
        _post(
            f"{self.url}/transition",
            {"api": api, "object": obj, "id": obj_id, "status": status},
            headers=self.headers,
        )

    def advance_clock(self, seconds: float) -> Any:
        """Move simulated time; due transitions run before this returns."""
        return _post(f"{self.url}/clock/advance", {"seconds": seconds}, headers=self.headers)


class KaspiSandboxDriver:
    """Kaspi's in-spec sandbox simulate, for sandbox invoices."""

    name = "Kaspi sandbox simulate"

    def __init__(self, kaspi_url: str, api_key: str) -> None:
        self.url = kaspi_url.rstrip("/")
        self.key = api_key

    def supports(self, api: str, obj: str, *, now: bool, status: str | None) -> bool:
        return api == "kaspi" and obj == "invoice" and now and status in SANDBOX_STATUSES

    def queue(self, api: str, obj: str, outcome: str, delay_ms: int | None) -> None:
        raise DriverError("the sandbox cannot queue outcomes")

    def transition(self, api: str, obj: str, obj_id: str, status: str) -> None:
        _post(
            f"{self.url}/v1/sandbox/invoices/{obj_id}/simulate",
            {"status": status},
            headers={"X-API-Key": self.key},
        )


class HookDriver:
    """A partner's hook: an http(s) URL to POST to, or a command reading JSON on stdin."""

    name = "outcome hook"

    def __init__(self, hook: str) -> None:
        self.hook = hook

    def supports(self, api: str, obj: str, *, now: bool, status: str | None) -> bool:
        return True

    def _call(self, payload: dict[str, Any]) -> None:
        if self.hook.startswith(("http://", "https://")):
            self._post(payload)
        else:
            self._run(payload)

    def _post(self, payload: dict[str, Any]) -> None:
        try:
            resp = patience.request("POST", self.hook, json=payload, timeout=HOOK_TIMEOUT_S)
        except requests.RequestException as exc:
            raise DriverError(f"POST {self.hook}: {exc}") from exc
        if resp.status_code == HOOK_UNREACHABLE_STATUS:
            raise OutcomeUnreachable(_reason(resp.text) or "the hook answered 501")
        if not 200 <= resp.status_code < 300:
            raise DriverError(
                f"POST {self.hook} given {json.dumps(payload)}: expected 2xx (or 501 "
                f"for an outcome it cannot reach), got {resp.status_code} {resp.text[:500]}"
            )

    def _run(self, payload: dict[str, Any]) -> None:
        try:
            done = subprocess.run(
                shlex.split(self.hook),
                input=json.dumps(payload).encode(),
                capture_output=True,
                timeout=HOOK_TIMEOUT_S,
                check=False,
            )
        except (OSError, ValueError, subprocess.TimeoutExpired) as exc:
            raise DriverError(f"outcome hook {self.hook!r}: {exc}") from exc
        said = (done.stdout + b"\n" + done.stderr).decode(errors="replace")
        if done.returncode == HOOK_UNREACHABLE_EXIT:
            raise OutcomeUnreachable(_reason(said) or f"the hook exited {HOOK_UNREACHABLE_EXIT}")
        if done.returncode != 0:
            raise DriverError(
                f"outcome hook {self.hook!r} given {json.dumps(payload)}: expected exit 0 (or "
                f"{HOOK_UNREACHABLE_EXIT} for an outcome it cannot reach), got "
                f"{done.returncode}: {said.strip()[-500:]}"
            )

    def queue(self, api: str, obj: str, outcome: str, delay_ms: int | None) -> None:
        self._call(
            {"api": api, "object": obj, "id": None, "outcome": outcome, "delay_ms": delay_ms}
        )

    def transition(self, api: str, obj: str, obj_id: str, status: str) -> None:
        self._call({"api": api, "object": obj, "id": obj_id, "outcome": status, "delay_ms": None})


def _reason(text: str) -> str:
    """The hook's reason: a JSON body's ``reason``, else its last non-empty line."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict) and isinstance(body.get("reason"), str):
        return body["reason"]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    return lines[-1][:300] if lines else ""


def drivers_for(target: Target) -> list[Driver]:
    """The drivers a target offers, in the order they are tried (in-spec first)."""
    found: list[Driver] = []
    if "kaspi" in target.apis and target.kaspi_key:
        found.append(KaspiSandboxDriver(target.kaspi_url, target.kaspi_key))
    if target.control_url:
        found.append(ControlDriver(target.control_url, target.control_token))
    if target.outcome_hook:
        found.append(HookDriver(target.outcome_hook))
    return found


def pick(
    drivers: list[Driver], api: str, obj: str, *, now: bool, status: str | None
) -> Driver | None:
    """The first driver able to set up this outcome."""
    return next((d for d in drivers if d.supports(api, obj, now=now, status=status)), None)


def drive(target: Target, api: str, obj: str, obj_id: str, status: str) -> str | None:
    """Move an existing object to ``status`` through the first able driver.

    None when done; else why it cannot be done on this target (no driver, or the hook says it
    cannot reach the outcome). A driver that tries and fails raises DriverError.
    """
    driver = pick(drivers_for(target), api, obj, now=True, status=status)
    if driver is None:
        return (
            f"cannot drive {api} {obj} -> {status} on this target: it needs the simulator's "
            "control API (--control-url) or an outcome hook (--outcome-hook)"
        )
    try:
        driver.transition(api, obj, obj_id, status)
    except OutcomeUnreachable as exc:
        return f"the outcome hook cannot make a {api} {obj} {status}: {exc}"
    return None
