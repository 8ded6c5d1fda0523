"""freefin's rules, one method each, as the seed states them.

The domain modules ask ``of(rt)`` for the rules in force and call one method per rule; the
defects that break a rule are the subclasses in ``defects.py``.
"""

from __future__ import annotations

from typing import Any

from simulator.core.api_rules import ApiRules
from simulator.core.errors import ApiError, BadRequest
from simulator.core.runtime import Runtime
from simulator.freefin.banks import BY_ID
from simulator.freefin.models import Payment

MAX_KEY = 64


class FreefinRules(ApiRules):
    api = "freefin"
    read_endpoint = "freefin.get_payment"

    # requests and answers
    def error_body(self, error: ApiError) -> dict[str, Any]:
        """The seed's Error schema: ``{"error": {"code", "message"}}``."""
        return {"error": {"code": error.code, "message": error.message}}

    def verifies_signature(self) -> bool:
        """A POST's X-Freefin-Signature is checked when present (and required where the
        terminal says so)."""
        return True

    def signed_bytes(self, raw: bytes) -> bytes:
        """The signature is over the raw body, byte for byte."""
        return raw

    def key_acceptable(self, key: str) -> bool:
        """An Idempotency-Key is 1 to 64 characters."""
        return 1 <= len(key) <= MAX_KEY

    def enforces_amount_minimum(self) -> bool:
        """createPayment's amount has a minimum of 1."""
        return True

    def check_payment_body(self, body: dict[str, Any]) -> None:
        """A valid createPayment body is accepted as it is (order_id is optional)."""

    def created_payment(self, payment: dict[str, Any]) -> dict[str, Any]:
        """createPayment answers the whole Payment (payment_url included)."""
        return payment

    def rendered(self, body: Any) -> Any:
        """Amounts are integers of kopecks."""
        return body

    def stream_heartbeat(self, seconds: float) -> float:
        """Seconds between two ': ping' lines of a quiet event stream."""
        return seconds

    def stream_resumes(self) -> bool:
        """The event stream sends ``id:`` lines and resumes after Last-Event-ID."""
        return True

    # objects
    def render_payment(self, payment: Payment) -> Payment:
        """amount_refunded counts the refunds (0 before any)."""
        return payment

    def cancelable(self, status: str) -> bool:
        """Only a pending payment can be cancelled."""
        return status == "pending"

    def expires(self) -> bool:
        """A payment still pending at expires_at expires."""
        return True

    def check_refund_amount(self, amount: int) -> None:
        """A refund's amount is positive; none (or 0) refunds the remainder."""
        if amount < 0:
            raise BadRequest("amount: must not be negative", code="bad_request")

    def refundable(self, status: str) -> bool:
        """Only a succeeded payment can be refunded."""
        return status == "succeeded"

    def payout_bank_accepted(self, bank_id: str) -> bool:
        """A payout goes to a bank of the SBP directory."""
        return bank_id in BY_ID


def of(rt: Runtime) -> FreefinRules:
    """The freefin rules in force: the clean ones, with any defect switched on in front."""
    return rt.defects.rules(FreefinRules)
