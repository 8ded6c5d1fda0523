"""freefin personas: a shop's checkout, its back office, and a payout batch.

Weights follow how partners' traffic splits: shops make most of it (create, poll to a final
state, cancel what customers abandon, refund a share), the back office reads, and a payout batch
runs now and then. Every request carries ``Authorization: Bearer <key>``; with a known signing
secret it also carries ``X-Freefin-Signature: sha256=<hex HMAC-SHA256 of the exact body bytes>``.
"""

from __future__ import annotations

import hashlib
import hmac
import random
import time
import uuid
from collections.abc import Callable
from typing import Any

import gevent
from locust import task

from loadtests import data
from loadtests.base import Known, PaysimUser
from loadtests.checks import both, error_code, has, judge, list_of, same_id, status_in
from loadtests.idempotency import POOL, Create, Proof, record_race, record_replay

PAYMENTS = "/api/v1/public/payments"
PAYOUTS = "/api/v1/public/payouts"
PAYMENT_STATUSES = {
    "pending",
    "processing",
    "succeeded",
    "failed",
    "expired",
    "cancelled",
    "refunded",
}
PAYMENT_FINAL = {"succeeded", "failed", "expired", "cancelled", "refunded"}
PAYOUT_STATUSES = {"pending", "succeeded", "failed"}
REFUND_STATUSES = {"pending", "succeeded", "failed"}

payments_seen = Known()
payouts_seen = Known()


def signature(secret: str, raw: bytes) -> str:
    """``sha256=<hex>``: HMAC-SHA256 of the raw body with the terminal's signing secret."""
    return "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()


class FreefinUser(PaysimUser):
    """Abstract: one terminal's credentials (round-robin over the given ones), signed calls."""

    abstract = True
    api = "freefin"

    def on_start(self) -> None:
        self.credential = self.settings.account_index() % len(self.settings.freefin_accounts)
        self.proof = Proof()

    def call(
        self,
        method: str,
        path: str,
        name: str,
        expected: set[int],
        check: Any = None,
        raw: bytes | None = None,
        idempotency_key: str | None = None,
        credential: int | None = None,
        then_status: int | None = None,
    ) -> Any:
        """One request, judged; returns the JSON body when it passed."""
        account = self.settings.freefin_accounts[
            self.credential if credential is None else credential
        ]
        headers = {"Authorization": f"Bearer {account.key}", "Accept": "application/json"}
        if raw is not None:
            headers["Content-Type"] = "application/json"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        if account.signing_secret:
            headers["X-Freefin-Signature"] = signature(account.signing_secret, raw or b"")
        url = self.settings.freefin_url + path
        body: Any = raw  # FastHttpSession sends bytes as they are (typed str | dict only)
        with self.client.request(
            method, url, name=f"freefin {name}", data=body, headers=headers, catch_response=True
        ) as resp:
            found = judge(resp, expected, check, then_status)
        self.back_off(resp)
        return found

    def create(
        self,
        path: str,
        name: str,
        body: dict[str, Any],
        check: Any,
        obj: str,
        fresh: Callable[[], dict[str, Any]],
    ) -> Any:
        """Create with a fresh Idempotency-Key and remember it for replays.

        This user's first create of ``obj`` is replayed at once and followed by a race of a
        ``fresh()`` body, so the run's duplicate counter is never judged on chance.
        """
        raw, key = data.encode(body), str(uuid.uuid4())
        created = self.call("POST", path, name, {201}, check, raw, key)
        if created:
            made = Create(f"freefin {obj}", self.credential, key, raw, created[obj]["id"])
            POOL.remember(made)
            if self.proof.due(made.api):
                self.replay(path, name, obj, made)
                self.race(path, name, obj, data.encode(fresh()))
        return created

    def race(self, path: str, name: str, obj: str, raw: bytes) -> None:
        """One new create sent twice at once (same key, same bytes): one object, or a duplicate."""
        key = str(uuid.uuid4())
        returned: list[str | None] = []

        def seen(body: Any) -> str | None:
            found = (body.get(obj) or {}).get("id") if isinstance(body, dict) else None
            returned.append(found if isinstance(found, str) and found else None)
            if not found and not error_code(body):
                return f"race answered without a {obj} id"
            # The later answer of the two judges the race: a second object is its failure.
            if len(returned) == 2 and record_race(f"freefin {obj}", key, returned):
                return "duplicate created by a race of one Idempotency-Key"
            return None

        def leg() -> None:
            # 409: the other request holds the key (concurrent requests create one object).
            self.call("POST", path, f"{name} [race]", {200, 201, 409}, seen, raw, key)

        gevent.joinall([gevent.spawn(leg), gevent.spawn(leg)])

    def replay(self, path: str, name: str, obj: str, create: Create | None = None) -> bool:
        """Send a create again (same key, same bytes): ``create``, else an earlier one of any
        user; False if none is known yet."""
        create = create or POOL.pick(f"freefin {obj}")
        if create is None:
            return False

        def verdict(body: Any) -> str | None:
            returned = (body.get(obj) or {}).get("id") if isinstance(body, dict) else None
            if not returned:
                return f"replay answered without a {obj} id"
            if record_replay(create, returned):
                return "duplicate created by an idempotent replay"
            return None

        # 200 is the spec's answer to a replay; a 201 with the same id is wrong but no duplicate.
        self.call(
            "POST",
            path,
            f"{name} [replay]",
            {200, 201},
            verdict,
            create.body,
            create.key,
            create.credential,
            then_status=200,
        )
        return True


