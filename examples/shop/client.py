#!/usr/bin/env python3
"""A small shop's client of both APIs (requests), with switchable mistakes.

The clean client makes one Idempotency-Key per intended object and sends every retry of it with
that key and the same bytes; it retries a 5xx or a dropped connection with a doubling, jittered
wait and gives up after a few attempts; after a 429 (or a 503 with Retry-After) it waits the
Retry-After it was given; it learns of a freefin payment's end from the event stream, reopened
with Last-Event-ID when it ends, and polls a Kaspi invoice's status with a growing wait; it
counts money in Decimal and sends freefin kopecks as integers and Kaspi tenge as a number with
two decimals; and it signs the exact bytes it sends. Grade it with the exam, which meets its
first requests with every failure a rule judges:

    paysim serve --exam &
    python examples/shop/client.py --api freefin --base-url http://127.0.0.1:8080 \\
        --key sk_test_rom001_Jq7Zt2xVw9LmN4pR --orders 20
    paysim client-report --target-url http://127.0.0.1:8080

Each name in MISTAKES (or --mistake) switches on one mistake partners make; every one is caught
by the client rule of the simulator's client report meant for it.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import random
import sys
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import requests

MISTAKES = {
    "no_idempotency_key": "creates are sent without an Idempotency-Key",
    "new_key_on_retry": "a retry after a 5xx or a dropped connection gets a new Idempotency-Key",
    "ignores_retry_after": "after a 429 the request is sent again at once",
    "polls_in_loop": "a status is polled in a tight loop until it is final",
    "signature_reserialised": "freefin: the signature is made over json.dumps(body), not the "
    "bytes sent",
    "amount_float": "amounts computed in float: freefin kopecks as 19990.0, Kaspi tenge with "
    "float noise (200.10000000000002)",
    "changed_body_retry": "a retry keeps its Idempotency-Key but builds the body again, with the "
    "price read again (one minor unit more)",
    "field_typo": "the order reference is sent as order_Id (Kaspi: external_order_Id)",
    "retry_storm": "a 5xx or a dropped connection is retried at once, with no wait",
}
FINAL = {
    "freefin": frozenset({"succeeded", "failed", "expired", "cancelled", "refunded"}),
    "kaspi": frozenset({"paid", "canceled", "refunded"}),
}
RETRYABLE = frozenset({500, 502, 503, 504})


class GaveUp(Exception):
    """The API did not answer with success within the attempts allowed."""


@dataclass
class Shop:
    api: str  # freefin or kaspi
    base_url: str  # freefin: the server's root; Kaspi: its .../api
    key: str
    secret: str | None = None  # freefin: signs every POST when set
    mistakes: frozenset[str] = frozenset()
    attempts: int = 6
    backoff_s: float = 0.2
    sleep: Callable[[float], None] = time.sleep
    http: requests.Session = field(default_factory=requests.Session)
    last_event_id: str | None = None  # freefin: where the event stream resumes

    # -- what the shop does -----------------------------------------------------------------

    def checkout(self, order_id: str, unit_price: Decimal, quantity: int = 1) -> dict[str, Any]:
        """Bill an order: a freefin payment or a Kaspi sandbox invoice."""
        total = self._total(unit_price, quantity)
        typo = "field_typo" in self.mistakes
        if self.api == "freefin":
            reference = "order_Id" if typo else "order_id"
            body = {"amount": total, "currency": "RUB", "method": "sbp", reference: order_id}
            answer = self._create("/api/v1/public/payments", body)
            return dict(answer["payment"])
        body = {
            "amount": total,
            "phone_number": "77011234567",
            "external_order_Id" if typo else "external_order_id": order_id,
            "is_sandbox": True,
        }
        return self._create("/v1/invoices", body)

    def status(self, object_id: str) -> str:
        path = "/api/v1/public/payments/" if self.api == "freefin" else "/v1/invoices/"
        return str(self._send("GET", path + object_id).json()["status"])

    def wait_until_final(self, object_id: str, timeout_s: float = 30.0) -> str:
        """freefin: read the event stream until the payment's end is told (then read it once);
        Kaspi: poll until the status is final (a webhook would say it sooner and cheaper)."""
        if self.api == "freefin" and "polls_in_loop" not in self.mistakes:
            status = self.status(object_id)
            if status not in FINAL[self.api]:
                self.listen(object_id, timeout_s)
                status = self.status(object_id)
            return status
        deadline = time.monotonic() + timeout_s
        wait = 0.25
        while True:
            status = self.status(object_id)
            if status in FINAL[self.api]:
                return status
            if time.monotonic() > deadline:
                return status
            if "polls_in_loop" in self.mistakes:
                self.sleep(0.05)
            else:
                self.sleep(wait)
                wait = min(wait * 2, 5.0)

    def listen(self, object_id: str, timeout_s: float) -> None:
        """freefin's event stream until an event says the payment is final; a stream that
        ends is opened again after the last event seen (Last-Event-ID)."""
        deadline = time.monotonic() + timeout_s
        url = self.base_url.rstrip("/") + "/api/v1/public/events"
        while time.monotonic() < deadline:
            headers = {"Authorization": f"Bearer {self.key}"}
            if self.last_event_id:
                headers["Last-Event-ID"] = self.last_event_id
            try:
                with self.http.get(url, headers=headers, stream=True, timeout=5) as resp:
                    if _asks_to_wait(resp):
                        self._wait_out(resp)
                        continue
                    for line in resp.iter_lines(decode_unicode=True):
                        if line.startswith("id:"):
                            self.last_event_id = line[3:].strip()
                        elif line.startswith("data:") and _ends(line[5:], object_id):
                            return
                        if time.monotonic() > deadline:
                            return
            except requests.RequestException:
                self.sleep(self.backoff_s)  # a read: opened again after a short wait

    def refund(self, object_id: str, amount: Decimal) -> dict[str, Any]:
        if self.api == "freefin":
            path = f"/api/v1/public/payments/{object_id}/refund"
        else:
            path = f"/v1/invoices/{object_id}/refund"
        return self._create(path, {"amount": self._money(amount)})

    # -- money -----------------------------------------------------------------------------

    def _total(self, unit_price: Decimal, quantity: int) -> int | float:
        if "amount_float" in self.mistakes:
            total = float(unit_price) * quantity
            return total * 100 if self.api == "freefin" else total
        return self._money(unit_price * quantity)

    def _money(self, amount: Decimal) -> int | float:
        if self.api == "freefin":
            if "amount_float" in self.mistakes:
                return float(amount) * 100
            return int((amount * 100).to_integral_value())  # kopecks, an integer
        return float(amount.quantize(Decimal("0.01")))  # tenge, two decimals at most

    # -- HTTP ------------------------------------------------------------------------------

    def _create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """A create, retried safely: one key for the intended object, the same bytes each time."""
        raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
        key = None if "no_idempotency_key" in self.mistakes else str(uuid.uuid4())
        wait = self.backoff_s
        for attempt in range(self.attempts):
            if attempt and "new_key_on_retry" in self.mistakes:
                key = str(uuid.uuid4())
            if attempt and "changed_body_retry" in self.mistakes:
                body = {**body, "amount": _one_unit_more(self.api, body["amount"])}
                raw = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
            try:
                resp = self._send("POST", path, raw, key, body)
            except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError):
                resp = None  # the answer was lost, the request may have been done: same key
            if resp is not None and resp.status_code < 300:
                return dict(resp.json())
            if resp is not None and _asks_to_wait(resp):
                self._wait_out(resp)
                continue
            if resp is not None and resp.status_code not in RETRYABLE:
                raise GaveUp(f"{path}: {resp.status_code} {resp.text[:200]}")
            if "retry_storm" not in self.mistakes:
                self.sleep(wait * random.uniform(0.8, 1.2))
                wait *= 2
        raise GaveUp(f"{path}: no success in {self.attempts} attempts")

    def _wait_out(self, resp: requests.Response) -> None:
        if "ignores_retry_after" in self.mistakes:
            return
        retry_after = resp.headers.get("Retry-After", "1")
        self.sleep((float(retry_after) if retry_after.isdigit() else 1.0) + random.uniform(0, 0.2))

    def _send(
        self,
        method: str,
        path: str,
        raw: bytes = b"",
        key: str | None = None,
        body: dict[str, Any] | None = None,
    ) -> requests.Response:
        headers = {"Content-Type": "application/json"}
        if self.api == "freefin":
            headers["Authorization"] = f"Bearer {self.key}"
        else:
            headers["X-API-Key"] = self.key
        if key:
            headers["Idempotency-Key"] = key
        if self.secret and method == "POST":
            signed = raw
            if "signature_reserialised" in self.mistakes and body is not None:
                signed = json.dumps(body).encode()  # not the bytes sent
            digest = hmac.new(self.secret.encode(), signed, hashlib.sha256).hexdigest()
            headers["X-Freefin-Signature"] = "sha256=" + digest
        url = self.base_url.rstrip("/") + path
        for _ in range(self.attempts):
            resp = self.http.request(method, url, data=raw or None, headers=headers, timeout=10)
            if method == "POST" or not _asks_to_wait(resp):
                return resp
            self._wait_out(resp)  # a read is simply sent again once the wait is over
        return resp


def _ends(data: str, object_id: str) -> bool:
    """Whether an event's data says the payment ``object_id`` reached a final status."""
    try:
        payload = json.loads(data).get("payload") or {}
    except (ValueError, AttributeError):
        return False
    return bool(payload.get("id") == object_id and payload.get("status") in FINAL["freefin"])


