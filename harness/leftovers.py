"""What a run may leave on a target: objects the seed gives no way to delete, within their cap.

Kaspi's webhook endpoints: the seed creates (``POST /v1/webhooks``) and lists (``GET
/v1/webhooks``) them and has no way to delete one; the supplement caps a merchant at 20
(``error_codes.too_many_endpoints``). A run that made one per generated case left hundreds on a
target, and every event then went to each of them. So a run makes at most ``PER_RUN`` per
merchant, and none once the merchant lists ``cap - RESERVED`` (the room of the scenario
suite's one endpoint, used again run after run: ``harness.scenarios.endpoint_store``). The
endpoints the suites make from generated data subscribe to ``webhook.test`` alone, so one left
behind receives only the test events sent to it on purpose, not every event of every later run.
"""

from __future__ import annotations

import dataclasses
import re
from functools import cache
from typing import Any

import requests

from harness.apis import documents

PER_RUN = 3  # per merchant and run: two valid creates, and room for one the target should refuse
RESERVED = 1  # the scenario suite's own endpoint
PAGE_SIZE = 100  # the supplement's largest page
MAX_PAGES = 20


@dataclasses.dataclass(frozen=True)
class Undeletable:
    """A kind of object the seed gives no way to delete."""

    api: str
    create: tuple[str, str]  # (METHOD, path) that makes one
    list_path: str  # the seed's list of them
    cap: int  # per merchant, as the supplement states it
    source: str  # where the cap is stated
    quiet: dict[str, Any]  # body members that keep one left behind from receiving traffic


@cache
def _kaspi_cap() -> int:
    """The supplement's cap on a merchant's webhook endpoints (its ``too_many_endpoints``)."""
    doc = documents.supplement("kaspi")
    meaning = str(doc["error_codes"]["too_many_endpoints"]["meaning"])
    found = re.search(r"\d+", meaning)
    if found is None:
        raise ValueError(f"kaspi.supplement.yaml: too_many_endpoints names no number: {meaning!r}")
    return int(found.group())


def undeletable(api: str, method: str, path: str) -> Undeletable | None:
    """The undeletable kind an operation creates, or None."""
    if (api, method.upper(), path) == ("kaspi", "POST", "/v1/webhooks"):
        return Undeletable(
            api="kaspi",
            create=("POST", "/v1/webhooks"),
            list_path="/v1/webhooks",
            cap=_kaspi_cap(),
            source="kaspi.supplement.yaml#/error_codes/too_many_endpoints",
            quiet={"events": ["webhook.test"]},
        )
    return None


def _items(body: Any) -> list[Any] | None:
    """A list answer's items: the body when it is an array, else its one array member."""
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        lists = [v for v in body.values() if isinstance(v, list)]
        if len(lists) == 1:
            return lists[0]
    return None


def count(base_url: str, list_path: str, headers: dict[str, str]) -> int | None:
    """How many the merchant has, page by page through the seed's list; None when unreadable."""
    total = 0
    with requests.Session() as session:
        for page in range(1, MAX_PAGES + 1):
            try:
                answer = session.get(
                    base_url.rstrip("/") + list_path,
                    params={"page": page, "page_size": PAGE_SIZE},
                    headers=headers,
                    timeout=10,
                )
                items = _items(answer.json()) if answer.status_code == 200 else None
            except (requests.RequestException, ValueError):
                return None
            if items is None:
                return None
            total += len(items)
            if len(items) < PAGE_SIZE:
                return total
    return total


@dataclasses.dataclass
class Allowance:
    """How many more of one kind this run may make for one merchant."""

    kind: Undeletable
    listed: int | None  # what the merchant had when the run first looked; None: unreadable
    made: int = 0
    sent: int = 0

    @property
    def room(self) -> int:
        if self.listed is None:
            return 0  # cannot tell how many there are: make none
        return max(0, min(PER_RUN, self.kind.cap - RESERVED - self.listed))

    def may_send(self, valid: bool) -> bool:
        """Whether one more create may go. A valid one keeps the last unit back (once there
        are two) for a case the target should refuse and may wrongly accept."""
        limit = self.room if not valid else max(self.room - 1, min(self.room, 1))
        return self.made < limit

    def answered(self, status: int) -> None:
        self.sent += 1
        if 200 <= status < 300:
            self.made += 1

    def reason(self) -> str:
        have = "an unknown number" if self.listed is None else str(self.listed)
        return (
            f"{self.kind.create[0]} {self.kind.create[1]} not sent: the merchant had {have} of "
            f"at most {self.kind.cap} ({self.kind.source}) and the seed gives no way to delete "
            f"one; this run may make {self.room} ({self.made} made)"
        )
