"""A session written as HAR 1.2 (``paysim proxy --record FILE``): one entry per exchange, in the
order the requests came (``_seq``), with timings; credentials (and a body's ``secret``) masked as
the client report masks them; an event stream's answer kept as its events.

The file is a valid HAR document after every entry: each entry is written over the closing
brackets, which are written again after it, so a proxy stopped at any moment leaves a file that
any HAR reader opens.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import orjson

from simulator.core.client_log import masked

VERSION = "1.2"
MASKED_HEADERS = frozenset(
    {"authorization", "x-api-key", "x-control-token", "cookie", "set-cookie"}
)
SECRET_FIELD = "secret"  # Kaspi shows a webhook endpoint's signing secret once, in its answer
TEXT_KEPT = 1024 * 1024  # an answer longer than this is recorded by its size alone
_HEAD = b'{"log":{"version":"1.2","creator":{"name":"paysim proxy","version":"1"},"entries":['
_TAIL = b"\n]}}\n"


def iso(at: float) -> str:
    """An ISO 8601 instant with milliseconds, in UTC."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(at)) + f".{int(at * 1000) % 1000:03d}Z"


def headers_of(pairs: Any) -> list[dict[str, str]]:
    """HAR name/value pairs; a credential as ``masked`` says it (its scheme kept)."""
    out = []
    for name, value in pairs:
        if name.lower() in MASKED_HEADERS:
            scheme = "Bearer " if value.startswith("Bearer ") else ""
            value = scheme + masked(value)
        out.append({"name": name, "value": value})
    return out


def without_secrets(body: bytes) -> bytes:
    """A JSON body with each ``secret`` field masked as a credential is (other bodies as they
    are; only a body that names the field is parsed)."""
    if f'"{SECRET_FIELD}"'.encode() not in body:
        return body
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: masked(v) if k == SECRET_FIELD and isinstance(v, str) else walk(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return orjson.dumps(walk(doc))


def events_of(text: str) -> list[dict[str, str]]:
    """The events of an event stream's text (comments and heartbeats left out)."""
    events = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        event: dict[str, str] = {}
        for line in block.split("\n"):
            field, _, value = line.partition(":")
            if field in ("id", "event", "data", "retry"):
                value = value.removeprefix(" ")
                event[field] = event[field] + "\n" + value if field in event else value
        if "data" in event or "event" in event:
            events.append(event)
    return events


def entry(
    *,
    seq: int,
    started: float,
    method: str,
    url: str,
    query: list[tuple[str, str]],
    request_headers: Any,
    request_body: bytes | None,
    status: int,
    response_headers: Any,
    response_body: bytes | None,
    wait_s: float,
    receive_s: float,
    stream: bool = False,
    by_proxy: bool = False,
) -> dict[str, Any]:
    """One HAR entry. ``response_body`` None: not recorded (too long, encoded, or dropped);
    ``by_proxy``: the answer is the proxy's own (a fault, an unreachable upstream), not the
    server's (``_answeredBy: proxy``)."""
    req_headers = headers_of(request_headers)
    res_headers = headers_of(response_headers)
    mime = next((h["value"] for h in res_headers if h["name"].lower() == "content-type"), "")
    content: dict[str, Any] = {"size": len(response_body or b""), "mimeType": mime}
    if response_body is not None and len(response_body) <= TEXT_KEPT:
        content["text"] = without_secrets(response_body).decode("utf-8", "replace")
        if stream:
            content["_events"] = events_of(content["text"])
    request: dict[str, Any] = {
        "method": method,
        "url": url,
        "httpVersion": "HTTP/1.1",
        "cookies": [],
        "headers": req_headers,
        "queryString": [{"name": k, "value": v} for k, v in query],
        "headersSize": -1,
        "bodySize": len(request_body) if request_body is not None else -1,
    }
    if request_body:
        kind = next(
            (h["value"] for h in req_headers if h["name"].lower() == "content-type"),
            "application/octet-stream",
        )
        text = without_secrets(request_body).decode("utf-8", "replace")
        request["postData"] = {"mimeType": kind, "text": text}
    wait_ms, receive_ms = round(wait_s * 1000, 3), round(receive_s * 1000, 3)
    return {
        "_seq": seq,
        "startedDateTime": iso(started),
        "time": round(wait_ms + receive_ms, 3),
        "request": request,
        "response": {
            "status": status,
            "statusText": "",
            "httpVersion": "HTTP/1.1",
            "cookies": [],
            "headers": res_headers,
            "content": content,
            "redirectURL": "",
            "headersSize": -1,
            "bodySize": len(response_body) if response_body is not None else -1,
        },
        "cache": {},
        "timings": {"send": 0, "wait": wait_ms, "receive": receive_ms},
        **({"_answeredBy": "proxy"} if by_proxy else {}),
    }


class Recorder:
    """A HAR file that exchanges are appended to, from any thread."""

    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self._count = 0
        self._file = Path(path).open("wb")  # noqa: SIM115 - open as long as the proxy
        self._file.write(_HEAD + _TAIL)
        self._file.flush()

    def next_seq(self) -> int:
        """The number of a request that has just come: the order entries are replayed in."""
        with self._lock:
            self._seq += 1
            return self._seq

    def write(self, item: dict[str, Any]) -> None:
        data = orjson.dumps(item)
        with self._lock:
            self._file.seek(-len(_TAIL), 2)
            self._file.write((b",\n" if self._count else b"\n") + data + _TAIL)
            self._file.flush()
            self._count += 1

    def close(self) -> None:
        with self._lock:
            self._file.close()
