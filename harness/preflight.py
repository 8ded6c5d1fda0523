"""Check once, before any suite runs, that the target answers and accepts every credential."""

from __future__ import annotations

import requests

from harness import patience
from harness.apis import FACTS
from harness.target import Target


class PreflightError(Exception):
    """The target cannot be tested: unreachable, or a credential is rejected."""


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def probes(target: Target) -> list[tuple[str, str, dict[str, str], str]]:
    """(api, url, headers, flag) of one read per credential given (key A always)."""
    found = []
    for api in target.apis:
        facts = FACTS[api]
        url = getattr(target, facts.url_setting) + facts.probe
        first, *others = facts.key_fields()
        for field in (first, *others):
            key = getattr(target, field)
            if key or field == first:
                found.append((api, url, facts.key_headers(key), _flag(field)))
    return found


def preflight(target: Target, timeout: float = 5.0) -> None:
    """Raise PreflightError with one clear message when the target cannot be tested."""
    for api, url, headers, flag in probes(target):
        try:
            resp = patience.request("GET", url, headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            raise PreflightError(f"{api} target unreachable at {url}: {exc}") from exc
        if resp.status_code in (401, 403):
            raise PreflightError(
                f"{api} target at {url} rejected the credentials ({resp.status_code}): check {flag}"
            )
        if resp.status_code >= 500:
            raise PreflightError(f"{api} target at {url} answered {resp.status_code}")
