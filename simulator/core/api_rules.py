"""The rules both payment APIs share (HTTP's own, idempotency, ownership, refunds, events) and
the defects that break them, declared once here and named per API.

Each API's rules class extends ``ApiRules`` with its own; its ``defects.py`` calls
``declare_shared_defects`` with its descriptions (the names carry the API's:
freefin.isolation_broken, kaspi.isolation_broken) and adds the defects only it has.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from simulator.core.defects import Rules


class ApiRules(Rules):
    api = ""  # "freefin" or "kaspi": the prefix of its idempotency scopes and defect names

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


Change = Callable[..., Any]  # (self, the rule it overrides, *the rule's arguments) -> answer


def _bad_signature(self: ApiRules, inherited: Change, secret: str) -> str | None:
    signing = inherited(secret)
    return None if signing is None else signing + "-wrong"


def _breakages(read: str) -> dict[str, tuple[str, Change]]:
    """Each shared defect: the rule it overrides and how it changes the rule's answer."""
    return {
        "auth_ignored": (
            "credential_required",
            lambda self, inherited, method, endpoint: not (method == "GET" and endpoint == read),
        ),
        "no_retry_after": ("retry_after", lambda self, inherited, wait: {}),
        "method_not_405": ("allow_of_405", lambda self, inherited, allow: None),
        "allow_header_wrong": (
            "allow_of_options",
            lambda self, inherited, allow: inherited(allow) + ", DELETE",
        ),
        "undocumented_status": ("read_status", lambda self, inherited: 203),
        "content_type_wrong": (
            "read_content_type",
            lambda self, inherited: "text/html; charset=utf-8",
        ),
        "idempotency_duplicate": ("replays", lambda self, inherited: False),
        "idempotency_global_scope": (
            "idempotency_scope",
            lambda self, inherited, owner, operation: f"{self.api}:*:{operation}",
        ),
        "idempotency_stores_errors": ("refusal_spends_key", lambda self, inherited: True),
        "isolation_broken": ("visible", lambda self, inherited, owner, merchant: True),
        "resource_unavailable": (
            "readable",
            lambda self, inherited, created, now: now >= created + 1,
        ),
        "cancel_any_status": ("cancelable", lambda self, inherited, status: True),
        "refund_any_status": ("refundable", lambda self, inherited, status: True),
        "refund_over_remainder": (
            "within_remainder",
            lambda self, inherited, amount, remainder: True,
        ),
        "events_out_of_order": (
            "event_kinds",
            lambda self, inherited, kinds: list(reversed(inherited(kinds))),
        ),
        "event_id_reused": ("event_id", lambda self, inherited, fresh, first: first or fresh),
        "webhook_unsigned": ("webhook_secret", lambda self, inherited, secret: None),
        "webhook_bad_signature": ("webhook_secret", _bad_signature),
    }


def _override(method: str, change: Change) -> tuple[Change, list[type]]:
    """The method a defect class puts in place of ``method``: ``change`` given the rule it
    overrides (whatever stands behind the class in the rules in force) as ``inherited``."""
    owner: list[type] = []  # the class, once made

    def rule(self: ApiRules, *args: Any) -> Any:
        return change(self, getattr(super(owner[0], self), method), *args)

    return rule, owner


def declare_shared_defects(
    base: type[ApiRules], read: str, descriptions: Mapping[str, str]
) -> list[type[ApiRules]]:
    """Declare on ``base`` the shared defects named in ``descriptions`` (``auth_ignored`` lets a
    GET of the endpoint ``read`` in without a credential). Keep the classes returned: a class
    is found through its base only while something holds it."""
    table = _breakages(read)
    unknown = set(descriptions) - set(table)
    if unknown:
        raise KeyError(f"no shared defect {', '.join(sorted(unknown))}")
    declared: list[type[ApiRules]] = []
    for name, description in descriptions.items():
        method, change = table[name]
        rule, owner = _override(method, change)
        cls = type(
            "".join(part.title() for part in name.split("_")),
            (base,),
            {method: rule, "__module__": base.__module__},
            defect=f"{base.api}.{name}",
            description=description,
        )
        owner.append(cls)
        declared.append(cls)
    return declared
