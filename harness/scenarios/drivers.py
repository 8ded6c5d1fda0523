"""Outcome drivers: make a payment succeed or an invoice get paid, whatever the target is.

A scenario says what it needs abstractly (``outcome: {object: payment, id: ..., status:
succeeded}`` or the next object's outcome); the first driver able to do it does it:

* :class:`KaspiSandboxDriver`: Kaspi's in-spec ``POST /v1/sandbox/invoices/{id}/simulate``;
* :class:`ControlDriver`: the simulator's control API (``target.control_url``);
* :class:`HookDriver`: ``target.outcome_hook``, an HTTP URL or a command the partner supplies,
  given ``{"api", "object", "id", "outcome"}`` as JSON.

When none can, the scenario is skipped with the reason (never passed silently).
"""

from __future__ import annotations

import json
import shlex
import subprocess
from typing import Any, Protocol

import requests

from harness.target import Target

SANDBOX_STATUSES = ("paid", "canceled", "failed", "pending")


class DriverError(Exception):
    """A driver was able to try but the target refused."""


class Driver(Protocol):
    """Sets up outcomes on one kind of target."""

    name: str

    def supports(self, api: str, obj: str, *, now: bool, status: str | None) -> bool:
        """Whether it can force ``status`` now (``now``) or queue the next object's outcome."""

    def queue(self, api: str, obj: str, outcome: str, delay_ms: int | None) -> None:
        """The outcome of the next created object."""

    def transition(self, api: str, obj: str, obj_id: str, status: str) -> None:
        """Force an existing object into ``status`` now."""


def _post(url: str, payload: dict[str, Any], headers: dict[str, str] | None = None) -> Any:
    try:
        resp = requests.post(url, json=payload, headers=headers, timeout=10)
    except requests.RequestException as exc:
        raise DriverError(f"POST {url}: {exc}") from exc
    if resp.status_code >= 300:
        raise DriverError(f"POST {url} {json.dumps(payload)} -> {resp.status_code} {resp.text}")
    return resp.json() if resp.content else None


class ControlDriver:
    """The simulator's control API."""

    name = "control API"

    def __init__(self, control_url: str) -> None:
        self.url = control_url.rstrip("/")

    def supports(self, api: str, obj: str, *, now: bool, status: str | None) -> bool:
        return True

    def queue(self, api: str, obj: str, outcome: str, delay_ms: int | None) -> None:
        payload: dict[str, Any] = {"api": api, "object": obj, "outcome": outcome}
        if delay_ms is not None:
            payload["delay_ms"] = delay_ms
        _post(f"{self.url}/outcomes", payload)

    def transition(self, api: str, obj: str, obj_id: str, status: str) -> None:
        _post(f"{self.url}/transition", {"api": api, "object": obj, "id": obj_id, "status": status})

    def advance_clock(self, seconds: float) -> Any:
        """Move simulated time; due transitions run before this returns."""
        return _post(f"{self.url}/clock/advance", {"seconds": seconds})


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
            _post(self.hook, payload)
            return
        try:
            done = subprocess.run(
                shlex.split(self.hook),
                input=json.dumps(payload).encode(),
                capture_output=True,
                timeout=30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise DriverError(f"outcome hook {self.hook!r}: {exc}") from exc
        if done.returncode != 0:
            raise DriverError(
                f"outcome hook {self.hook!r} exited {done.returncode}: "
                f"{done.stderr.decode(errors='replace')[-500:]}"
            )

    def queue(self, api: str, obj: str, outcome: str, delay_ms: int | None) -> None:
        self._call(
            {"api": api, "object": obj, "id": None, "outcome": outcome, "delay_ms": delay_ms}
        )

    def transition(self, api: str, obj: str, obj_id: str, status: str) -> None:
        self._call({"api": api, "object": obj, "id": obj_id, "outcome": status})


def drivers_for(target: Target) -> list[Driver]:
    """The drivers a target offers, in the order they are tried (in-spec first)."""
    found: list[Driver] = []
    if "kaspi" in target.apis and target.kaspi_key:
        found.append(KaspiSandboxDriver(target.kaspi_url, target.kaspi_key))
    if target.control_url:
        found.append(ControlDriver(target.control_url))
    if target.outcome_hook:
        found.append(HookDriver(target.outcome_hook))
    return found


def pick(
    drivers: list[Driver], api: str, obj: str, *, now: bool, status: str | None
) -> Driver | None:
    """The first driver able to set up this outcome."""
    return next((d for d in drivers if d.supports(api, obj, now=now, status=status)), None)
