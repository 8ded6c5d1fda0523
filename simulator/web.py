"""Flask-side helpers both APIs share: reading JSON bodies and answering app-level errors."""

from __future__ import annotations

import ipaddress
import json
import math
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlsplit

from flask import Response, request

from simulator.core import codec
from simulator.core.api_rules import ApiRules
from simulator.core.errors import ApiError, BadRequest, RateLimited
from simulator.core.faults import Fault
from simulator.core.ratelimit import RateLimiter

Renderer = Callable[[ApiError], Response]

MAX_BODY_BYTES = 64 * 1024
MAX_DEPTH = 32  # deeper JSON is refused before anything walks it recursively


def _reject_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")


def _finite(text: str) -> float:
    value = float(text)
    if math.isinf(value):  # 1e400 parses to infinity, which JSON cannot carry back
        raise ValueError(f"{text} is out of range")
    return value


def _depth(value: Any) -> int:
    """How deeply ``value`` nests arrays and objects (iteratively: no recursion to exhaust)."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict):
            node = list(node.values())
        if isinstance(node, list):
            deepest = max(deepest, level)
            stack.extend((child, level + 1) for child in node)
    return deepest


# made once: ``json.loads`` with hooks builds a decoder (and its scanner) on every call
_DECODER = json.JSONDecoder(parse_constant=_reject_constant, parse_float=_finite)


def parse_json(raw: bytes) -> Any:
    """Strict JSON (RFC 8259): UTF-8, no NaN or Infinity, no lone surrogates, bounded nesting.

    Python's ``json`` accepts all of these, and each would fail later, where a 500 is the only
    answer left: at storage, at signing, in a recursive walk. Raises ``BadRequest``.
    """
    try:
        data = _DECODER.decode(raw.decode("utf-8"))
        if b"\\u" in raw:  # a \uD800 escape decodes to a string that cannot be encoded
            json.dumps(data, ensure_ascii=False).encode("utf-8")
    except UnicodeError as exc:
        raise BadRequest("malformed JSON: not UTF-8 text (or a lone surrogate escape)") from exc
    except ValueError as exc:  # JSONDecodeError, NaN, an integer of over 4,300 digits
        raise BadRequest(f"malformed JSON: {exc}") from exc
    except RecursionError:
        raise BadRequest(f"malformed JSON: nested deeper than {MAX_DEPTH} levels") from None
    if raw.count(b"[") + raw.count(b"{") > MAX_DEPTH and _depth(data) > MAX_DEPTH:
        raise BadRequest(f"malformed JSON: nested deeper than {MAX_DEPTH} levels")
    return data


def json_body(required: bool = True) -> dict[str, Any]:
    """The request's JSON object; 400 for malformed JSON, a non-object, or a missing body."""
    raw = request.get_data(cache=True)
    if not raw.strip():
        if required:
            raise BadRequest("a JSON request body is required")
        return {}
    mimetype = request.mimetype or ""
    if mimetype and mimetype != "application/json" and not mimetype.endswith("+json"):
        raise BadRequest(f"Content-Type must be application/json, not {mimetype}")
    data = parse_json(raw)
    if not isinstance(data, dict):
        raise BadRequest("the request body must be a JSON object")
    return data


def error_response(error: ApiError, body: dict[str, Any]) -> Response:
    """``body`` (an API's error envelope) as ``error``'s answer: its status and headers."""
    resp = Response(codec.dumpb(body), status=error.status, mimetype="application/json")
    for name, value in error.headers.items():
        resp.headers[name] = value
    return resp


def state_methods(resp: Response, rules: ApiRules) -> Response:
    """The Allow header of a 405 or an OPTIONS answer, as the rules in force write it."""
    allow = resp.headers.get("Allow")
    if allow is None:
        return resp
    if resp.status_code == 405:
        allow = rules.allow_of_405(allow)
    elif request.method == "OPTIONS":
        allow = rules.allow_of_options(allow)
    if allow is None:
        del resp.headers["Allow"]
    else:
        resp.headers["Allow"] = allow
    return resp


def credential_waived(rules: ApiRules) -> bool:
    """Whether this request may go without a credential (only ever by a defect)."""
    rule = request.url_rule
    return not rules.credential_required(request.method, rule.endpoint if rule else None)


def throttle(
    limiter: RateLimiter,
    rules: ApiRules,
    api: str,
    merchant_id: str,
    wait_detail: str | None = None,
) -> None:
    """The merchant's rate limit: 429 ``rate_limited`` with the rules' Retry-After, and the
    wait under ``wait_detail`` in the details."""
    wait = limiter.take(f"{api}:{merchant_id}")
    if not wait:
        return
    raise RateLimited(
        "rate limit of the merchant exceeded",
        code="rate_limited",
        headers=rules.retry_after(wait),
        details={wait_detail: wait} if wait_detail else None,
    )


