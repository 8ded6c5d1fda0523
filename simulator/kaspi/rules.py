"""Kaspi's rules, one method each, as the seed states them.

The domain modules ask ``of(rt)`` for the rules in force and call one method per rule; the
defects that break a rule are the subclasses in ``defects.py``.
"""

from __future__ import annotations

from typing import Any

from simulator.core.api_rules import ApiRules
from simulator.core.errors import ApiError
from simulator.core.runtime import Runtime

CANCELABLE = ("pending", "processing")


class KaspiRules(ApiRules):
    api = "kaspi"
    read_endpoint = "kaspi.get_invoice"

    # requests and answers
    def error_body(self, error: ApiError, timestamp: str) -> dict[str, Any]:
        """The seed's envelope: ``{"error": code, "message", "details", "timestamp"}``."""
        return {
            "error": error.code,
            "message": error.message,
            "details": error.details,
            "timestamp": timestamp,
        }

    def request_body(self, body: Any) -> Any:
        """A body is read as sent: an amount is a decimal string, never coerced."""
        return body

    def checks_invoice_phone(self) -> bool:
        """An invoice's phone_number is 7 followed by 10 digits."""
        return True

    def check_invoice_body(self, body: dict[str, Any]) -> None:
        """A valid invoice body is accepted as it is (external_order_id is optional)."""

    def created_invoice(self, invoice: dict[str, Any]) -> dict[str, Any]:
        """The created invoice is answered whole (payment_url included)."""
        return invoice

    def rendered(self, body: Any) -> Any:
        """Amounts are decimal strings with two places; refunded_amount is never negative."""
        return body

    # objects
    def pages(self) -> bool:
        """GET /v1/invoices honours page and status."""
        return True

    def requires_connection(self) -> bool:
        """Every call that goes through Kaspi needs the merchant's Kaspi connection."""
        return True

    def cancelable(self, status: str) -> bool:
        """Only a pending or processing invoice can be canceled."""
        return status in CANCELABLE

    def refundable(self, status: str) -> bool:
        """Only a paid invoice or QR can be refunded."""
        return status == "paid"

    def found_unknown(self) -> bool:
        """The status check reports an unknown id as not found."""
        return False

    def simulates(self, is_sandbox: bool) -> bool:
        """Only a sandbox invoice can be simulated."""
        return is_sandbox

    def simulated_pending_holds(self) -> bool:
        """Simulating pending keeps the invoice pending."""
        return True

    def bills(self) -> bool:
        """An active subscription is billed every period."""
        return True

    def honours_refusal(self) -> bool:
        """A create Kaspi refuses is answered 502 and makes nothing."""
        return True

    def audits(self) -> bool:
        """Every payment action is written to the audit log."""
        return True


def of(rt: Runtime) -> KaspiRules:
    """The Kaspi rules in force: the clean ones, with any defect switched on in front."""
    return rt.defects.rules(KaspiRules)
