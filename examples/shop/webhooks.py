#!/usr/bin/env python3
"""A small shop's webhook handler for both APIs (Flask), with switchable mistakes.

The clean handler verifies the signature over the raw body, answers 2xx to a delivery it has
already applied without applying it again (a refund is booked once), keeps the newest state of
an object whatever order events arrive in, ignores kinds and fields it does not know, and
answers 4xx to what it cannot read. Grade it with:

    python examples/shop/webhooks.py --port 8700 &
    paysim webhooks check --api freefin --url http://127.0.0.1:8700/webhooks/freefin \\
        --secret whsec_shop_freefin --state-url http://127.0.0.1:8700/webhooks/state

Each name in SHOP_MISTAKES (or --mistake) switches on one mistake partners make; every one is
caught by the rule of ``paysim webhooks check`` meant for it.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import threading
import time
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from flask import Flask, Response, jsonify, request

MISTAKES = {
    "skip_signature": "the signature header is never checked",
    "apply_duplicates": "an event delivered twice is applied twice",
    "refuse_duplicates": "an event delivered twice is refused (409) the second time",
    "unknown_kind_500": "a kind the shop does not handle raises (500)",
    "last_arrival_wins": "the last event to arrive sets the status, however old it is",
    "stale_refused": "an event older than the state held is refused (409), not ignored",
    "slow_refunds": "refunds are booked before answering, which takes longer than the timeout",
    "slow_answers": "every event is booked before answering, which takes longer than the timeout",
    "verify_reserialised": "the signature is checked over the parsed body dumped again "
    "(compact), not over the bytes received",
    "refund_booked_twice": "a refund is booked in the ledger before the duplicate check, so a "
    "refund delivered twice doubles the refunded total",
    "strict_fields": "an event with fields the shop does not know is refused (400)",
    "crash_on_large": "a body over 512 KiB fails (500) instead of being refused",
    "parse_unchecked": "the body is parsed without a guard, so bad JSON raises (500)",
}
MAX_BODY = 256 * 1024
SLOW_S = 0.8


@dataclass(frozen=True)
class Api:
    signature_header: str
    kind_field: str
    object_field: str
    kinds: frozenset[str]
    fields: frozenset[str]


APIS = {
    "freefin": Api(
        "X-Freefin-Signature",
        "kind",
        "payload",
        frozenset(
            f"payment.{k}" for k in ("created", "status_changed", "succeeded", "failed", "expired")
        )
        | {"payment.cancelled", "payment.refunded"}
        | {f"payout.{k}" for k in ("created", "status_changed", "succeeded", "failed")},
        frozenset({"id", "kind", "created_at", "payload"}),
    ),
    "kaspi": Api(
        "X-Arzan-Signature",
        "event",
        "data",
        frozenset(
            f"{obj}.{k}"
            for obj in ("invoice", "qr")
            for k in ("created", "status_changed", "paid", "canceled", "refunded")
        )
        | {f"subscription.{k}" for k in ("created", "billed", "paid", "payment_failed")}
        | {"webhook.test"},
        frozenset({"id", "event", "created_at", "data"}),
    ),
}


def create_app(secrets: dict[str, str], mistakes: set[str] | None = None) -> Flask:
    mistakes = set(mistakes or ())
    unknown = mistakes - set(MISTAKES)
    if unknown:
        raise ValueError(f"unknown mistakes: {', '.join(sorted(unknown))}")
    app = Flask("shop-webhooks")
    lock = threading.Lock()
    applied: dict[str, int] = {}  # event id -> times applied
    objects: dict[str, dict[str, Any]] = {}  # object id -> {"status", "at"}
    refunded: dict[str, Decimal] = {}  # object id -> the refunded total booked

    def refuse(status: int, why: str) -> Response:
        resp = jsonify({"error": why})
        resp.status_code = status
        return resp

    @app.post("/webhooks/<api_name>")
    def receive(api_name: str) -> Response:
        api = APIS.get(api_name)
        if api is None:
            return refuse(404, "no such API")
        raw = request.get_data()
        if len(raw) > MAX_BODY:
            if "crash_on_large" in mistakes and len(raw) > 2 * MAX_BODY:
                raise RuntimeError("the body does not fit the column")
            if "crash_on_large" not in mistakes:
                return refuse(413, f"bodies over {MAX_BODY} bytes are refused")
        if "skip_signature" not in mistakes:
            signed = raw
            if "verify_reserialised" in mistakes:
                try:
                    parsed = json.loads(raw)
                except ValueError:
                    return refuse(401, "signature does not match")
                signed = json.dumps(parsed, separators=(",", ":"), ensure_ascii=False).encode()
            expected = (
                "sha256=" + hmac.new(secrets[api_name].encode(), signed, hashlib.sha256).hexdigest()
            )
            given = request.headers.get(api.signature_header, "")
            if not hmac.compare_digest(given.encode(), expected.encode()):
                return refuse(401, "signature does not match")
        if "parse_unchecked" in mistakes:
            event = json.loads(raw)
        else:
            try:
                event = json.loads(raw)
            except ValueError:
                return refuse(400, "not JSON")
        if not isinstance(event, dict):
            return refuse(400, "not an event")
        event_id, kind = event.get("id"), event.get(api.kind_field)
        obj = event.get(api.object_field)
        if not isinstance(event_id, str) or not isinstance(kind, str) or not isinstance(obj, dict):
            return refuse(400, "not an event")
        if "strict_fields" in mistakes and set(event) - api.fields:
            return refuse(400, f"unexpected fields: {sorted(set(event) - api.fields)}")
        if kind not in api.kinds:
            if "unknown_kind_500" in mistakes:
                raise KeyError(kind)
            return jsonify({"ignored": kind})
        if "slow_answers" in mistakes or (
            kind.endswith(".refunded") and "slow_refunds" in mistakes
        ):
            time.sleep(SLOW_S)
        with lock:
            if kind.endswith(".refunded") and "refund_booked_twice" in mistakes:
                _book_refund(refunded, obj)
            if event_id in applied and "refuse_duplicates" in mistakes:
                return refuse(409, "already received")
            if event_id in applied and "apply_duplicates" not in mistakes:
                return jsonify({"duplicate": event_id})
            applied[event_id] = applied.get(event_id, 0) + 1
            if kind.endswith(".refunded") and "refund_booked_twice" not in mistakes:
                _book_refund(refunded, obj)
            object_id, status = obj.get("id"), obj.get("status")
            at = str(event.get("created_at", ""))
            held = objects.get(object_id) if isinstance(object_id, str) else None
            newer = held is None or held["at"] <= at or "last_arrival_wins" in mistakes
            if not newer and "stale_refused" in mistakes:
                return refuse(409, "an older event than the state held")
            if isinstance(object_id, str) and isinstance(status, str) and newer:
                objects[object_id] = {"status": status, "at": at}
        return jsonify({"applied": event_id})

    @app.get("/webhooks/state")
    def state() -> Response:
        """The state probe: what the shop made of an event and its object."""
        event_id = request.args.get("event_id", "")
        object_id = request.args.get("object_id", "")
        with lock:
            held = objects.get(object_id)
            return jsonify(
                {
                    "applied": applied.get(event_id, 0),
                    "status": held["status"] if held else None,
                    "refunded": str(refunded.get(object_id, Decimal(0))),
                }
            )

    return app


def _book_refund(ledger: dict[str, Decimal], obj: dict[str, Any]) -> None:
    """A refund event's amount added to the object's refunded total (freefin kopecks, Kaspi
    tenge as a string)."""
    object_id = obj.get("id")
    amount = obj.get("amount_refunded", obj.get("refunded_amount"))
    if isinstance(object_id, str) and amount is not None:
        ledger[object_id] = ledger.get(object_id, Decimal(0)) + Decimal(str(amount))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--port", type=int, default=8700)
    parser.add_argument(
        "--mistake", action="append", default=[], choices=sorted(MISTAKES), help="repeatable"
    )
    args = parser.parse_args()
    mistakes = set(args.mistake) | {m for m in os.environ.get("SHOP_MISTAKES", "").split(",") if m}
    secrets = {
        "freefin": os.environ.get("SHOP_FREEFIN_SECRET", "whsec_shop_freefin"),
        "kaspi": os.environ.get("SHOP_KASPI_SECRET", "whsec_shop_kaspi"),
    }
    create_app(secrets, mistakes).run(host="127.0.0.1", port=args.port)


if __name__ == "__main__":
    main()
