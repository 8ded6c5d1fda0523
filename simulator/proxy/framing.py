"""What the proxy forwards of a message, and how: end-to-end headers only, one framing per side,
bodies streamed (the first ``JUDGED_BYTES`` held to be judged)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import requests
from flask import request

# Headers of one connection, not of the message (RFC 9110 section 7.6.1): never forwarded, either
# way, nor any header a Connection header names. Framing is the proxy's own on each side.
HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
    }
)
# What the client holds for this proxy or its browser, never the upstream's business; and what the
# upstream would set in the client's browser under the proxy's name.
NOT_UPSTREAM = frozenset({"x-control-token", "cookie"})
NOT_DOWNSTREAM = frozenset({"set-cookie", "set-cookie2"})
JUDGED_BYTES = 1024 * 1024  # a body longer than this passes through unjudged
CHUNK = 64 * 1024


class Sized:
    """A request body of known length read as it arrives (so it is not sent chunked): what was
    already read, then the rest of the stream, ``CHUNK`` at a time."""

    def __init__(self, first: bytes, stream: Any, length: int) -> None:
        self.first, self.stream, self.length = first, stream, length

    def __len__(self) -> int:
        return self.length

    def read(self, size: int = -1) -> bytes:
        if self.first:
            data, self.first = self.first, b""
            return data
        chunk: bytes = self.stream.read(CHUNK if size < 0 else min(size, CHUNK))
        return chunk


def rest(first: bytes, stream: Any) -> Iterator[bytes]:
    yield first
    while chunk := stream.read(CHUNK):
        yield chunk


def first_of_body() -> tuple[bytes, bool]:
    """Up to ``JUDGED_BYTES`` of the request body, and whether that is all of it. A longer body
    is left in the stream, to be sent on as it arrives, never held whole."""
    length = request.content_length
    if length is not None and length <= JUDGED_BYTES:
        return request.get_data(cache=True), True
    first = bytearray()
    while len(first) <= JUDGED_BYTES:
        chunk = request.stream.read(min(CHUNK, JUDGED_BYTES + 1 - len(first)))
        if not chunk:
            return bytes(first), True
        first += chunk
    return bytes(first), False


def forwarded(items: Any, private: frozenset[str]) -> dict[str, str]:
    """The end-to-end headers of ``items``: neither hop-by-hop, nor named in its Connection
    header, nor a Proxy-* one, nor ``private``."""
    pairs = list(items)
    named = {
        token.strip().lower()
        for name, value in pairs
        if name.lower() == "connection"
        for token in value.split(",")
    }
    return {
        name: value
        for name, value in pairs
        if (low := name.lower()) not in HOP_BY_HOP
        and low not in named
        and low not in private
        and not low.startswith("proxy-")
    }


def request_framing() -> str | None:
    """What makes the request's length ambiguous (RFC 9112 section 6.3), or None."""
    encoding = request.headers.get("Transfer-Encoding")
    lengths = request.headers.getlist("Content-Length")
    if encoding is not None and lengths:
        return "both Transfer-Encoding and Content-Length"
    return _lengths_problem(lengths)


def answer_framing(up: requests.Response) -> str | None:
    """What makes the upstream answer's length ambiguous, or None. requests joins repeated
    headers with commas."""
    length = up.headers.get("Content-Length")
    if length is None:
        return None
    if "Transfer-Encoding" in up.headers:
        return "both Transfer-Encoding and Content-Length"
    return _lengths_problem([length])


def _lengths_problem(lengths: list[str]) -> str | None:
    values = {v.strip() for value in lengths for v in value.split(",")}
    if not values:
        return None
    if len(values) > 1:
        return "several Content-Length values"
    if not next(iter(values)).isdigit():
        return "a Content-Length that is not a number"
    return None


# -- the command ----------------------------------------------------------------------------
