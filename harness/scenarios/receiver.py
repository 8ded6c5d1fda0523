"""The webhook receiver: a real HTTP server (127.0.0.1, a free port, unless told where to
listen) that records every delivery.

Each scenario gets its own path (``/hooks/<token>``) so deliveries of one scenario never mix
with late retries of another. Every delivery's signature is checked with the configured secret
(and, to prove the check means something, with another one). The receiver can be told to answer
an error status, or to hold the connection past the sender's timeout, for the next N deliveries
to a path, so the retry schedule and dead-lettering can be observed.
"""

from __future__ import annotations

import dataclasses
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from harness.apis import FACTS
from harness.scenarios.expect import check_body
from harness.signing import PREFIX, verify
from harness.target import DEFAULT_LISTEN, parse_listen

# (header, prefix) of the signature schemes known without a target profile: the supplements'.
SIGNATURES = tuple((facts.webhook_signature_header, PREFIX) for facts in FACTS.values())
EVENT_ID_HEADERS = (*(facts.webhook_event_id_header for facts in FACTS.values()), "X-Event-Id")
OTHER_SECRET = "not-the-configured-secret"


@dataclasses.dataclass
class Delivery:
    """One HTTP request the receiver got, and how it answered."""

    path: str
    headers: dict[str, str]
    body: bytes
    received_at: float
    answered: int | str
    signature_valid: bool
    valid_with_other_secret: bool
    signature: str | None = None
    header_event_id: str | None = None

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.body)
        except ValueError:
            return None

    @property
    def event_id(self) -> str | None:
        """The event's id: its header, else the body's ``id``."""
        if self.header_event_id:
            return self.header_event_id
        body = self.json
        return str(body["id"]) if isinstance(body, dict) and "id" in body else None


@dataclasses.dataclass
class _FailRule:
    remaining: int
    mode: str  # "status" | "timeout"
    status: int
    hold: float
    match: dict[str, Any] | None = None


def _matches(body: bytes, match: dict[str, Any] | None) -> bool:
    if not match:
        return True
    try:
        parsed = json.loads(body)
    except ValueError:
        return False
    return not check_body(parsed, match)


