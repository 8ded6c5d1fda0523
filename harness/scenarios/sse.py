"""A small Server-Sent Events client that reads a stream in a thread and keeps every event.

Standard framing: ``id:``, ``event:``, ``data:`` lines (several ``data:`` lines are joined with
newlines), a blank line ends an event, ``:`` lines are comments (``: ping``). ``Last-Event-ID``
resumes a stream. The reading thread is unblocked at close by shutting the socket down.
"""

from __future__ import annotations

import contextlib
import dataclasses
import http.client
import json
import socket
import threading
import time
import urllib.parse
from typing import Any


@dataclasses.dataclass
class Event:
    """One SSE event."""

    id: str | None
    kind: str
    data: str
    received_at: float

    @property
    def json(self) -> Any:
        try:
            return json.loads(self.data)
        except ValueError:
            return None


class SSEStream:
    """``SSEStream(url, headers).open()``; ``events()``; ``close()``."""

    def __init__(self, url: str, headers: dict[str, str], max_seconds: float = 60.0) -> None:
        self.url = url
        self.headers = {"Accept": "text/event-stream", **headers}
        self.max_seconds = max_seconds
        self.status: int | None = None
        self.error: str | None = None
        self.comments: list[str] = []
        self._events: list[Event] = []
        self._lock = threading.Lock()
        self._conn: http.client.HTTPConnection | None = None
        self._sock: socket.socket | None = None
        self._closing = False
        self._opened = threading.Event()
        self._thread: threading.Thread | None = None

    def open(self, timeout: float = 5.0) -> SSEStream:
        """Connect and start reading; returns once the response status is known."""
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        self._opened.wait(timeout)
        if self.status is None and self.error is None:
            self.error = f"no response within {timeout} s"
        return self

    def _run(self) -> None:
        parts = urllib.parse.urlsplit(self.url)
        cls = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        try:
            self._conn = cls(parts.netloc, timeout=self.max_seconds)
            self._conn.connect()
            # http.client hands the socket to the response and forgets it: keep it to close.
            self._sock = self._conn.sock
            self._conn.request(
                "GET", parts.path + (f"?{parts.query}" if parts.query else ""), headers=self.headers
            )
            resp = self._conn.getresponse()
            self.status = resp.status
            self._opened.set()
            if resp.status != 200:
                return
            self._read(resp)
        except Exception as exc:
            # Closing shuts the socket under the reader; what it raises then is expected.
            if not self._closing and self.error is None:
                self.error = f"{type(exc).__name__}: {exc}"
        finally:
            self._opened.set()
            if self._conn is not None:
                self._conn.close()

    def _read(self, resp: http.client.HTTPResponse) -> None:
        event_id: str | None = None
        kind = "message"
        data: list[str] = []
        while not self._closing:
            raw = resp.readline()
            if not raw:
                return
            line = raw.decode("utf-8", "replace").rstrip("\r\n")
            if not line:
                if data:
                    with self._lock:
                        self._events.append(
                            Event(event_id, kind, "\n".join(data), time.monotonic())
                        )
                kind, data = "message", []
                continue
            if line.startswith(":"):
                self.comments.append(line[1:].strip())
                continue
            field, _, value = line.partition(":")
            value = value.removeprefix(" ")
            if field == "id":
                event_id = value
            elif field == "event":
                kind = value
            elif field == "data":
                data.append(value)

    def events(self) -> list[Event]:
        """Events received so far, oldest first."""
        with self._lock:
            return list(self._events)

    def close(self) -> None:
        """Stop reading (idempotent)."""
        self._closing = True
        if self._sock is not None:
            with contextlib.suppress(OSError):
                self._sock.shutdown(socket.SHUT_RDWR)
        if self._thread:
            self._thread.join(2)
