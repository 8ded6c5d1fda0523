"""Check once, before any suite runs, that the target answers and accepts the credentials."""

from __future__ import annotations

import requests

from harness.target import Target


class PreflightError(Exception):
    """The target cannot be tested: unreachable, or the credentials are rejected."""


def preflight(target: Target, timeout: float = 5.0) -> None:
    """Raise PreflightError with one clear message when the target cannot be tested."""
    probes = []
    if "freefin" in target.apis:
        probes.append((
            "freefin", f"{target.target_url}/api/v1/public/banks/sbp",
            {"Authorization": f"Bearer {target.freefin_key}"}, "--freefin-key",
        ))
    if "kaspi" in target.apis:
        probes.append((
            "kaspi", f"{target.kaspi_url}/v1/me", {"X-API-Key": target.kaspi_key}, "--kaspi-key",
        ))
    for api, url, headers, flag in probes:
        try:
            resp = requests.get(url, headers=headers, timeout=timeout)
        except requests.RequestException as exc:
            raise PreflightError(f"{api} target unreachable at {url}: {exc}") from exc
        if resp.status_code in (401, 403):
            raise PreflightError(
                f"{api} target at {url} rejected the credentials ({resp.status_code}): "
                f"check {flag}"
            )
        if resp.status_code >= 500:
            raise PreflightError(f"{api} target at {url} answered {resp.status_code}")
