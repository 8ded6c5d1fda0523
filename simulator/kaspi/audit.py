"""Audit log: every payment action (create, cancel, refund, simulate, webhook change), paged."""

from __future__ import annotations

import uuid
from typing import Any

from simulator.core.clock import iso
from simulator.core.runtime import Runtime
from simulator.core.store import Tx
from simulator.kaspi import paging, rules
from simulator.kaspi.models import Actor, AuditEntry

KIND = "kp_audit"
SYSTEM: Actor = {"type": "system", "id": "scheduler"}
CONTROL: Actor = {"type": "system", "id": "control_api"}


def record(
    rt: Runtime,
    tx: Tx,
    merchant_id: str,
    actor: Actor,
    action: str,
    object_type: str,
    object_id: str,
    details: dict[str, Any] | None = None,
) -> None:
    if not rules.of(rt).audits():
        return
    entry_id = "aud_" + uuid.uuid4().hex[:16]
    entry: AuditEntry = {
        "id": entry_id,
        "action": action,
        "actor": actor,
        "object_type": object_type,
        "object_id": object_id,
        "details": details or {},
        "created_at": iso(rt.clock.now()),
    }
    tx.insert(KIND, entry_id, merchant_id, entry)


def page(rt: Runtime, merchant_id: str, args: dict[str, str]) -> dict[str, Any]:
    """Entries newest first, filtered by ``action``, ``object_type`` and ``object_id``."""
    where, params = paging.equal_filters(rt.store, args, ("action", "object_type", "object_id"))
    return paging.page(rt, KIND, merchant_id, args, where, params)
