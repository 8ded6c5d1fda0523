"""Check once, before any suite runs, that the target answers and accepts every credential."""

from __future__ import annotations

import requests

from harness import patience
from harness.target import Target

# The credentials of each API that preflight tries, by Target field (the option's flag names it).
FREEFIN_KEYS = (
    "freefin_key",
    "freefin_key_b",
    "freefin_key_2",
    "freefin_signed_key",
    "freefin_limited_key",
)
KASPI_KEYS = ("kaspi_key", "kaspi_key_b", "kaspi_key_unconnected", "kaspi_limited_key")


class PreflightError(Exception):
    """The target cannot be tested: unreachable, or a credential is rejected."""


def _flag(field: str) -> str:
    return "--" + field.replace("_", "-")


def probes(target: Target) -> list[tuple[str, str, dict[str, str], str]]:
    """(api, url, headers, flag) of one read per credential given (key A always)."""
    found = []
    if "freefin" in target.apis:
        url = f"{target.target_url}/api/v1/public/banks/sbp"
        for field in FREEFIN_KEYS:
            key = getattr(target, field)
            if key or field == "freefin_key":
                found.append(("freefin", url, {"Authorization": f"Bearer {key}"}, _flag(field)))
    if "kaspi" in target.apis:
        url = f"{target.kaspi_url}/v1/me"
        for field in KASPI_KEYS:
            key = getattr(target, field)
            if key or field == "kaspi_key":
                found.append(("kaspi", url, {"X-API-Key": key}, _flag(field)))
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