class FreefinShop(FreefinUser):
    """A web shop: checkout, poll to a final state, cancel abandoned, refund a share."""

    weight = 6
    think = (0.5, 2.0)

    @task
    def checkout(self) -> None:
        if random.random() < self.settings.replay_share and self.replay(
            PAYMENTS, "/payments", "payment"
        ):
            return
        body = data.freefin_payment()
        created = self.create(
            PAYMENTS,
            "/payments",
            body,
            both(status_in(PAYMENT_STATUSES, ("payment",)), has("payment_url")),
            "payment",
            data.freefin_payment,
        )
        if not created:
            return
        pid = created["payment"]["id"]
        payments_seen.add(self.credential, pid)
        status = self.poll(pid, stop_at_pending=body["metadata"]["sim_outcome"] == "pending")
        if status == "pending":
            self.call(
                "POST",
                f"{PAYMENTS}/{pid}/cancel",
                "/payments/{id}/cancel",
                {200},
                lambda b: None if b.get("status") == "cancelled" else "not cancelled",
                raw=b"",
            )
        elif status == "succeeded" and random.random() < self.settings.refund_share:
            self.refund(pid, created["payment"]["amount"])

    def poll(self, pid: str, stop_at_pending: bool) -> str | None:
        """Read the payment until it is final (or still pending, for an abandoned one)."""
        deadline = time.monotonic() + self.settings.poll_limit
        status = None
        while time.monotonic() < deadline:
            self.pause(random.uniform(0.4, 0.8))
            got = self.call(
                "GET",
                f"{PAYMENTS}/{pid}",
                "/payments/{id}",
                {200},
                both(status_in(PAYMENT_STATUSES), same_id(pid)),
            )
            if not got:
                return None
            status = got["status"]
            if status in PAYMENT_FINAL or (stop_at_pending and status == "pending"):
                break
        return status

    def refund(self, pid: str, amount: int) -> None:
        partial = random.random() < 0.5
        body: dict[str, Any] = {"reason": data.fake.sentence(nb_words=4)}
        if partial:
            body["amount"] = max(amount // 2, 1)
        self.call(
            "POST",
            f"{PAYMENTS}/{pid}/refund",
            "/payments/{id}/refund",
            {201},
            both(status_in(REFUND_STATUSES), has("amount")),
            data.encode(body),
            str(uuid.uuid4()),
        )


class FreefinBackOffice(FreefinUser):
    """Support and accounting: look payments and payouts up, read the bank directory."""

    weight = 2
    think = (1.0, 3.0)

    @task(6)
    def payment(self) -> None:
        seen = payments_seen.pick()
        if seen is None:
            return self.banks()
        credential, pid = seen
        self.call(
            "GET",
            f"{PAYMENTS}/{pid}",
            "/payments/{id}",
            {200},
            both(status_in(PAYMENT_STATUSES), same_id(pid)),
            credential=credential,
        )
        return None

    @task(2)
    def payout(self) -> None:
        seen = payouts_seen.pick()
        if seen is None:
            return self.banks()
        credential, pid = seen
        self.call(
            "GET",
            f"{PAYOUTS}/{pid}",
            "/payouts/{id}",
            {200},
            both(status_in(PAYOUT_STATUSES), same_id(pid)),
            credential=credential,
        )
        return None

    @task(1)
    def banks(self) -> None:
        self.call("GET", "/api/v1/public/banks/sbp", "/banks/sbp", {200}, list_of("items"))

    @task(1)
    def mistyped_id(self) -> None:
        # A support agent pastes a wrong id: a 404 in the error envelope is the right answer.
        self.call(
            "GET",
            f"{PAYMENTS}/{uuid.uuid4()}",
            "/payments/{id} [unknown]",
            {404},
            lambda b: None if error_code(b) else "404 without an error code",
        )


class FreefinPayoutBatch(FreefinUser):
    """A marketplace paying its sellers: a batch of SBP payouts, then polling them."""

    weight = 1
    think = (5.0, 15.0)

    def on_start(self) -> None:
        super().on_start()
        got = self.call("GET", "/api/v1/public/banks/sbp", "/banks/sbp", {200}, list_of("items"))
        self.bank_ids = [
            b["member_id"]
            for b in (got or {}).get("items", [])
            if isinstance(b, dict) and b.get("member_id")
        ] or ["100000000111"]

    @task
    def batch(self) -> None:
        pending = []
        for _ in range(random.randint(3, 8)):
            if random.random() < self.settings.replay_share and self.replay(
                PAYOUTS, "/payouts", "payout"
            ):
                continue
            created = self.create(
                PAYOUTS,
                "/payouts",
                data.freefin_payout(self.bank_ids),
                status_in(PAYOUT_STATUSES, ("payout",)),
                "payout",
                lambda: data.freefin_payout(self.bank_ids),
            )
            if created:
                pid = created["payout"]["id"]
                payouts_seen.add(self.credential, pid)
                pending.append(pid)
        deadline = time.monotonic() + self.settings.poll_limit
        while pending and time.monotonic() < deadline:
            self.pause(1.0)
            for pid in list(pending):
                got = self.call(
                    "GET",
                    f"{PAYOUTS}/{pid}",
                    "/payouts/{id}",
                    {200},
                    both(status_in(PAYOUT_STATUSES), same_id(pid)),
                )
                if not got or got["status"] != "pending":
                    pending.remove(pid)
