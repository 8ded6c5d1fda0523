"""What a scenario needs from a target, and the reason to skip it when the target lacks it.

Needs come from ``requires:`` and from the steps themselves (a ``clock`` step needs the control
API, an ``auth: key_b`` step needs merchant B's key, an ``outcome`` step needs a driver).
"""

from __future__ import annotations

import ipaddress
import urllib.parse
from collections.abc import Iterator
from typing import Any

from harness.apis import FACTS
from harness.outcomes import drivers_for, pick
from harness.promises import Why
from harness.scenarios import http
from harness.scenarios.loader import Scenario
from harness.target import Target

_CREDENTIAL_NEEDS = {
    "signed_terminal": "signed",
    "key_2": "key_2",
    "key_b": "key_b",
    "limited_key": "limited",
    "unconnected_key": "unconnected",
}


def _loopback(url: str) -> bool:
    host = urllib.parse.urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _auths(steps: list[dict[str, Any]]) -> Iterator[str]:
    for step in steps:
        for block in (step.get("request"), step.get("sse")):
            if isinstance(block, dict) and isinstance(block.get("auth"), str):
                yield block["auth"]


def uses_webhooks(scenario: Scenario) -> bool:
    """Whether the scenario receives webhooks (or names the session's Kaspi endpoint)."""
    kinds = {k for step in scenario.steps for k in step}
    return bool(kinds & {"receiver", "expect_webhooks"}) or "$kaspi_webhook" in str(scenario.steps)


def no_driver(api: str, spec: dict[str, Any]) -> str:
    """The skip reason when nothing can set up an outcome."""
    what = f"{spec['object']} -> {spec.get('status') or spec.get('outcome')}"
    return (
        f"cannot drive {api} {what} on this target: it needs the simulator's control API "
        "(--control-url) or an outcome hook (--outcome-hook)"
    )


def unmet(scenario: Scenario, target: Target) -> tuple[Why, str] | None:
    """Why the scenario cannot run on ``target`` (its category and the reason), or None."""
    api = scenario.api
    if api not in target.apis:
        return Why.NOT_SELECTED, f"the target is tested for {', '.join(target.apis)} only"
    needs = set(scenario.requires)
    kinds = {k for step in scenario.steps for k in step}
    if kinds & {"clock", "control"}:
        needs.add("control_api")
    if kinds & {"receiver", "expect_webhooks"}:
        needs.add("webhooks")
    if "sse" in kinds:
        needs.add("sse")
    if needs & {"control_api", "clock", "simulator"} and not target.control_url:
        return Why.CONTROL_API, "needs the simulator's control API (--control-url)"
    profile = target.profile(api)
    for feature in ("webhooks", "sse"):
        if feature in needs and not profile.has(feature):
            return (
                Why.PROFILE,
                f"not applicable: the target profile says the target has no {feature}",
            )
    if "webhook_retries_bounded" in needs and not profile.webhooks.get("gives_up_within_s"):
        return (
            Why.PROFILE,
            "not applicable: the target profile bounds no webhook retries in real time "
            "(webhooks.gives_up_within_s); the simulator's clock proves them instead",
        )
    if "limited_key" in needs and not profile.has("rate_limit"):
        return (
            Why.PROFILE,
            "not applicable: the target profile says no merchant has a low rate limit",
        )
    if "webhooks" in needs and not target.webhook_public_url and not _loopback(target.target_url):
        return (
            Why.RECEIVER,
            "the target cannot reach the webhook receiver on loopback: set --webhook-listen "
            "and --webhook-public-url",
        )
    if "sse" in needs and FACTS[api].event_stream is None:
        return Why.NOT_SELECTED, "SSE is a freefin feature"
    if "kaspi_sandbox" in needs and api != "kaspi":
        return Why.NOT_SELECTED, "the sandbox is a Kaspi feature"
    for need, name in _CREDENTIAL_NEEDS.items():
        if need in needs:
            needed = name
            try:
                http.credential(target, api, needed)
            except (http.CredentialMissing, ValueError) as exc:
                return Why.CREDENTIAL, f"needs credential {needed}: {exc}"
    for name in _auths(scenario.steps):
        if name == "none":
            continue
        try:
            http.credential(target, api, name)
        except http.CredentialMissing as exc:
            return Why.CREDENTIAL, f"needs credential {name}: {exc}"
    drivers = drivers_for(target)
    for step in scenario.steps:
        spec = step.get("outcome")
        if (
            spec
            and pick(drivers, api, spec["object"], now="id" in spec, status=spec.get("status"))
            is None
        ):
            return Why.OUTCOME_HOOK, no_driver(api, spec)
    if "outcomes" in needs and not drivers:
        return Why.OUTCOME_HOOK, "needs an outcome driver (--control-url or --outcome-hook)"
    return None
