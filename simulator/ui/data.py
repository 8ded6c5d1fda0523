"""What the dashboard shows, read from the store: no write happens here (every change the
dashboard makes is a call of the control API, from the page)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simulator.control.registry import Controllable
from simulator.core import events, objects, webhooks
from simulator.core.clock import iso
from simulator.core.store import Store
from simulator.grading import client_log


@dataclass(frozen=True)
class Kind:
    """A kind of object the dashboard lists: its API, its name, its store kind, and, when the
    control API can drive it, what it may be moved to."""

    api: str
    name: str
    store_kind: str
    control: Controllable | None = None

    @property
    def singular(self) -> str:
        """In words: ``audit-entry`` -> ``audit entry``."""
        return self.name.replace("-", " ")

    @property
    def plural(self) -> str:
        """In words: ``audit-entry`` -> ``audit entries``, ``payment`` -> ``payments``."""
        words = self.singular
        if words.endswith("s"):
            return words
        if words.endswith("y") and words[-2:-1] not in "aeiou":
            return words[:-1] + "ies"
        return words + "s"


def merchant_names(seed: Mapping[str, Any]) -> dict[tuple[str, str], str]:
    """(API, merchant id) -> the merchant's name in the seed."""
    return {
        (api, str(m["id"])): str(m.get("name") or m["id"])
        for api in ("freefin", "kaspi")
        for m in seed.get(api, {}).get("merchants", [])
    }


def merchant_clients(seed: Mapping[str, Any], api: str, merchant: str) -> list[str] | None:
    """The clients (credentials as the client log names them) of one merchant of the seed:
    freefin's terminals' keys, Kaspi's API key; None for a merchant the seed does not have."""
    for m in seed.get(api, {}).get("merchants", []):
        if str(m["id"]) == merchant:
            terminals = m.get("terminals", [])
            keys = [t["key"] for t in terminals] if api == "freefin" else [m["api_key"]]
            return [client_log.masked(str(key)) for key in keys]
    return None


def money(api: str, doc: Mapping[str, Any]) -> str:
    """An object's amount and currency as its API's seed defines the amount: freefin's an
    integer of minor units (10000 is 100.00 RUB), Kaspi's a decimal string of tenge."""
    amount = doc.get("amount")
    if amount is None or isinstance(amount, bool):
        return ""
    text = str(amount)
    if api == "freefin" and isinstance(amount, int):
        whole, minor = divmod(abs(amount), 100)
        text = f"{'-' if amount < 0 else ''}{whole}.{minor:02d}"
    return f"{text} {doc.get('currency') or ''}".strip()


def counts(store: Store) -> dict[tuple[str, str, str], int]:
    """(store kind, merchant, status) -> how many objects."""
    return {(k, o, status or "-"): n for (k, o, status), n in objects.census(store).items()}


def newest(
    store: Store, kind: str, merchant: str | None, status: str | None, limit: int = 200
) -> list[dict[str, Any]]:
    """The newest objects of a kind, of one merchant and status when given."""
    return [
        {**doc, "_owner": owner}
        for doc, owner in objects.newest(store, kind, merchant, status, limit)
    ]


def one(store: Store, kind: str, obj_id: str) -> tuple[dict[str, Any], str] | None:
    return objects.one(store, kind, obj_id)


def history(store: Store, api: str, owner: str, obj_id: str) -> list[dict[str, Any]]:
    """The object's events, oldest first, each with the deliveries of its webhook."""
    found = [
        {**{k: v for k, v in e.items() if k != "created_at"}, "at": iso(e["created_at"])}
        for e in events.about(store, api, owner, obj_id)
    ]
    ids = {event["id"] for event in found}
    sent = [d for d in webhooks.list_deliveries(store, api=api, limit=500) if d["event_id"] in ids]
    for event in found:
        event["deliveries"] = [d for d in sent if d["event_id"] == event["id"]]
    return found


def deliveries(
    store: Store, api: str | None, status: str | None, limit: int = 200
) -> list[webhooks.DeliveryRow]:
    return webhooks.list_deliveries(store, api=api or None, status=status or None, limit=limit)
