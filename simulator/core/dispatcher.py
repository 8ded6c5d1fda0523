"""The webhook sender: leases due deliveries from the outbox (``webhooks``), POSTs them from a
small thread pool, and records each attempt (delivered, retrying on the simulated clock, or
dead), handing a dead sender's leases to another process."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import requests

from simulator.core.clock import Clock, iso
from simulator.core.defects import Defects
from simulator.core.destinations import Refused
from simulator.core.store import Store, Tx
from simulator.core.webhooks import DeliveryRules, WebhookConfig, receiver_wait

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Attempt:
    """One attempt made, to be recorded."""

    delivery_id: str
    attempt: int  # 1-based
    code: int | None
    error: str | None
    latency_ms: float
    final: bool = False  # dead whatever it was answered (a destination refused)
    retry_after: float | None = None  # what the receiver asked to wait


LEASE_MARGIN_S = 10.0  # a lease outlasts the attempt's timeout by this much
RECOVER_EVERY_S = 5.0  # how often a process looks for deliveries whose sender died


def _gone(owner: str, boot: str, starting: bool) -> bool:
    """Whether the process that holds a lease no longer runs: of this start, its pid is gone
    from this machine; of another start, it is gone when this one starts (the start replaced
    it; a simulator elsewhere on the same database sends such a delivery twice at most)."""
    owner_boot, _, pid = owner.partition(":")
    if owner_boot != boot:
        return starting
    if not pid.isdigit() or int(pid) == os.getpid():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False


class Dispatcher:
    """Sends due deliveries from a small thread pool, so a slow receiver blocks no other.

    It leases no more deliveries than its threads can start on soon (``slots``): a backlog
    waits in the store, where any process may take it and retention may give it up, not in the
    pool's queue, where its leases would run out and it would be sent twice. Each thread keeps
    its connections to receivers open between deliveries, and the attempts made while one is
    being recorded are recorded together after it, in one transaction."""

    def __init__(self, store: Store, clock: Clock, config: WebhookConfig, workers: int = 8):
        self.store = store
        self.clock = clock
        self.config = config
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="webhook")
        # deliveries leased and not yet recorded, at most: enough that, under load, the threads
        # send on while a batch waits for the write lock to be recorded
        self.slots = 8 * workers
        self._leased = 0
        self._more = False  # the last lease filled every free slot: more may be due
        self._lock = threading.Lock()
        self._taking = threading.Lock()  # one thread leases at a time
        self._made: list[Attempt] = []  # attempts made, not yet recorded
        self._recording = threading.Lock()  # one thread records them at a time
        self._local = threading.local()  # each sending thread's requests.Session
        self._sessions: list[requests.Session] = []
        self.defects: Defects | None = None
        boot = os.environ.get("PAYSIM_BOOT_ID") or uuid.uuid4().hex
        self.owner = f"{boot}:{os.getpid()}"  # who holds the leases this process takes
        self.recover(starting=True)

    def recover(self, starting: bool = False) -> None:
        """Deliveries whose sender is gone are tried again, by any process of the store: a lease
        that ran out; one held by a process of this start that no longer runs (a killed worker);
        at start, one held by an earlier start. Those a live sender holds are left to it."""
        self._recovered = time.monotonic()
        boot = self.owner.split(":", 1)[0]
        with self.store.tx(rows=True) as tx:
            owners = {
                row[0]
                for row in tx.execute(
                    "SELECT DISTINCT lease_owner FROM deliveries WHERE status='sending'"
                ).fetchall()
            }
            gone = [o for o in owners if o and _gone(o, boot, starting)]
            marks = ",".join("?" * len(gone)) or "NULL"
            tx.execute(
                "UPDATE deliveries SET status='retrying', lease_until=NULL, lease_owner=NULL "
                "WHERE status='sending' AND (lease_until IS NULL OR lease_until<? "
                f"OR lease_owner IN ({marks}))",
                (time.time(), *gone),
            )

    def lease_s(self) -> float:
        """How long a delivery is its sender's: the attempt's timeout, and a margin."""
        return self.config.timeout_s + LEASE_MARGIN_S

    def run_due(self) -> int:
        """Lease the due deliveries the free slots take, and start sending them; how many."""
        if not self._taking.acquire(blocking=False):
            return 0  # another thread is taking them
        try:
            return self._take()
        finally:
            self._taking.release()

    def _take(self) -> int:
        if time.monotonic() - self._recovered > RECOVER_EVERY_S:
            self.recover()
        with self._lock:
            free = self.slots - self._leased
        if free <= 0:
            return 0
        now = self.clock.now()
        with self.store.read() as tx:  # the common case: nothing due, no write lock taken
            due = tx.execute(
                "SELECT 1 FROM deliveries WHERE status IN ('queued', 'retrying') AND next_at<=? "
                "LIMIT 1",
                (now,),
            ).fetchone()
        if due is None:
            return 0
        with self.store.tx(rows=True) as tx:
            rows = self._lease(tx, now, free)
        self._start(rows, free)
        return len(rows)

    def _lease(self, tx: Tx, now: float, free: int) -> list[Any]:
        """Due deliveries no other sender holds, ``free`` at most, leased to this process."""
        rows: list[Any] = tx.execute(
            "SELECT id, url, headers, body, attempts FROM deliveries "
            "WHERE status IN ('queued', 'retrying') AND next_at<=? "
            "ORDER BY next_at LIMIT ?" + tx.skip_locked,
            (now, free),
        ).fetchall()
        ids = [r[0] for r in rows]
        if ids:
            marks = ",".join("?" * len(ids))
            tx.execute(
                "UPDATE deliveries SET status='sending', lease_until=?, lease_owner=? "
                f"WHERE id IN ({marks})",
                (time.time() + self.lease_s(), self.owner, *ids),
            )
        return rows

    def _start(self, rows: list[Any], free: int) -> None:
        with self._lock:
            self._leased += len(rows)
            self._more = len(rows) == free  # a backlog: refilled as slots free, not per tick
        for row in rows:
            self._pool.submit(self._attempt, *row)

    def _attempt(self, delivery_id: str, url: str, headers: str, body: str, attempts: int) -> None:
        try:
            made = self._send(delivery_id, url, headers, body, attempts)
        except Exception:  # its lease runs out, and another attempt is made
            log.exception("webhook %s: the attempt failed", delivery_id)
            with self._lock:
                self._leased -= 1
            return
        with self._lock:
            self._made.append(made)
        self._flush()

    def _flush(self) -> None:
        """Record every attempt made so far in one transaction, by whichever sending thread
        gets there first (the others go on sending): under load, a write each would wait its
        turn behind the clients' writes, and the sender would fall behind them. With a backlog,
        the same transaction leases what the freed slots take."""
        while self._recording.acquire(blocking=False):
            batch: list[Attempt] = []
            rows: list[Any] = []
            free = 0
            try:
                with self._lock:
                    batch, self._made = self._made, []
                    free = self.slots - self._leased + len(batch)
                    more = self._more and free >= self.slots // 2
                if batch:
                    rows = self._record(batch, free if more else 0)
            except Exception:  # their leases run out, and other attempts are made
                log.exception("recording %d webhook attempts failed", len(batch))
            finally:
                self._recording.release()
                with self._lock:
                    self._leased -= len(batch)
            if rows:
                self._start(rows, free)
            with self._lock:
                if not self._made:  # one added while this thread recorded is taken again
                    break

    def _session(self) -> requests.Session:
        session: requests.Session | None = getattr(self._local, "session", None)
        if session is None:
            session = self._local.session = requests.Session()
            with self._lock:
                self._sessions.append(session)
        return session

    def _send(self, delivery_id: str, url: str, headers: str, body: str, attempts: int) -> Attempt:
        started = time.monotonic()
        code: int | None = None
        error: str | None = None
        wait: float | None = None
        try:
            dest = self.config.guard().check(url)
        except Refused as refused:
            log.info("webhook to %s refused: %s", url, refused)
            return Attempt(delivery_id, attempts + 1, None, "destination not allowed", 0.0, True)
        try:
            resp = self._session().post(
                dest.pinned_url,
                data=body.encode("utf-8"),
                headers={**json.loads(headers), "Host": dest.host_header},
                timeout=self.config.timeout_s,
                allow_redirects=False,
            )
            code = resp.status_code
            wait = receiver_wait(code, resp.headers.get("Retry-After"), time.time())
        except requests.Timeout:
            error = "timeout"
        except requests.RequestException as exc:
            error = f"connection error: {type(exc).__name__}"
        latency = round((time.monotonic() - started) * 1000, 1)
        return Attempt(delivery_id, attempts + 1, code, error, latency, retry_after=wait)

    def _record(self, batch: list[Attempt], lease: int = 0) -> list[Any]:
        """Record ``batch``, and lease ``lease`` due deliveries at most in the same transaction
        (those leased)."""
        now = self.clock.now()
        rules = self._rules()
        with self.store.tx(rows=True) as tx:
            for made in batch:
                self._record_one(tx, made, now, rules)
            return self._lease(tx, now, lease) if lease > 0 else []

    def _record_one(self, tx: Tx, made: Attempt, now: float, rules: DeliveryRules) -> None:
        code, attempt = made.code, made.attempt
        ok = code is not None and 200 <= code < 300
        row = tx.execute(
            "SELECT history FROM deliveries WHERE id=?" + tx.for_update, (made.delivery_id,)
        ).fetchone()
        if row is None:  # wiped by a reset while in flight
            return
        history = json.loads(row[0])
        entry = {
            "attempt": attempt,
            "at": iso(now),
            "response_code": code,
            "error": made.error,
            "latency_ms": made.latency_ms,
        }
        if made.retry_after is not None:
            entry["retry_after_s"] = made.retry_after
        history.append(entry)
        if (
            ok
            and not rules.delivers_once()
            and not any(200 <= (h["response_code"] or 0) < 300 for h in history[:-1])
        ):
            status, next_at = "retrying", now  # sent once more although it succeeded
        elif ok:
            status, next_at = "delivered", None
        elif made.final or not rules.retries():
            status, next_at = "dead", None
        elif attempt >= self.config.max_attempts and not rules.dead_letters():
            status, next_at = "retrying", now + self.config.retry_schedule[-1]
        elif attempt >= self.config.max_attempts:
            status, next_at = "dead", None
        else:
            status, next_at = "retrying", now + max(self._wait(attempt), made.retry_after or 0)
        final_at = now if status in ("delivered", "dead") else None
        tx.execute(
            "UPDATE deliveries SET status=?, attempts=?, next_at=?, last_code=?, "
            "last_latency_ms=?, last_error=?, history=?, final_at=? WHERE id=?",
            (status, attempt, next_at, code, made.latency_ms, made.error, json.dumps(history),
             final_at, made.delivery_id),
        )  # fmt: skip

    def _wait(self, attempt: int) -> float:
        """Seconds before the attempt after ``attempt`` (1-based) failed."""
        return self._rules().retry_wait(self.config.retry_schedule[attempt])

    def _rules(self) -> DeliveryRules:
        return DeliveryRules() if self.defects is None else self.defects.rules(DeliveryRules)

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        with self._lock:
            for session in self._sessions:
                session.close()
