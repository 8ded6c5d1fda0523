"""A forwarded event stream: its upstream's body read in waits of ``LIVENESS_S``, so that a
stream whose client has gone gives back its place and its thread within about a second even
while the upstream writes nothing (the places are ``core.events.StreamPlaces``, as the
simulator's)."""

from __future__ import annotations

import logging
import ssl
from collections.abc import Iterator
from typing import Any

import requests

from simulator.proxy.framing import CHUNK

log = logging.getLogger("paysim.proxy")

LIVENESS_S = 1.0  # how often a quiet stream asks the server whether its client is still there
RETRY_S = 5  # the Retry-After of a stream refused a place
OWNER = "proxy"  # one owner: the places are the proxy's, whoever's the streams
MAX_LINE = 4096  # bytes of a chunk-size line or a trailer field


def quiet_body(up: requests.Response) -> Iterator[bytes]:
    """The body of ``up`` (its head read, nothing of its body) as it arrives: de-chunked, its
    content left as sent; and an empty chunk after each ``LIVENESS_S`` that brought nothing,
    which the server writes as nothing and which lets it see that the client has gone. The
    socket is read directly: a timed-out read of http.client's file cannot go on."""
    try:
        yield from _read(up)
    except ValueError as exc:  # what the upstream sends cannot be read on: the stream ends
        log.warning("an event stream's upstream framing: %s", exc)


def _read(up: requests.Response) -> Iterator[bytes]:
    response: Any = up.raw._fp  # http.client's answer: its head parsed, its body unread
    if response.fp is None:  # http.client found no body
        return
    # the socket under its file (its connection lets go of it when the answer closes it)
    sock = response.fp.raw._sock
    body: _Chunked | _Plain = _Chunked() if response.chunked else _Plain(response.length)
    sock.settimeout(0.0)  # what http.client buffered with the head, and what is at hand
    while not body.done and (data := _at_hand(response.fp)):
        if out := body.feed(data):
            yield out
    sock.settimeout(LIVENESS_S)
    while not body.done:
        try:
            data = sock.recv(CHUNK)
        except TimeoutError:
            yield b""
            continue
        if not data:
            return
        if out := body.feed(data):
            yield out


def _at_hand(fp: Any) -> bytes:
    """What ``fp`` (over a socket that does not block) has buffered or can read now."""
    try:
        data: bytes = fp.read1(CHUNK)
    except ssl.SSLWantReadError:  # TLS says "nothing now" so
        return b""
    return data


class _Plain:
    """A body by its length, or until the connection closes."""

    def __init__(self, length: int | None) -> None:
        self.left, self.done = length, length == 0

    def feed(self, data: bytes) -> bytes:
        if self.left is None:
            return data
        data = data[: self.left]
        self.left -= len(data)
        self.done = self.left == 0
        return data


class _Chunked:
    """A chunked body's data, from its framing fed in pieces as they come (RFC 9112 section 7.1);
    framing it cannot read raises ValueError, and the stream ends."""

    def __init__(self) -> None:
        self.pending = bytearray()
        self.left = 0  # bytes of the current chunk still to come
        self.crlf = False  # the line ending a chunk's data is next
        self.trailer = False  # the last chunk came: trailer fields, then an empty line
        self.done = False

    def feed(self, data: bytes) -> bytes:
        self.pending += data
        out = bytearray()
        while not self.done:
            if self.left:
                taken = self.pending[: self.left]
                out += taken
                del self.pending[: len(taken)]
                self.left -= len(taken)
                if self.left:
                    break
                self.crlf = True
                continue
            end = self.pending.find(b"\n")
            if end < 0:
                if len(self.pending) > MAX_LINE:
                    raise ValueError("a chunk-size line past its limit")
                break
            line = bytes(self.pending[:end]).strip()
            del self.pending[: end + 1]
            if self.crlf:
                if line:
                    raise ValueError("a chunk's data longer than its size")
                self.crlf = False
            elif self.trailer:
                self.done = not line
            else:
                self.left = _size(line)
                self.trailer = self.left == 0
        return bytes(out)


def _size(line: bytes) -> int:
    digits = line.split(b";")[0].strip()
    if not digits or digits.strip(b"0123456789abcdefABCDEF"):
        raise ValueError(f"not a chunk size: {line[:40]!r}")
    return int(digits, 16)
