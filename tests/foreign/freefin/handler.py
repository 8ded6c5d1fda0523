"""HTTP plumbing of the foreign freefin server: body reading, JSON answers, auth, routing."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import traceback
from http.server import BaseHTTPRequestHandler
from typing import TYPE_CHECKING, Any

from .directory import TERMINALS, Terminal
from .errors import ApiError, bad_request

if TYPE_CHECKING:
    from .server import FreefinServer

MAX_BODY = 64 * 1024
SIGNATURE_RE = re.compile(r"sha256=[a-f0-9]{64}")
ERROR_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "timeout",
    414: "uri_too_long",
    431: "headers_too_large",
    501: "not_implemented",
    505: "http_version_not_supported",
}


class BaseHandler(BaseHTTPRequestHandler):
    """Request plumbing shared by every route; ``route`` is supplied by the subclass."""

    protocol_version = "HTTP/1.1"
    server_version = "freefin-foreign/1.0"
    timeout = 60
    server: FreefinServer
    raw: bytes = b""

    def log_message(self, format: str, *args: Any) -> None:
        """Stay quiet (the CLI prints only its READY line)."""

    def setup(self) -> None:
        """Track the connection so that shutdown can close it."""
        super().setup()
        self.server.track(self.connection, True)

    def finish(self) -> None:
        """Untrack the connection."""
        try:
            super().finish()
        finally:
            self.server.track(self.connection, False)

    # -- answers ---------------------------------------------------------------------------

    def send_json(
        self,
        status: int,
        body: Any,
        headers: dict[str, str] | None = None,
        close: bool = False,
    ) -> None:
        """Write a JSON answer (no body on HEAD)."""
        data = json.dumps(body).encode()
        if self.request_version == "HTTP/0.9":  # a garbage request line: still send a status line
            self.request_version = "HTTP/1.0"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if close:
            self.send_header("Connection", "close")
            self.close_connection = True
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(data)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Answer protocol errors of the base class with the JSON envelope too."""
        error = ApiError(code, ERROR_CODES.get(code, f"http_{code}"), message or "bad request")
        self.send_json(code, error.body(), close=True)

    def send_crash(self) -> None:
        """Answer 500 with a plain-text traceback (the ``crash_on_odd_input`` bug)."""
        data = traceback.format_exc().encode()
        self.send_response(500)
        self.send_header("Content-Type", "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    # -- dispatch --------------------------------------------------------------------------

    def do_GET(self) -> None:
        """Dispatch a GET."""
        self.dispatch()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = do_HEAD = do_GET

    def dispatch(self) -> None:
        """Read the body, route the request and turn every failure into a JSON answer."""
        after = None
        try:
            self.raw = self.read_body()
            status, body, headers, after = self.route(self.command, self.path.split("?")[0])
            if status:
                self.send_json(status, body, headers)
        except ApiError as error:
            self.send_json(error.status, error.body(), error.headers, error.close)
        except OSError:
            self.close_connection = True
        except Exception:
            if "crash_on_odd_input" in self.server.bugs:
                self.send_crash()
            else:
                self.send_json(500, {"error": {"code": "internal", "message": "internal error"}})
        if after is not None:
            after()

    def route(self, method: str, path: str) -> tuple[int, Any, dict[str, str] | None, Any]:
        """Answer a request: (status, body, headers, after-response callback); 0 = answered."""
        raise NotImplementedError

    def read_body(self) -> bytes:
        """Read the Content-Length body (at most 64 KiB); no chunked bodies."""
        if self.headers.get("Transfer-Encoding"):
            raise ApiError(400, "bad_request", "chunked bodies are not supported", close=True)
        length = self.headers.get("Content-Length")
        if length is None:
            return b""
        if not re.fullmatch(r"[0-9]{1,20}", length.strip()):
            raise ApiError(400, "bad_request", "invalid Content-Length", close=True)
        size = int(length.strip())
        if size > MAX_BODY:
            raise ApiError(413, "payload_too_large", "body over 64 KiB", close=True)
        data = self.rfile.read(size)
        if len(data) != size:
            raise ApiError(400, "bad_request", "truncated body", close=True)
        return data

    def json_body(self, required: bool) -> Any:
        """Parse the body as JSON; an empty body is None (400 when ``required``)."""
        if not self.raw.strip():
            if required:
                raise bad_request("a JSON request body is required")
            return None
        ctype = self.headers.get("Content-Type", "application/json").split(";")[0].strip().lower()
        if ctype != "application/json" and not ctype.endswith("+json"):
            raise bad_request("Content-Type must be application/json")
        try:
            return json.loads(self.raw.decode("utf-8"), parse_constant=_reject_constant)
        except (ValueError, RecursionError) as exc:
            raise bad_request("the body is not valid UTF-8 JSON") from exc

    # -- auth, limits, signatures ----------------------------------------------------------

    def authenticate(self) -> Terminal:
        """Return the terminal of the Bearer key; 401 or 403 otherwise."""
        scheme, _, token = (self.headers.get("Authorization") or "").strip().partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise ApiError(401, "unauthorized", "missing or malformed Bearer key")
        if token.startswith("sk_live_"):
            raise ApiError(403, "live_not_enabled", "live mode is not enabled for this terminal")
        terminal = TERMINALS.get(token)
        if terminal is None:
            raise ApiError(401, "unauthorized", "unknown API key")
        return terminal

    def rate_limit(self, terminal: Terminal) -> None:
        """Spend a token of the merchant; 429 ``rate_limited`` when none is left."""
        merchant = terminal.merchant
        if not self.server.limiter.allow(merchant.id, merchant.rate, merchant.burst):
            headers = {} if "no_retry_after" in self.server.bugs else {"Retry-After": "1"}
            raise ApiError(429, "rate_limited", "too many requests", headers=headers)

    def check_signature(self, terminal: Terminal) -> None:
        """Verify X-Freefin-Signature when sent; require it on POST for signing terminals."""
        if "signature_unchecked" in self.server.bugs:
            return
        signature = self.headers.get("X-Freefin-Signature")
        if signature is None:
            if terminal.requires_signature and self.command == "POST":
                raise ApiError(400, "signature_required", "X-Freefin-Signature is required")
            return
        secret = terminal.signing_secret.encode()
        expected = "sha256=" + hmac.new(secret, self.raw, hashlib.sha256).hexdigest()
        valid = SIGNATURE_RE.fullmatch(signature.strip())
        if not valid or not hmac.compare_digest(signature.strip(), expected):
            raise ApiError(400, "invalid_signature", "X-Freefin-Signature does not match")

    def idempotency_key(self) -> str | None:
        """Return the Idempotency-Key header (None if absent or empty); 400 if over 64 chars."""
        key = self.headers.get("Idempotency-Key")
        if not key:
            return None
        if len(key) > 64 and "key_length_unchecked" not in self.server.bugs:
            raise bad_request("Idempotency-Key must be at most 64 characters")
        return key


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def fingerprint(body: Any) -> str:
    """Return a canonical form of a JSON body, compared between idempotent requests."""
    return json.dumps({} if body is None else body, sort_keys=True, separators=(",", ":"))
