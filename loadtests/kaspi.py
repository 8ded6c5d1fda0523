"""Kaspi personas: a shop's invoices, a till's QR codes, subscriptions, and a back office.

Every request carries ``X-API-Key``. Shops create invoices (each user's first one replayed at
once with the same ``Idempotency-Key`` and body and followed by a race, a share of later ones
replayed), poll them to a final state and refund a share of the paid
ones; tills show QR codes; a subscription service signs customers up; the back office lists
and filters invoices, refunds and audit logs. List responses are checked lightly (a list, as
a JSON array or inside the pagination envelope), since the seed spec gives them no schema.
"""

from __future__ import annotations

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

INVOICE_STATUSES = {"pending", "processing", "paid", "canceled", "refunded"}
INVOICE_FINAL = {"paid", "canceled", "refunded"}
LIST_KEYS = ("items", "data", "results")

invoices_seen = Known()


class KaspiUser(PaysimUser):
    """Abstract: one merchant's API key (round-robin over the given ones)."""

    abstract = True
    api = "kaspi"

    def on_start(self) -> None:
        self.credential = self.settings.account_index() % len(self.settings.kaspi_keys)
        self.proof = Proof()

    def call(
        self,
        method: str,
        path: str,
        expected: set[int],
        check: Any = None,
        raw: bytes | None = None,
        idempotency_key: str | None = None,
        credential: int | None = None,
        name: str | None = None,
    ) -> Any:
        """One request, judged; returns the JSON body when it passed."""
        key = self.settings.kaspi_keys[self.credential if credential is None else credential]
        headers = {"X-API-Key": key, "Accept": "application/json"}
        if raw is not None:
            headers["Content-Type"] = "application/json"
        if idempotency_key:
            headers["Idempotency-Key"] = idempotency_key
        url = self.settings.kaspi_url + path
        body: Any = raw  # FastHttpSession sends bytes as they are (typed str | dict only)
        with self.client.request(
            method,
            url,
            name=f"kaspi {name or path}",
            data=body,
            headers=headers,
            catch_response=True,
        ) as resp:
            found = judge(resp, expected, check)
        self.back_off(resp)
        return found

    def create(
        self,
        path: str,
        body: dict[str, Any],
        check: Any,
        kind: str,
        fresh: Callable[[], dict[str, Any]],
    ) -> Any:
        """Create with a fresh Idempotency-Key, or replay an earlier one (a share of the time).

        This user's first create of ``kind`` is replayed at once and followed by a race of a
        ``fresh()`` body, so the run's duplicate counter is never judged on chance.
        """
        if random.random() < self.settings.replay_share and (prior := POOL.pick(kind)):
            self.replay(path, prior)
            return None
        raw, key = data.encode(body), str(uuid.uuid4())
        created = self.call("POST", path, {201}, check, raw, key)
        if created:
            made = Create(kind, self.credential, key, raw, created["id"])
            POOL.remember(made)
            if self.proof.due(kind):
                self.replay(path, made)
                self.race(path, data.encode(fresh()), kind)
        return created

    def race(self, path: str, raw: bytes, kind: str) -> None:
        """One new create sent twice at once (same key, same bytes): one object, or a duplicate."""
        key = str(uuid.uuid4())
        returned: list[str | None] = []

        def seen(body: Any) -> str | None:
            found = body.get("id") if isinstance(body, dict) else None
            returned.append(found if isinstance(found, str) and found else None)
            if not found and not error_code(body):
                return "race answered without an id"
            # The later answer of the two judges the race: a second object is its failure.
            if len(returned) == 2 and record_race(kind, key, returned):
                return "duplicate created by a race of one Idempotency-Key"
            return None

        def leg() -> None:
            # 409: the other request holds the key (concurrent requests create one object).
            self.call("POST", path, {200, 201, 409}, seen, raw, key, name=f"{path} [race]")

        gevent.joinall([gevent.spawn(leg), gevent.spawn(leg)])

    def replay(self, path: str, prior: Create) -> None:
        def verdict(body: Any) -> str | None:
            returned = body.get("id") if isinstance(body, dict) else None
            if not returned:
                return "replay answered without an id"
            if record_replay(prior, returned):
                return "duplicate created by an idempotent replay"
            return None

        # Kaspi returns "the same response" to a replay: 201 again, or 200, both fine.
        self.call(
            "POST",
            path,
            {200, 201},
            verdict,
            prior.body,
            prior.key,
            prior.credential,
            name=f"{path} [replay]",
        )


