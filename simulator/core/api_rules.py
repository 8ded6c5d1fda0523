"""The rules both payment APIs share (HTTP's own, idempotency, ownership, refunds, events) and
the defects that break them, declared once here and named per API.

Each API's rules class extends ``ApiRules`` with its own; its ``defects.py`` calls
``declare_shared_defects`` with its descriptions (the names carry the API's:
freefin.isolation_broken, kaspi.isolation_broken) and adds the defects only it has. A shared
defect is a plain subclass of ``ApiRules`` below, overriding the one rule it breaks.
"""

from __future__ import annotations

from collections.abc import Mapping

from simulator.core.defects import Rules


class ApiRules(Rules):
    api = ""  # "freefin" or "kaspi": the prefix of its idempotency scopes and defect names
    read_endpoint = ""  # the read the read defects show on (auth_ignored lets it in unsigned)

    # HTTP
    def credential_required(self, method: str, endpoint: str | None) -> bool:
        """Every operation of both APIs declares a security requirement."""
        return True

    def retry_after(self, wait: int) -> dict[str, str]:
        """A 429 says how long to wait (RFC 6585 section 4)."""
        return {"Retry-After": str(wait)}

    def allow_of_405(self, allow: str) -> str | None:
        """A 405 lists the path's methods in Allow (RFC 9110 section 15.5.6)."""
        return allow

    def allow_of_options(self, allow: str) -> str:
        """OPTIONS lists the methods the path has (RFC 9110 section 9.3.7)."""
        return allow

    def read_status(self) -> int:
        """A read of an object answers 200, a status its operation declares."""
        return 200

    def read_content_type(self) -> str:
        """Every answer is application/json."""
        return "application/json"

    # idempotency
    def idempotency_scope(self, owner: str, operation: str) -> str:
        """Keys are scoped per owner (a terminal, a merchant) and operation."""
        return f"{self.api}:{owner}:{operation}"

    def replays(self) -> bool:
        """A repeated Idempotency-Key answers the first result instead of creating again."""
        return True

    def refusal_spends_key(self) -> bool:
        """A refused (4xx) request leaves its Idempotency-Key unspent."""
        return False

    # objects
    def visible(self, owner: str, merchant: str) -> bool:
        """A merchant sees its own objects only."""
        return owner == merchant

    def readable(self, created: float, now: float) -> bool:
        """A created object is readable at once."""
        return True

    def cancelable(self, status: str) -> bool:
        raise NotImplementedError

    def refundable(self, status: str) -> bool:
        raise NotImplementedError

    def within_remainder(self, amount: int, remainder: int) -> bool:
        """Refunds never exceed what was paid."""
        return amount <= remainder

    # events
    def event_kinds(self, kinds: list[str]) -> list[str]:
        """A change's events, in the order they happened."""
        return kinds

    def event_id(self, fresh: str, first: str | None) -> str:
        """Every event has an id of its own."""
        return fresh

    def webhook_secret(self, secret: str) -> str | None:
        """Webhooks are signed with the receiver's secret."""
        return secret


# The shared defects. Each is the override of one rule, written once; each API declares it on
# its rules under its own name and words (``declare_shared_defects``). ``super()`` is whatever
# stands behind the defect in the rules in force: the clean rule, or another defect's change.


class AuthIgnored(ApiRules):
    def credential_required(self, method: str, endpoint: str | None) -> bool:
        return not (method == "GET" and endpoint == self.read_endpoint)


class NoRetryAfter(ApiRules):
    def retry_after(self, wait: int) -> dict[str, str]:
        return {}


class MethodNot405(ApiRules):
    def allow_of_405(self, allow: str) -> str | None:
        return None


class AllowHeaderWrong(ApiRules):
    def allow_of_options(self, allow: str) -> str:
        return super().allow_of_options(allow) + ", DELETE"


class UndocumentedStatus(ApiRules):
    def read_status(self) -> int:
        return 203


class ContentTypeWrong(ApiRules):
    def read_content_type(self) -> str:
        return "text/html; charset=utf-8"


class IdempotencyDuplicate(ApiRules):
    def replays(self) -> bool:
        return False


class IdempotencyGlobalScope(ApiRules):
    def idempotency_scope(self, owner: str, operation: str) -> str:
        return f"{self.api}:*:{operation}"


class IdempotencyStoresErrors(ApiRules):
    def refusal_spends_key(self) -> bool:
        return True


class IsolationBroken(ApiRules):
    def visible(self, owner: str, merchant: str) -> bool:
        return True


class ResourceUnavailable(ApiRules):
    def readable(self, created: float, now: float) -> bool:
        return now >= created + 1


class CancelAnyStatus(ApiRules):
    def cancelable(self, status: str) -> bool:
        return True


class RefundAnyStatus(ApiRules):
    def refundable(self, status: str) -> bool:
        return True


class RefundOverRemainder(ApiRules):
    def within_remainder(self, amount: int, remainder: int) -> bool:
        return True


class EventsOutOfOrder(ApiRules):
    def event_kinds(self, kinds: list[str]) -> list[str]:
        return list(reversed(super().event_kinds(kinds)))


class EventIdReused(ApiRules):
    def event_id(self, fresh: str, first: str | None) -> str:
        return first or fresh


class WebhookUnsigned(ApiRules):
    def webhook_secret(self, secret: str) -> str | None:
        return None


class WebhookBadSignature(ApiRules):
    def webhook_secret(self, secret: str) -> str | None:
        signing = super().webhook_secret(secret)
        return None if signing is None else signing + "-wrong"


SHARED_DEFECTS: dict[str, type[ApiRules]] = {
    "auth_ignored": AuthIgnored,
    "no_retry_after": NoRetryAfter,
    "method_not_405": MethodNot405,
    "allow_header_wrong": AllowHeaderWrong,
    "undocumented_status": UndocumentedStatus,
    "content_type_wrong": ContentTypeWrong,
    "idempotency_duplicate": IdempotencyDuplicate,
    "idempotency_global_scope": IdempotencyGlobalScope,
    "idempotency_stores_errors": IdempotencyStoresErrors,
    "isolation_broken": IsolationBroken,
    "resource_unavailable": ResourceUnavailable,
    "cancel_any_status": CancelAnyStatus,
    "refund_any_status": RefundAnyStatus,
    "refund_over_remainder": RefundOverRemainder,
    "events_out_of_order": EventsOutOfOrder,
    "event_id_reused": EventIdReused,
    "webhook_unsigned": WebhookUnsigned,
    "webhook_bad_signature": WebhookBadSignature,
}


def declare_shared_defects(
    base: type[ApiRules], descriptions: Mapping[str, str]
) -> list[type[ApiRules]]:
    """Declare on ``base`` the shared defects named in ``descriptions``, each a class that puts
    the shared override in front of ``base``'s rules. Keep the classes returned: a class is
    found through its base only while something holds it."""
    unknown = set(descriptions) - set(SHARED_DEFECTS)
    if unknown:
        raise KeyError(f"no shared defect {', '.join(sorted(unknown))}")
    return [
        type(
            SHARED_DEFECTS[name].__name__,
            (SHARED_DEFECTS[name], base),
            {"__module__": base.__module__},
            defect=f"{base.api}.{name}",
            description=description,
        )
        for name, description in descriptions.items()
    ]
