"""A tiny freefin-like server for proving the scenario runner on its own.

Just enough of the API (payments, refunds, idempotency, request signatures, SSE, signed webhooks
with retries on a movable clock, a control API) to exercise every runner feature, with switches
(``MiniApp.defects``) that break it the way the scenarios must notice.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import queue
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import requests
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

KEYS = {
    "sk_a": ("t1", "secret_a", False),
    "sk_2": ("t2", "secret_2", False),
    "sk_b": ("t3", "secret_b", False),
    "sk_s": ("t4", "secret_s", True),
}
MERCHANT = {"t1": "m1", "t2": "m1", "t3": "m2", "t4": "m1"}
SCHEDULE = [0, 5, 30]


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(json.dumps(data), status, headers, content_type="application/json")


def _error(status: int, code: str) -> Response:
    return _json({"error": {"code": code, "message": code}}, status)


class MiniApp:
    """The app's state and its WSGI callable."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.defects: set[str] = set()
        self.payments: dict[str, dict[str, Any]] = {}
        self.idem: dict[tuple[str, str], tuple[str, str]] = {}
        self.events: list[dict[str, Any]] = []
        self.outbox: list[dict[str, Any]] = []
        self.clock = 0.0
        self.subscribers: list[queue.Queue[dict[str, Any]]] = []

    # -- events and webhooks ------------------------------------------------------------
    def emit(self, kind: str, payment: dict[str, Any]) -> None:
        event = {"id": f"evt_{uuid.uuid4().hex[:12]}", "kind": kind, "payload": dict(payment)}
        self.events.append(event)
        for sub in list(self.subscribers):
            sub.put({"seq": len(self.events), **event})
        if payment.get("webhook_url"):
            self.outbox.append(
                {
                    "event": event,
                    "url": payment["webhook_url"],
                    "secret": payment["secret"],
                    "attempt": 0,
                    "due": self.clock,
                    "state": "pending",
                }
            )

    def dispatch(self) -> None:
        for item in self.outbox:
            if item["state"] != "pending" or item["due"] > self.clock:
                continue
            body = json.dumps(item["event"]).encode()
            headers = {
                "Content-Type": "application/json",
                "X-Freefin-Event-Id": item["event"]["id"],
                "X-Freefin-Event": item["event"]["kind"],
            }
            if "unsigned_webhooks" not in self.defects:
                headers["X-Freefin-Signature"] = (
                    "sha256=" + hmac.new(item["secret"].encode(), body, hashlib.sha256).hexdigest()
                )
            try:
                ok = requests.post(item["url"], data=body, headers=headers, timeout=0.5).ok
            except requests.RequestException:
                ok = False
            item["attempt"] += 1
            if ok:
                item["state"] = "delivered"
            elif item["attempt"] >= len(SCHEDULE) or "no_retry" in self.defects:
                item["state"] = "dead"
            else:
                item["due"] = self.clock + SCHEDULE[item["attempt"]]

    # -- WSGI ---------------------------------------------------------------------------
    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        with self.lock:
            response = self.route(request)
            self.dispatch()
        return response(environ, start_response)

    def route(self, req: Request) -> Response:
        path, method = req.path, req.method
        if path.startswith("/_sim/"):
            return self.control(req)
        if path == "/api/v1/public/events":
            return self.stream(req)
        key = req.headers.get("Authorization", "").removeprefix("Bearer ")
        if key not in KEYS:
            return _error(401, "unauthorized")
        terminal, secret, required = KEYS[key]
        raw = req.get_data()
        sig = req.headers.get("X-Freefin-Signature")
        if required and not sig and "no_signature_check" not in self.defects:
            return _error(400, "signature_required")
        if sig and "no_signature_check" not in self.defects:
            want = "sha256=" + hmac.new(secret.encode(), raw, hashlib.sha256).hexdigest()
            if not hmac.compare_digest(sig, want):
                return _error(400, "invalid_signature")
        if path == "/api/v1/public/banks/sbp":
            return _json({"items": []})
        if path == "/api/v1/public/payments" and method == "POST":
            return self.create(req, terminal, secret, raw)
        parts = path.removeprefix("/api/v1/public/payments/").split("/")
        payment = self.payments.get(parts[0])
        if payment is None or payment["merchant"] != MERCHANT[terminal]:
            return _error(404, "not_found")
        if len(parts) == 1:
            return _json(payment)
        if parts[1] == "refund":
            return self.refund(payment, json.loads(raw or b"{}"))
        return _error(404, "not_found")

    def create(self, req: Request, terminal: str, secret: str, raw: bytes) -> Response:
        body = json.loads(raw)
        ikey = req.headers.get("Idempotency-Key")
        if ikey and (terminal, ikey) in self.idem and "duplicate_replay" not in self.defects:
            pid, digest = self.idem[(terminal, ikey)]
            if digest != hashlib.sha256(raw).hexdigest():
                return _error(409, "idempotent_conflict")
            return _json({"payment": self.payments[pid], "idempotent": True}, 200)
        pid = str(uuid.uuid4())
        payment = {
            "id": pid,
            "amount": body["amount"],
            "amount_refunded": 0,
            "status": "pending",
            "refunds": [],
            "merchant": MERCHANT[terminal],
            "webhook_url": body.get("webhook_url"),
            "secret": secret,
        }
        self.payments[pid] = payment
        if ikey:
            self.idem[(terminal, ikey)] = (pid, hashlib.sha256(raw).hexdigest())
        self.emit("payment.created", payment)
        return _json({"payment": payment, "mode": "test"}, 201)

    def refund(self, payment: dict[str, Any], body: dict[str, Any]) -> Response:
        if payment["status"] not in ("succeeded", "refunded"):
            return _error(409, "not_succeeded")
        left = payment["amount"] - payment["amount_refunded"]
        amount = body.get("amount") or left
        if amount > left and "over_refund" not in self.defects:
            return _error(422, "amount_exceeds_remainder")
        refund = {"id": str(uuid.uuid4()), "amount": amount, "status": "succeeded"}
        payment["refunds"].append(refund)
        payment["amount_refunded"] += amount
        self.emit("payment.refunded", payment)
        return _json(refund, 201)

    def stream(self, req: Request) -> Response:
        after = int(req.headers.get("Last-Event-ID") or 0)
        if "sse_no_resume" in self.defects:
            after = 0
        sub: queue.Queue[dict[str, Any]] = queue.Queue()
        backlog = [{"seq": i + 1, **e} for i, e in enumerate(self.events)][after:] if after else []
        self.subscribers.append(sub)

        def gen() -> Iterator[bytes]:
            yield b": connected\n\n"
            for event in backlog:
                yield self._frame(event)
            try:
                while True:
                    try:
                        yield self._frame(sub.get(timeout=0.2))
                    except queue.Empty:
                        yield b": ping\n\n"
            finally:
                self.subscribers.remove(sub)

        return Response(gen(), 200, content_type="text/event-stream")

    @staticmethod
    def _frame(event: dict[str, Any]) -> bytes:
        data = json.dumps({k: v for k, v in event.items() if k != "seq"})
        return f"id: {event['seq']}\nevent: {event['kind']}\ndata: {data}\n\n".encode()

    def control(self, req: Request) -> Response:
        body = req.get_json(silent=True) or {}
        if req.path == "/_sim/clock/advance":
            # Step through every due retry, as the simulator does, before answering.
            target = self.clock + float(body["seconds"])
            while True:
                due = [
                    i["due"]
                    for i in self.outbox
                    if i["state"] == "pending" and self.clock < i["due"] <= target
                ]
                if not due:
                    break
                self.clock = min(due)
                self.dispatch()
            self.clock = target
            return _json({"offset": self.clock})
        if req.path == "/_sim/transition":
            payment = self.payments[body["id"]]
            payment["status"] = body["status"]
            self.emit("payment.status_changed", payment)
            self.emit(f"payment.{body['status']}", payment)
            return _json(payment)
        if req.path == "/_sim/outcomes":
            return _json({"queued": body})
        return _error(404, "not_found")


class Server:
    """The mini app on a free loopback port in a thread."""

    def __init__(self) -> None:
        self.app = MiniApp()
        self._server = make_server("127.0.0.1", 0, self.app, threaded=True)
        self.url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> Server:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
