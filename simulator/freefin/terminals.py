"""Merchants and terminals from the seed, and authentication by bearer key."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from simulator.core.errors import Forbidden, Unauthorized
from simulator.core.outcomes import Plan, from_mapping
from simulator.core.signing import same_secret

KEY_RE = re.compile(r"^sk_(test|live)_[A-Za-z0-9]{6}_\S+$")
PAYMENT_OUTCOMES = ("succeeded", "failed", "expired", "pending", "processing")


@dataclass(frozen=True)
class Terminal:
    id: str
    name: str
    merchant_id: str
    key: str
    signing_secret: str
    require_signature: bool
    webhook_url: str | None
    default_plan: Plan


class Terminals:
    def __init__(self, seed: dict[str, Any]) -> None:
        self.by_key_prefix: dict[str, Terminal] = {}
        self.by_id: dict[str, Terminal] = {}
        self.rate_limits: dict[str, dict[str, float]] = {}
        for merchant in seed["merchants"]:
            self.rate_limits[merchant["id"]] = merchant["rate_limit"]
            for t in merchant["terminals"]:
                term = Terminal(
                    id=t["id"],
                    name=t["name"],
                    merchant_id=merchant["id"],
                    key=t["key"],
                    signing_secret=t["signing_secret"],
                    require_signature=bool(t.get("require_signature", False)),
                    webhook_url=t.get("webhook_url"),
                    default_plan=from_mapping(
                        t.get("default_outcome", {"outcome": "succeeded"}), PAYMENT_OUTCOMES
                    ),
                )
                self.by_id[term.id] = term
                self.by_key_prefix[self._prefix(term.key)] = term

    @staticmethod
    def _prefix(key: str) -> str:
        return key[:14]  # "sk_test_" + the 6-character terminal handle

    def authenticate(self, header: str | None) -> Terminal:
        """The terminal of an ``Authorization: Bearer`` header, or 401 / 403."""
        if not header:
            raise Unauthorized("Authorization: Bearer <key> is required", code="unauthorized")
        scheme, _, key = header.partition(" ")
        key = key.strip()
        if scheme.lower() != "bearer" or not KEY_RE.fullmatch(key):
            raise Unauthorized("malformed API key", code="invalid_api_key")
        if key.startswith("sk_live_"):
            raise Forbidden("live keys are not enabled on this server", code="live_not_enabled")
        term = self.by_key_prefix.get(self._prefix(key))
        if term is None or not same_secret(term.key, key):
            raise Unauthorized("unknown API key", code="invalid_api_key")
        return term
