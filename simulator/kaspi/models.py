"""Kaspi's objects as the API returns them (the seed's Invoice, and the supplement's Qr, Refund,
CatalogItem, Subscription, WebhookEndpoint and Delivery), and as they are stored: the same JSON
body plus private ``_``-prefixed fields (tiyn amounts, the owner, the plan) that rendering
strips. Money is a string of tenge (``"100.00"``) in a body, an integer of tiyn in a private
field.

TypedDicts, not classes: a stored object is the body the API answers, read and written as it
is, so naming its fields costs nothing on the way through. ``tests/test_models.py`` checks each
one against its schema.
"""

# No `from __future__ import annotations`: on Python 3.11 it hides NotRequired from a
# TypedDict's __optional_keys__, which the schema test reads.
from typing import Any, TypedDict


class Payable(TypedDict):
    """What an invoice and a QR share: one life, pending -> processing -> paid -> refunded."""

    id: str
    external_order_id: str | None
    amount: str
    currency: str
    status: str
    is_sandbox: bool
    refunded_amount: str
    failure_reason: str | None  # why a failed payment failed (it shows canceled)
    paid_at: str | None
    canceled_at: str | None
    created_at: str
    updated_at: str


class Invoice(Payable):
    """An invoice sent to a phone number."""

    description: str
    phone_number: str
    kaspi_invoice_id: str | None
    payment_url: str | None
    subscription_id: str | None  # set on invoices a subscription issued


class Qr(Payable):
    """A QR code a customer scans."""

    comment: str
    latitude: float | None
    longitude: float | None
    kaspi_qr_id: str
    qr_payload: str


class PayablePlan(TypedDict):
    """What an invoice or QR was planned to do when it was made."""

    outcome: str
    reason: str | None
    delay_ms: int


class PayablePrivate(TypedDict):
    """The private fields stored beside an invoice's or QR's body."""

    _merchant: str
    _amount: int  # tiyn
    _refunded: int  # tiyn
    _plan: PayablePlan


class StoredPayable(Payable, PayablePrivate):
    """An invoice or QR as stored, where only their common fields are used."""


class StoredInvoice(Invoice, PayablePrivate):
    """An invoice as stored."""


class StoredQr(Qr, PayablePrivate):
    """A QR as stored."""


class Refund(TypedDict):
    """A refund of an invoice or a QR (exactly one of the two ids is set)."""

    id: str
    invoice_id: str | None
    qr_id: str | None
    amount: str
    currency: str
    status: str
    reason: str | None
    kaspi_refund_id: str
    created_at: str


class StoredRefund(Refund):
    """A refund as stored: its amount in tiyn beside the body."""

    _amount: int


class CatalogItem(TypedDict):
    """An item of the merchant's catalog."""

    id: str
    name: str
    sku: str | None
    price: str
    currency: str
    unit_id: str
    unit_name: str
    vat_rate: int
    is_active: bool
    created_at: str


class Subscription(TypedDict):
    """A recurring bill: an invoice each period."""

    id: str
    phone_number: str
    amount: str
    currency: str
    billing_period: str
    description: str
    is_sandbox: bool
    status: str
    periods_billed: int
    last_invoice_id: str | None
    last_payment_status: str | None
    next_billing_at: str
    created_at: str
    updated_at: str


class StoredSubscription(Subscription):
    """A subscription as stored: its owner and amount in tiyn beside the body."""

    _merchant: str
    _amount: int


class WebhookEndpoint(TypedDict):
    """Where the merchant's events are sent."""

    id: str
    url: str
    events: list[str]
    is_active: bool
    secret_hint: str
    created_at: str


class StoredWebhookEndpoint(WebhookEndpoint):
    """An endpoint as stored: its signing secret and owner beside the body."""

    _secret: str
    _merchant: str


class Attempt(TypedDict):
    """One attempt of a delivery."""

    attempt: int
    at: str
    response_code: int | None
    error: str | None
    latency_ms: float


class Delivery(TypedDict):
    """A webhook delivery: one event to one endpoint, and its attempts."""

    id: str
    webhook_id: str | None
    event_id: str
    event: str
    url: str
    status: str
    attempts: int
    response_code: int | None
    latency_ms: float | None
    last_error: str | None
    next_retry_at: str | None
    created_at: str
    history: list[Attempt]


class Actor(TypedDict):
    """Who did an audited action: an API key (its first characters) or a part of the system."""

    type: str
    id: str


class AuditEntry(TypedDict):
    """One entry of the audit log."""

    id: str
    action: str
    actor: Actor
    object_type: str
    object_id: str
    details: dict[str, Any]
    created_at: str


class WebhookEvent(TypedDict):
    """The body of every webhook delivery."""

    id: str
    event: str
    created_at: str
    data: dict[str, Any]
