"""What a new invoice or QR will do: a queued outcome, a magic value, or the merchant's default.

Magic values (documented in the supplement): the amount alone, like a test card, or a marker in
the description (invoice, subscription) or comment (QR): ``[sim:<outcome>]`` and
``[sim_delay_ms:<ms>]``.
"""

from __future__ import annotations

import re

from simulator.core.errors import ApiError
from simulator.core.outcomes import Plan, parse
from simulator.core.runtime import Runtime
from simulator.kaspi.merchants import OUTCOMES, Merchant

MAGIC_AMOUNTS = {  # tiyn -> outcome
    1313: "refused",
    1414: "failed:insufficient_funds",
    1515: "canceled",
    1616: "pending",
    1717: "processing",
}
OUTCOME_MARKER = re.compile(r"\[sim:([a-z_]+(?::[a-z0-9_]+)?)\]")
DELAY_MARKER = re.compile(r"\[sim_delay_ms:(\d{1,8})\]")


def plan_for(rt: Runtime, merchant: Merchant, obj: str, tiyn: int, text: str | None) -> Plan:
    """The plan of a new ``obj`` ("invoice" or "qr"); 400 for a marker naming no outcome."""
    queued = rt.control.pop_outcome("kaspi", obj, merchant.id)
    if queued:
        return queued
    default = merchant.default_plan
    text = text or ""
    delay = default.delay_ms
    if found := DELAY_MARKER.search(text):
        delay = int(found.group(1))
    spec = default.outcome + (f":{default.reason}" if default.reason else "")
    if found := OUTCOME_MARKER.search(text):
        spec = found.group(1)
    elif tiyn in MAGIC_AMOUNTS:
        spec = MAGIC_AMOUNTS[tiyn]
    try:
        return parse(spec, OUTCOMES, delay)
    except ValueError as exc:
        raise ApiError(
            f"simulator marker: {exc}",
            code="validation_error",
            status=400,
            details={"fields": {"description": str(exc)}},
        ) from exc