class WebhookReceiver:
    """``with WebhookReceiver(secret) as rx: url = rx.url_for(token)``."""

    def __init__(
        self, secret: str = "", public_url: str | None = None, listen: str = DEFAULT_LISTEN
    ) -> None:
        self.secret = secret
        self.listen = parse_listen(listen)
        self._public_url = public_url.rstrip("/") if public_url else None
        self._lock = threading.Lock()
        self._deliveries: list[Delivery] = []
        self._rules: dict[str, _FailRule] = {}
        self._secrets: dict[str, str] = {}
        self.shared: dict[str, dict[str, Any]] = {}  # endpoints kept for the whole session
        self._released = threading.Event()
        self._busy = 0  # requests being answered normally (held ones are not counted)
        self._last_done = 0.0
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.signatures: list[tuple[str, str]] = list(SIGNATURES)
        self.event_id_headers: list[str] = list(EVENT_ID_HEADERS)

    def use_signature(self, header: str, prefix: str = PREFIX) -> None:
        """Also look for a signature in ``header`` (hex HMAC-SHA256 of the body after
        ``prefix``): a target profile's scheme, tried before the supplements'."""
        self.signatures.insert(0, (header, prefix))

    def use_event_id_header(self, header: str) -> None:
        """Also read event ids from ``header``."""
        self.event_id_headers.insert(0, header)

    # -- server -------------------------------------------------------------------------
    def start(self) -> WebhookReceiver:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                receiver._handle(self)

            do_PUT = do_POST

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(self.listen, Handler)
        self._server.daemon_threads = True
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        self._released.set()
        if self._server:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> WebhookReceiver:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def local_url(self) -> str:
        assert self._server, "receiver not started"
        host = self.listen[0]
        if host == "0.0.0.0":  # every interface: loopback is one of them
            host = "127.0.0.1"
        return f"http://{host}:{self._server.server_address[1]}"

    @property
    def base_url(self) -> str:
        """Where the target reaches the receiver (the public URL when configured)."""
        return self._public_url or self.local_url

    @property
    def stable(self) -> bool:
        """The same address run after run (a public URL, or a fixed port), so an endpoint
        made for it in one run still reaches it in the next."""
        return bool(self._public_url) or self.listen[1] != 0

    def url_for(self, token: str) -> str:
        return f"{self.base_url}/hooks/{token}"

    @staticmethod
    def new_token() -> str:
        return uuid.uuid4().hex[:16]

    # -- behaviour ----------------------------------------------------------------------
    def fail_next(
        self,
        token: str,
        count: int,
        mode: str = "status",
        status: int = 500,
        hold: float = 6.0,
        match: dict[str, Any] | None = None,
    ) -> None:
        """Answer ``status`` (or hold for ``hold`` s) to the next ``count`` deliveries
        (only those whose JSON body matches ``match``, path -> value, when given)."""
        with self._lock:
            self._rules[token] = _FailRule(count, mode, status, hold, match)

    def set_secret(self, token: str, secret: str) -> None:
        """Verify deliveries to this path with ``secret`` (an endpoint's own secret)."""
        with self._lock:
            self._secrets[token] = secret

    def forget(self, token: str) -> None:
        """Drop a scenario's deliveries and rules (the cheap per-scenario clear)."""
        with self._lock:
            self._rules.pop(token, None)
            prefix = f"/hooks/{token}"
            self._deliveries = [d for d in self._deliveries if not d.path.startswith(prefix)]

    def deliveries(self, token: str | None = None) -> list[Delivery]:
        """Deliveries so far (to one scenario's path when ``token`` is given), oldest first."""
        with self._lock:
            found = list(self._deliveries)
        if token is None:
            return found
        return [d for d in found if d.path.split("?")[0] == f"/hooks/{token}"]

    def quiesce(self, grace: float = 0.1, timeout: float = 2.0) -> None:
        """Wait until no delivery is being answered and the last answer is ``grace`` s old.

        A sender records an attempt (and schedules its retry from that moment) just after our
        answer; moving the simulated clock before that would shift the schedule under the test.
        """
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self._lock:
                busy, idle = self._busy, time.monotonic() - self._last_done
            if not busy and idle >= grace:
                return
            time.sleep(max(0.01, grace - idle) if not busy else 0.01)

    def _handle(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        token = handler.path.split("?")[0].removeprefix("/hooks/")
        with self._lock:
            rule = self._rules.get(token)
            answer: int | str = 200
            hold = 0.0
            if rule and rule.remaining > 0 and _matches(body, rule.match):
                rule.remaining -= 1
                answer = rule.status if rule.mode == "status" else "timeout"
                hold = rule.hold
            held = answer == "timeout"
            if not held:
                self._busy += 1
            headers = dict(handler.headers.items())
            lower = {k.lower(): v for k, v in headers.items()}
            scheme = next(
                ((lower[h.lower()], p) for h, p in self.signatures if h.lower() in lower),
                (None, PREFIX),
            )
            sig, prefix = scheme
            secret = self._secrets.get(token, self.secret)
            self._deliveries.append(
                Delivery(
                    path=handler.path,
                    headers=headers,
                    body=body,
                    received_at=time.monotonic(),
                    answered=answer,
                    signature_valid=verify(body, sig, secret, prefix),
                    valid_with_other_secret=verify(body, sig, OTHER_SECRET, prefix),
                    signature=sig,
                    header_event_id=next(
                        (lower[h.lower()] for h in self.event_id_headers if h.lower() in lower),
                        None,
                    ),
                )
            )
        if held:
            # Bounded: released at close, never longer than ``hold`` seconds.
            self._released.wait(hold)
        status = 200 if held else int(answer)
        payload = b'{"ok": true}' if status == 200 else b'{"error": "receiver told to fail"}'
        try:
            handler.send_response(status)
            handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            handler.wfile.write(payload)
            handler.wfile.flush()
        except OSError:
            pass  # the sender gave up (timed out): that is the point of the timeout mode
        finally:
            if not held:
                with self._lock:
                    self._busy -= 1
                    self._last_done = time.monotonic()
