"""Kaspi merchants from the seed, authentication by ``X-API-Key``, and their Kaspi session."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from simulator.core.errors import Conflict, Unauthorized
from simulator.core.outcomes import Plan, from_mapping
from simulator.core.signing import same_secret
from simulator.core.store import Tx
from simulator.kaspi.models import Actor
from simulator.kaspi.rules import KaspiRules

# What a created invoice or QR may do: "refused" answers the create itself with 502.
OUTCOMES = ("paid", "canceled", "failed", "pending", "processing", "refused")
SESSION_TTL_S = 7 * 24 * 3600


@dataclass(frozen=True)
class Merchant:
    id: str
    name: str
    api_key: str
    organization: dict[str, Any]
    kaspi_connected: bool
    default_plan: Plan

    @property
    def actor(self) -> Actor:
        """Who acts with this key, as the audit log names it (the key itself never shown)."""
        return {"type": "api_key", "id": self.api_key[:14] + "…"}


class Merchants:
    def __init__(self, seed: dict[str, Any]) -> None:
        self.by_id: dict[str, Merchant] = {}
        self.rate_limits: dict[str, dict[str, float]] = {}
        for m in seed["merchants"]:
            self.by_id[m["id"]] = Merchant(
                id=m["id"],
                name=m["name"],
                api_key=m["api_key"],
                organization=dict(m.get("organization") or {}),
                kaspi_connected=bool(m.get("kaspi_connected", True)),
                default_plan=from_mapping(m.get("default_outcome", {"outcome": "paid"}), OUTCOMES),
            )
            self.rate_limits[m["id"]] = m["rate_limit"]

    def authenticate(self, key: str | None) -> Merchant:
        """The merchant of an ``X-API-Key``, or 401; every key is compared in constant time."""
        if not key:
            raise Unauthorized("X-API-Key header is required", code="unauthorized")
        found = None
        for merchant in self.by_id.values():  # no early exit: the time says nothing of the key
            if same_secret(merchant.api_key, key):
                found = merchant
        if found is None:
            raise Unauthorized("invalid API key", code="invalid_api_key")
        return found

    @property
    def first(self) -> Merchant:
        return next(iter(self.by_id.values()))


def _session_key(merchant_id: str) -> str:
    return f"kaspi.session.{merchant_id}"


def session(tx: Tx, merchant: Merchant) -> dict[str, Any]:
    """The merchant's Kaspi session as stored: ``{"connected", "since"}``."""
    default = {"connected": merchant.kaspi_connected, "since": None}
    return dict(tx.get_meta(_session_key(merchant.id), default))


def set_connected(tx: Tx, merchant: Merchant, connected: bool, now: float) -> dict[str, Any]:
    state = {"connected": connected, "since": now if connected else None}
    tx.set_meta(_session_key(merchant.id), state)
    return state


def require_connected(rules: KaspiRules, tx: Tx, merchant: Merchant) -> None:
    """409 when the merchant's Kaspi is not connected (every call that goes through Kaspi)."""
    if rules.requires_connection() and not session(tx, merchant)["connected"]:
        raise Conflict("Kaspi is not connected for this merchant", code="kaspi_not_connected")
