"""The lifecycle tables of both APIs: allowed moves in one place, and the events of a move."""

from __future__ import annotations

import pytest

from simulator.core.errors import Conflict
from simulator.core.lifecycle import Lifecycle
from simulator.freefin.payments import LIFECYCLE as PAYMENT
from simulator.freefin.payouts import LIFECYCLE as PAYOUT
from simulator.kaspi.invoices import LIFECYCLE as INVOICE


@pytest.mark.parametrize(
    ("lifecycle", "current", "status", "allowed"),
    [
        (PAYMENT, "pending", "processing", True),
        (PAYMENT, "processing", "succeeded", True),
        (PAYMENT, "succeeded", "refunded", True),
        (PAYMENT, "succeeded", "cancelled", False),  # the seed: cancel from pending only
        (PAYMENT, "refunded", "succeeded", False),
        (PAYOUT, "pending", "failed", True),
        (PAYOUT, "succeeded", "failed", False),
        (INVOICE, "pending", "paid", True),
        (INVOICE, "paid", "canceled", False),
        (INVOICE, "canceled", "paid", False),
    ],
)
def test_moves(lifecycle: Lifecycle, current: str, status: str, allowed: bool) -> None:
    assert lifecycle.allows(current, status) is allowed
    if allowed:
        lifecycle.check(current, status)
    else:
        with pytest.raises(Conflict) as info:
            lifecycle.check(current, status)
        assert info.value.status == 409 and info.value.code == lifecycle.conflict_code
        lifecycle.check(current, status, force=True)  # the control API may force it


def test_events_of_a_move() -> None:
    assert PAYMENT.events("payment", "processing") == ["payment.status_changed"]
    assert PAYMENT.events("payment", "succeeded") == ["payment.status_changed", "payment.succeeded"]
    assert INVOICE.events("qr", "paid") == ["qr.status_changed", "qr.paid"]
    assert INVOICE.events("invoice", "refunded") == ["invoice.status_changed"]