class Envelopes:
    """Which API's error envelope answers a path (longest prefix wins)."""

    def __init__(self, fallback: Renderer) -> None:
        self._by_prefix: list[tuple[str, Renderer]] = []
        self.fallback = fallback

    def register(self, prefix: str, renderer: Renderer) -> None:
        self._by_prefix.append((prefix, renderer))
        self._by_prefix.sort(key=lambda item: -len(item[0]))

    def render(self, path: str, error: ApiError) -> Response:
        for prefix, renderer in self._by_prefix:
            if path == prefix or path.startswith(prefix.rstrip("/") + "/"):
                return renderer(error)
        return self.fallback(error)


def fault_answer(fault: Fault, render: Callable[[ApiError], Response]) -> Response:
    """An injected fault's answer: the connection dropped, or the error in the API's envelope
    (a 429 with its Retry-After, 1 s unless given; another status with one when given).

    A WSGI app has no socket to drop; it announces a body it never sends, and the server cuts
    the connection where the body should be: the client reads no answer (requests raises
    ``ChunkedEncodingError``, a ``RequestException``) and the connection is gone."""
    if fault.kind == "drop":
        return Response(
            DroppedBody(),
            status=502,
            headers={"Content-Length": "1", "Connection": "close"},
            direct_passthrough=True,
        )
    error = ApiError("injected fault", code="injected_fault", status=fault.status)
    if fault.retry_after is not None or fault.status == 429:
        error.headers["Retry-After"] = str(1 if fault.retry_after is None else fault.retry_after)
    return render(error)


class DroppedBody:
    """The body of a dropped answer: none of the byte its head announces."""

    def __iter__(self) -> DroppedBody:
        return self

    def __next__(self) -> bytes:
        raise StopIteration


SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class AllowedHosts:
    """The names a browser may reach the control API, the dashboard and the checkout page by:
    the listening address, ``localhost`` and the names given (``--allowed-host``; ``*`` for any).

    A page on a name that resolves to 127.0.0.1 (DNS rebinding) is same-origin with itself, so
    its requests carry its own name in ``Host``; answering only to known names stops it. An
    IP literal cannot be rebound: when listening on every address (0.0.0.0, ::), any is taken;
    with no listening address (the app in-process), the loopback ones are.
    """

    def __init__(self, listening: Iterable[tuple[str, int]], names: Iterable[str] = ()) -> None:
        self.names = {"localhost"} | {_name(n) for n in names}
        self.any_ip = False
        hosts = [str(host) for host, _ in listening] or ["127.0.0.1", "::1"]
        for host in hosts:
            self.names.add(_name(host))
            ip = _ip(host)
            self.any_ip |= ip is not None and ip.is_unspecified

    def allows(self, host: str) -> bool:
        """Whether a ``Host`` header (a name or IP, with or without its port) is one of them."""
        if "*" in self.names:
            return True
        try:
            name = urlsplit("//" + host).hostname
        except ValueError:
            return False
        if not name:
            return False
        name = _name(name)
        return name in self.names or (self.any_ip and _ip(name) is not None)


def _name(host: str) -> str:
    return host.strip("[]").rstrip(".").lower()


def _ip(host: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return None


def foreign_host(hosts: AllowedHosts) -> ApiError | None:
    """The error of a request whose ``Host`` is none of ``hosts``, or None."""
    if hosts.allows(request.host):
        return None
    return ApiError(
        f"this server does not answer to the name {request.host!r} here; "
        "start it with --allowed-host to add one",
        code="host_not_allowed",
        status=403,
    )


def cross_site(hosts: AllowedHosts) -> bool:
    """A change asked for by a page of another site. A browser says where a request comes from
    (``Sec-Fetch-Site``, ``Origin``); without this, any web page the user has open could reset
    or reconfigure a simulator on their machine. Tools (curl, the harness) send neither. An
    ``Origin`` counts as this site only if it is the request's own origin and its name is one
    of ``hosts``."""
    if request.method in SAFE_METHODS:
        return False
    if request.headers.get("Sec-Fetch-Site", "same-origin") not in ("same-origin", "none"):
        return True
    origin = request.headers.get("Origin")
    if origin is None:
        return False
    if origin.rstrip("/") != request.host_url.rstrip("/"):
        return True
    return not hosts.allows(urlsplit(origin).netloc)
