"""freefin's objects as the API returns them (the seed's Payment, Refund and Payout), and as they
are stored: the same JSON body plus private ``_``-prefixed fields that rendering strips.

TypedDicts, not classes: a stored object is the body the API answers, read and written as it
is, so naming its fields costs nothing on the way through. ``tests/test_models.py`` checks each
one against the seed's schema of that object.
"""

# No `from __future__ import annotations`: on Python 3.11 it hides NotRequired from a
# TypedDict's __optional_keys__, which the schema test reads.
from typing import NotRequired, TypedDict


class Refund(TypedDict):
    """A refund of a payment (kept inside the payment's ``refunds``)."""

    id: str
    payment_id: str
    merchant_id: str
    amount: int  # kopecks
    status: str
    created_at: str
    completed_at: str
    reason: NotRequired[str]


class Customer(TypedDict, total=False):
    """Who paid: a payment's customer fields, from processing on (by card, or by SBP)."""

    customer_card_brand: str
    customer_card_mask: str
    customer_card_holder: str
    customer_phone_mask: str
    customer_payer_bank: str


class Payment(Customer):
    """A payment; the fields a move adds are there from that move on."""

    id: str
    merchant_id: str
    terminal_id: str
    terminal_name: str
    amount: int  # kopecks
    amount_refunded: int
    amount_usdt: float
    currency: str
    method: str
    status: str
    created_at: str
    expires_at: str
    metadata: dict[str, str]
    refunds: list[Refund]
    order_id: NotRequired[str]
    customer_id: NotRequired[str]
    return_url: NotRequired[str]
    description: NotRequired[str]
    processing_until: NotRequired[str]  # from processing
    captured_at: NotRequired[str]  # from succeeded
    rrn: NotRequired[str]
    bank_name: NotRequired[str]
    failure_code: NotRequired[str]  # from failed
    finalized_at: NotRequired[str]  # from any final status


class PaymentPlan(TypedDict):
    """What a payment was planned to do when it was made."""

    outcome: str
    reason: str | None
    delay_ms: int


class StoredPayment(Payment):
    """A payment as stored: its plan and where its webhooks go, beside the body."""

    _plan: PaymentPlan
    _webhook_url: str | None


class Recipient(TypedDict, total=False):
    """A payout's recipient, as the create request named it."""

    phone: str
    bank_id: str
    full_name: str


class Payout(TypedDict):
    """An SBP payout."""

    id: str
    merchant_id: str
    terminal_id: str
    amount: int  # kopecks
    currency: str
    method: str
    status: str
    recipient: Recipient
    created_at: str
    completed_at: NotRequired[str]  # from its one move
    fail_reason: NotRequired[str]


class PayoutPlan(TypedDict):
    """What a payout was planned to do."""

    outcome: str
    reason: str | None


class StoredPayout(Payout):
    """A payout as stored: its plan beside the body."""

    _plan: PayoutPlan
