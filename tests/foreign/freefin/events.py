"""SSE event fan-out of the foreign freefin server: a per-merchant log and live subscribers."""

from __future__ import annotations

import json
import queue
import threading
from collections import deque
from dataclasses import dataclass
from typing import Any

BACKLOG = 1000


@dataclass(frozen=True)
class Event:
    """One published event: global id, kind and the JSON ``data`` line."""

    id: int
    kind: str
    data: str

    def frame(self) -> bytes:
        """Return the event as an SSE frame."""
        return f"id: {self.id}\nevent: {self.kind}\ndata: {self.data}\n\n".encode()


class EventBus:
    """Publishes merchant events to a bounded log and to every live subscriber queue."""

    def __init__(self, backlog: int = BACKLOG) -> None:
        self._lock = threading.Lock()
        self._next_id = 1
        self._backlog = backlog
        self._log: dict[str, deque[Event]] = {}
        self._subscribers: dict[str, set[queue.Queue[Event | None]]] = {}
        self._closed = False

    def publish(self, merchant_id: str, kind: str, payload: dict[str, Any]) -> None:
        """Record an event of ``merchant_id`` and hand it to the merchant's subscribers."""
        data = json.dumps({"kind": kind, "payload": payload}, separators=(",", ":"))
        with self._lock:
            event = Event(self._next_id, kind, data)
            self._next_id += 1
            log = self._log.setdefault(merchant_id, deque(maxlen=self._backlog))
            log.append(event)
            for subscriber in self._subscribers.get(merchant_id, ()):
                subscriber.put(event)

    def subscribe(
        self, merchant_id: str, last_event_id: int | None
    ) -> tuple[queue.Queue[Event | None], list[Event]]:
        """Register a subscriber; return its queue and the logged events after ``last_event_id``."""
        subscriber: queue.Queue[Event | None] = queue.Queue()
        with self._lock:
            if self._closed:
                subscriber.put(None)
            self._subscribers.setdefault(merchant_id, set()).add(subscriber)
            if last_event_id is None:
                return subscriber, []
            log = self._log.get(merchant_id, ())
            return subscriber, [event for event in log if event.id > last_event_id]

    def unsubscribe(self, merchant_id: str, subscriber: queue.Queue[Event | None]) -> None:
        """Forget a subscriber queue."""
        with self._lock:
            self._subscribers.get(merchant_id, set()).discard(subscriber)

    def close(self) -> None:
        """Wake every subscriber with the end-of-stream marker ``None``."""
        with self._lock:
            self._closed = True
            for subscribers in self._subscribers.values():
                for subscriber in subscribers:
                    subscriber.put(None)
