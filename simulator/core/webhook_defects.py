"""The webhook delivery defects: each breaks one rule of ``webhooks.DeliveryRules``."""

from __future__ import annotations

from simulator.core.defects import Defects
from simulator.core.webhooks import DeliveryRules


class NoRetry(
    DeliveryRules,
    defect="webhooks.no_retry",
    description="a failed webhook delivery is never retried",
):
    def retries(self) -> bool:
        return False


class NoDeadLetter(
    DeliveryRules,
    defect="webhooks.no_dead_letter",
    description="a failing delivery is retried forever instead of dead-lettered",
):
    def dead_letters(self) -> bool:
        return False


class EarlyRetry(
    DeliveryRules,
    defect="webhooks.early_retry",
    description="failed deliveries are retried after half the documented wait "
    "(2.5 s, 15 s, 60 s, ...)",
):
    def retry_wait(self, wait: float) -> float:
        return super().retry_wait(wait) / 2


class DuplicateDelivery(
    DeliveryRules,
    defect="webhooks.duplicate_delivery",
    description="a delivery answered 2xx is sent once more, at once",
):
    def delivers_once(self) -> bool:
        return False


class RetryRequestIgnored(
    DeliveryRules,
    defect="webhooks.retry_request_ignored",
    description="a retry asked for through the API is answered but never attempted",
):
    def retries_on_request(self) -> bool:
        return False


def register(defects: Defects) -> None:
    defects.register(DeliveryRules)