def _one_unit_more(api: str, amount: Any) -> Any:
    return amount + 1 if api == "freefin" else round(amount + 0.01, 2)


def _asks_to_wait(resp: requests.Response) -> bool:
    """A 429, or a 503 that says when to come back."""
    return resp.status_code == 429 or (resp.status_code == 503 and "Retry-After" in resp.headers)


def run(shop: Shop, orders: int, refund: bool = False) -> dict[str, int]:
    """Check out ``orders`` orders (and refund a part of each one paid); count the outcomes."""
    counts = {"created": 0, "gave_up": 0, "refunded": 0}
    for n in range(orders):
        try:
            created = shop.checkout(f"order-{uuid.uuid4().hex[:8]}-{n}", Decimal("66.70"), 3)
        except GaveUp:
            counts["gave_up"] += 1
            continue
        counts["created"] += 1
        if refund and shop.wait_until_final(created["id"], 5.0) in ("succeeded", "paid"):
            shop.refund(created["id"], Decimal("10.00"))
            counts["refunded"] += 1
    return counts


def parse_args(argv: Iterable[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--api", choices=("freefin", "kaspi"), required=True)
    p.add_argument("--base-url", required=True, help="freefin: the root; Kaspi: its .../api")
    p.add_argument("--key", required=True, help="the API key (freefin: without Bearer)")
    p.add_argument("--secret", help="freefin: the terminal's signing secret")
    p.add_argument("--orders", type=int, default=10)
    p.add_argument("--mistake", action="append", default=[], choices=sorted(MISTAKES))
    return p.parse_args(list(argv) if argv is not None else None)


def main(argv: Iterable[str] | None = None) -> int:
    a = parse_args(argv)
    shop = Shop(a.api, a.base_url, a.key, a.secret, frozenset(a.mistake))
    print(json.dumps(run(shop, a.orders)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