class KaspiShop(KaspiUser):
    """An online shop: invoice to the customer's Kaspi app, poll it, refund a share."""

    weight = 5
    think = (0.5, 2.0)

    @task
    def invoice(self) -> None:
        body, outcome = data.kaspi_invoice()
        created = self.create(
            "/v1/invoices",
            body,
            status_in(INVOICE_STATUSES),
            "kaspi invoice",
            lambda: data.kaspi_invoice()[0],
        )
        if not created:
            return
        iid = created["id"]
        invoices_seen.add(self.credential, iid)
        status = self.poll(iid, created["status"], stop_at_pending=outcome == "pending")
        if status == "pending" and outcome == "pending":
            # The customer never paid: the shop cancels the invoice in Kaspi.
            self.call(
                "POST",
                f"/v1/invoices/{iid}/cancel",
                {200},
                status_in({"canceled"}),
                raw=b"",
                name="/v1/invoices/{id}/cancel",
            )
        elif status == "paid" and random.random() < self.settings.refund_share:
            self.refund(iid, float(created.get("amount") or 0))

    def poll(self, iid: str, status: str, stop_at_pending: bool) -> str | None:
        """Read the invoice until it is final (or seen pending, for an abandoned one)."""
        deadline = time.monotonic() + self.settings.poll_limit
        while status not in INVOICE_FINAL and time.monotonic() < deadline:
            self.pause(random.uniform(0.4, 0.8))
            got = self.call(
                "GET",
                f"/v1/invoices/{iid}",
                {200},
                both(status_in(INVOICE_STATUSES), same_id(iid)),
                name="/v1/invoices/{id}",
            )
            if not got:
                return None
            status = got["status"]
            if stop_at_pending and status == "pending":
                break
        return status

    def refund(self, iid: str, amount: float) -> None:
        body: dict[str, Any] = {"reason": data.fake.sentence(nb_words=4)}
        if random.random() < 0.5 and amount >= 2:
            body["amount"] = round(amount / 2)
        self.call(
            "POST",
            f"/v1/invoices/{iid}/refund",
            {201},
            has("id"),
            data.encode(body),
            str(uuid.uuid4()),
            name="/v1/invoices/{id}/refund",
        )


class KaspiQr(KaspiUser):
    """A till in a shop or café: a Kaspi QR for each purchase."""

    weight = 2
    think = (1.0, 3.0)

    @task
    def qr(self) -> None:
        self.create("/v1/qr", data.kaspi_qr(), has("id"), "kaspi qr", data.kaspi_qr)


class KaspiSubscriptions(KaspiUser):
    """A subscription service: sign customers up, list the subscriptions."""

    weight = 1
    # Under 5 s: a request sent just as the server drops an idle keep-alive connection (the
    # bundled simulator after 5 s) fails with no response; real clients meet that race too, but
    # it would make the gate flaky.
    think = (2.0, 4.5)

    @task(3)
    def subscribe(self) -> None:
        self.call(
            "POST", "/v1/subscriptions", {201}, has("id"), data.encode(data.kaspi_subscription())
        )

    @task(1)
    def subscriptions(self) -> None:
        self.call("GET", "/v1/subscriptions", {200}, list_of(*LIST_KEYS))


class KaspiBackOffice(KaspiUser):
    """Accounting and support: list and filter invoices, refunds, audit, the merchant."""

    weight = 2
    think = (1.0, 3.0)

    @task(4)
    def invoices_by_status(self) -> None:
        status = random.choice(("paid", "pending", "refunded", "canceled"))
        self.call(
            "GET",
            f"/v1/invoices?status={status}&page=1&page_size=20",
            {200},
            list_of(*LIST_KEYS),
            name="/v1/invoices?status",
        )

    @task(2)
    def invoice_search(self) -> None:
        self.call(
            "GET",
            f"/v1/invoices?search=ord-&page={random.randint(1, 3)}&page_size=20",
            {200},
            list_of(*LIST_KEYS),
            name="/v1/invoices?search",
        )

    @task(3)
    def invoice(self) -> None:
        seen = invoices_seen.pick()
        if seen is None:
            return self.me()
        credential, iid = seen
        self.call(
            "GET",
            f"/v1/invoices/{iid}",
            {200},
            has("id", "status"),
            credential=credential,
            name="/v1/invoices/{id}",
        )
        return None

    @task(1)
    def refunds(self) -> None:
        self.call("GET", "/v1/refunds", {200}, list_of(*LIST_KEYS))

    @task(1)
    def audit(self) -> None:
        self.call("GET", "/v1/audit-logs", {200}, list_of(*LIST_KEYS))

    @task(1)
    def me(self) -> None:
        self.call("GET", "/v1/me", {200}, has("id"))

    @task(1)
    def session(self) -> None:
        self.call("GET", "/v1/kaspi/session", {200}, has("connected"))

    @task(1)
    def mistyped_id(self) -> None:
        self.call(
            "GET",
            f"/v1/invoices/inv_{uuid.uuid4().hex[:8]}",
            {404},
            lambda b: None if error_code(b) else "404 without an error code",
            name="/v1/invoices/{id} [unknown]",
        )
