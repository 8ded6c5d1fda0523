"""A session written as HAR 1.2 (``paysim proxy --record FILE``; a merchant's session exported
from the dashboard, out of the client log): one entry per exchange, in the order the requests
came (``_seq``), with timings; credentials (and a body's ``secret``) masked as the client report
masks them; an event stream's answer kept as its events.

The proxy's file is a valid HAR document after every entry: each entry is written over the
closing brackets, which are written again after it, so a proxy stopped at any moment leaves a
file that any HAR reader opens. What the client log did not keep of an exchange (a body past its
cap, an event stream's events, the answer's other headers) the exported entry says in its
``comment``, and a cut body is marked ``_truncated``.
"""

from __future__ import annotations

import hashlib
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import orjson

from simulator.grading import client_log
from simulator.grading.client_log import masked, without_secrets

VERSION = "1.2"
MASKED_HEADERS = frozenset(
    {"authorization", "x-api-key", "x-control-token", "cookie", "set-cookie"}
)
TEXT_KEPT = 1024 * 1024  # an answer longer than this is recorded by its size alone
_TAIL = b"\n]}}\n"
STREAM_UNKEPT = "an event stream: the client log keeps none of its events"
FROM_LOG = (
    "exported from the simulator's client log: of each answer only its Content-Type is kept of "
    "its headers; what else an entry lacks its comment says"
)


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


def _head(creator: str, comment: str = "") -> bytes:
    said = {"comment": comment} if comment else {}
    log = {"version": VERSION, "creator": {"name": creator, "version": "1"}, **said}
    return orjson.dumps({"log": log})[:-2] + b',"entries":['


def document(entries: list[dict[str, Any]], creator: str, comment: str = "") -> bytes:
    """A whole HAR document of ``entries``: the same head and tail as the proxy's file."""
    return _head(creator, comment) + b",\n".join(orjson.dumps(e) for e in entries) + _TAIL


def from_log(
    logged: client_log.Entry, answer: client_log.Answered, base_url: str
) -> dict[str, Any]:
    """A request of the client log and its answer as a HAR entry (the credential as the log
    names it: masked). An answer a fault made in the API's place is ``_answeredBy: fault``."""
    credential = "Bearer " + logged.client if logged.api == "freefin" else logged.client
    name = "Authorization" if logged.api == "freefin" else "X-API-Key"
    took = answer.took or 0.0
    body = logged.body.encode()
    stream = answer.content_type.startswith("text/event-stream")
    item = entry(
        seq=logged.seq,
        started=logged.at - took,
        method=logged.method,
        url=base_url + logged.url,
        query=parse_qsl(urlsplit(logged.url).query, keep_blank_values=True),
        request_headers=list(logged.headers.items()),
        request_body=body or None,
        status=logged.status,
        response_headers=[("Content-Type", answer.content_type)] if answer.content_type else [],
        response_body=None if answer.text is None else answer.text.encode(),
        wait_s=took,
        receive_s=0.0,
        stream=stream,
    )
    item["request"]["headers"].append({"name": name, "value": credential})
    unkept = []
    if body and hashlib.sha256(body).hexdigest() != logged.body_hash:
        item["request"]["postData"]["_truncated"] = True
        unkept.append(f"the request body past its first {client_log.BODY_KEPT} bytes")
    content, response = item["response"]["content"], item["response"]
    if answer.size is not None:
        content["size"] = response["bodySize"] = answer.size
    if answer.cut:
        content["_truncated"] = True
        unkept.append(f"the answer past its first {client_log.ANSWER_KEPT} bytes")
    elif answer.text is None:
        unkept.append(STREAM_UNKEPT if stream else "the answer's body")
    if answer.fault:
        item["_answeredBy"] = "fault"
    if unkept:
        item["comment"] = "not kept: " + "; ".join(unkept)
    return item


class Recorder:
    """A HAR file that exchanges are appended to, from any thread."""

    def __init__(self, path: str | Path) -> None:
        self._lock = threading.Lock()
        self._seq = 0
        self._count = 0
        self._file = Path(path).open("wb")  # noqa: SIM115 - open as long as the proxy
        self._file.write(_head("paysim proxy") + _TAIL)
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
