"""The session's Kaspi webhook endpoint, created once through the API and shared by scenarios."""

from __future__ import annotations

from typing import Any

import requests

from harness import leftovers
from harness.scenarios import endpoint_store, http, paths
from harness.scenarios.receiver import WebhookReceiver
from harness.scenarios.state import ScenarioSkip
from harness.target import Target

_FIXED_ADDRESS = (
    "give the receiver a fixed address (--webhook-listen HOST:PORT, and --webhook-public-url "
    "when the target reaches it elsewhere) and the endpoint made then is used again in every "
    "later run"
)


def kaspi_endpoint(
    target: Target, receiver: WebhookReceiver, session: requests.Session
) -> dict[str, Any]:
    """The session's Kaspi webhook endpoint (all events) pointing at the receiver.

    One per session and merchant: the API has no way to delete an endpoint and caps them at 20,
    so scenarios share it and tell their events apart by ``where``. With a receiver at the same
    address every run, the endpoint an earlier run made is used again (``endpoint_store``).
    """
    key = f"kaspi:{target.kaspi_url}:{target.kaspi_key}"
    if key in receiver.shared and receiver.shared[key]["id"] not in _listed(target, session):
        del receiver.shared[key]  # a reset of the simulator by another suite removed it
    if key not in receiver.shared and receiver.stable:
        kept = endpoint_store.recall(target.kaspi_url, target.kaspi_key)
        if (
            kept
            and kept.get("url") == receiver.url_for(str(kept.get("token")))
            and kept.get("id") in _listed(target, session)
        ):
            receiver.set_secret(str(kept["token"]), str(kept["secret"]))
            receiver.shared[key] = dict(kept)
    if key not in receiver.shared:
        _room_for_one(target, receiver)
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
        secret = endpoint_secret(body, target.profile("kaspi").webhooks.get("secret_field"))
        if ex.status != 201 or not isinstance(body, dict) or not body.get("id") or not secret:
            full = (
                "; the target may have as many endpoints as it allows, and none can be "
                "deleted: " + _FIXED_ADDRESS
                if ex.status == 409 and not receiver.stable
                else ""
            )
            raise ScenarioSkip(
                "cannot create a Kaspi webhook endpoint (expected 201 with an id and its "
                f"signing secret; the target profile's webhooks.secret_field says where): "
                f"{ex.received()}{full}"
            )
        receiver.set_secret(token, secret)
        receiver.shared[key] = {
            "token": token,
            "id": body["id"],
            "secret": secret,
            "url": receiver.url_for(token),
        }
        if receiver.stable:
            endpoint_store.keep(target.kaspi_url, target.kaspi_key, receiver.shared[key])
    return receiver.shared[key]


def _room_for_one(target: Target, receiver: WebhookReceiver) -> None:
    """A skip, when the merchant already has as many endpoints as the supplement allows: one
    more could never be deleted (a target that does not refuse it would keep every one)."""
    kind = leftovers.undeletable("kaspi", "POST", "/v1/webhooks")
    assert kind is not None
    have = leftovers.count(target.kaspi_url, kind.list_path, {"X-API-Key": target.kaspi_key})
    if have is not None and have >= kind.cap:
        stable = "" if receiver.stable else "; " + _FIXED_ADDRESS
        raise ScenarioSkip(
            f"the merchant has {have} Kaspi webhook endpoints, at most {kind.cap} "
            f"({kind.source}), and none can be deleted: no new one is made{stable}"
        )


def _listed(target: Target, session: requests.Session) -> list[Any]:
    """The ids of the merchant's endpoints, as the target lists them."""
    ex = http.send(session, http.build(target, "kaspi", {"method": "GET", "path": "/v1/webhooks"}))
    items = paths.get(ex.json, "@items")
    return [e.get("id") for e in items or [] if isinstance(e, dict)]


def endpoint_secret(body: Any, field: str | None) -> str | None:
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
