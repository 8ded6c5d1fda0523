"""A run leaves a target as found, as far as the seed allows: it makes at most a few of what
the seed gives no way to delete (Kaspi webhook endpoints), never more than the supplement's cap
on a merchant, and those it makes hear only the test events sent to them on purpose.

The count is the independent Kaspi server's own (``GET /testing/counts``), after a deep
contract run (bounded to the webhook operations, so it takes seconds): before this bound, the
same run left 228 endpoints, and every later event went to each.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import requests

from harness import leftovers
from tests.foreign import run as foreign
from tests.foreign.kaspi import CREDENTIALS

WEBHOOKS = ("POST /v1/webhooks", "POST /v1/webhooks/{id}/test")


def test_the_cap_is_the_supplements_and_only_endpoints_are_undeletable() -> None:
    kind = leftovers.undeletable("kaspi", "POST", "/v1/webhooks")
    assert kind is not None and kind.cap == 20 and "too_many_endpoints" in kind.source
    assert leftovers.undeletable("kaspi", "POST", "/v1/invoices") is None
    assert leftovers.undeletable("freefin", "POST", "/v1/webhooks") is None


@pytest.mark.parametrize(
    "listed, valid, refused",
    [
        (0, 2, 3),  # two valid creates; the last unit for a case the target should refuse
        (17, 1, 2),  # 20 - 1 reserved - 17 = room for 2
        (18, 1, 1),
        (19, 0, 0),  # the scenario suite's room: nothing more
        (40, 0, 0),
        (None, 0, 0),  # cannot count them: make none
    ],
)
def test_a_run_makes_at_most_its_room(listed: int | None, valid: int, refused: int) -> None:
    kind = leftovers.undeletable("kaspi", "POST", "/v1/webhooks")
    assert kind is not None

    def made_until_stopped(is_valid: bool, allowance: leftovers.Allowance) -> int:
        while allowance.may_send(is_valid):
            allowance.answered(201)
        return allowance.made

    assert made_until_stopped(True, leftovers.Allowance(kind, listed)) == valid
    both = leftovers.Allowance(kind, listed)
    made_until_stopped(True, both)
    assert made_until_stopped(False, both) == refused
    refusals = leftovers.Allowance(kind, listed)
    for _ in range(50):  # answers that made nothing spend nothing
        if refusals.may_send(False):
            refusals.answered(400)
    assert refusals.made == 0 and refusals.may_send(False) == (refused > 0)


def _counts(base: str) -> dict[str, Any]:
    answer = requests.get(f"{base}/testing/counts", timeout=10)
    answer.raise_for_status()
    mine = answer.json()["merchants"]
    return dict(mine.get("org_a1") or {"webhooks": 0, "deliveries": 0})


def _deep(base: str, report: Path) -> foreign.Verdict:
    args = ["--api", "kaspi", "--suite", "contract", "--contract-profile", "deep"]
    for op in WEBHOOKS:
        args += ["--contract-operation", op]
    return foreign.conform("kaspi", base, report, *args)


@pytest.mark.server
@pytest.mark.slow
@pytest.mark.timeout(900)  # three deep runs, beside other tests
def test_a_deep_run_leaves_at_most_its_room_and_never_more_than_the_cap(tmp_path: Path) -> None:
    kind = leftovers.undeletable("kaspi", "POST", "/v1/webhooks")
    assert kind is not None
    with foreign.serving("kaspi") as base:
        first = _deep(base, tmp_path / "first")
        assert first.code == 0, first.output[-3000:]
        after_first = _counts(base)
        assert 1 <= after_first["webhooks"] <= leftovers.PER_RUN, after_first
        # the endpoints it made hear only the test events it sent them
        assert after_first["deliveries"] <= 2 * leftovers.PER_RUN, after_first
        # fill the merchant to two below the cap, as earlier runs of other tools might
        api = f"{base}/pay/api/v1/webhooks"
        for _ in range(kind.cap - 2 - after_first["webhooks"]):
            made = requests.post(
                api,
                json={"url": "http://127.0.0.1:9/elsewhere", "events": ["webhook.test"]},
                headers={"X-API-Key": CREDENTIALS["kaspi_key"]},
                timeout=10,
            )
            assert made.status_code == 201, made.text
        second = _deep(base, tmp_path / "second")
        assert second.code == 0, second.output[-3000:]
        after_second = _counts(base)
        assert after_second["webhooks"] == kind.cap - leftovers.RESERVED, after_second
        third = _deep(base, tmp_path / "third")
        assert third.code == 0, third.output[-3000:]
        assert _counts(base)["webhooks"] == kind.cap - leftovers.RESERVED
        skipped = third.output + (tmp_path / "third" / "junit.xml").read_text()
        assert "the seed gives no way to delete one; this run may make 0" in skipped
