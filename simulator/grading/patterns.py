"""What a client's log shows, read in one pass each: its retries of creates, retry storms,
waits against Retry-After, tight polling and streams reopened (``client_rules`` judges them)."""

from __future__ import annotations

import bisect
import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator.grading import exam

if TYPE_CHECKING:
    from simulator.grading.client_log import Entry

RETRY_WINDOW_S = 300.0  # a create sent again within this long after a failure is its retry
# A server-side failure the client cannot tell from a success that was lost: it must retry
# with the same key. 499: the connection was dropped before any answer.
UNCERTAIN = frozenset({499, 500, 502, 503, 504})
POLL_WINDOW_S, POLL_LIMIT = 10.0, 10  # more reads of one object than this in the window
STORM_WINDOW_S, STORM_LIMIT = 2.0, 3  # more retries of one failed request than this
EARLY_S = 0.05  # the clock's grain: a request this much before Retry-After passed is on time


@dataclass
class Retries:
    """What the creates of one client tell of its retries."""

    judged: int = 0  # situations met: uncertain failures, slow answers, a key sent again
    retries: int = 0  # creates that asked again for an object already asked for
    broken: list[Entry] | None = None  # (first, retry) pairs: a new key, or the key reused
    changed: list[Entry] | None = None  # of ``broken``: the same key, another body


def retries(made: Sequence[Entry]) -> Retries:
    """Each uncertain failure's retry is the next create of the same path and bytes (by
    group); a key sent again must come with the same bytes; a create sent again while a slow
    one was unanswered is its retry too."""
    by_body: dict[tuple[str, str], list[int]] = defaultdict(list)
    by_key: dict[tuple[str, str], list[int]] = defaultdict(list)
    for i, e in enumerate(made):
        by_body[(e.url, e.body_hash)].append(i)
        if e.idempotency_key:
            by_key[(e.operation, e.idempotency_key)].append(i)
    out = Retries(broken=[], changed=[])
    assert out.broken is not None and out.changed is not None
    keyless_retries = 0
    for indexes in by_body.values():
        for here, later in itertools.pairwise(indexes):
            failed, retry = made[here], made[later]
            if failed.status not in UNCERTAIN or retry.at - failed.at > RETRY_WINDOW_S:
                continue
            if not failed.idempotency_key:  # no key at all: the idempotency_key rule's finding
                keyless_retries += 1
                continue
            out.judged += 1
            if retry.idempotency_key != failed.idempotency_key:
                out.broken += [failed, retry]
        for here, slow in enumerate(indexes):
            if made[slow].exam != "slow":
                continue
            out.judged += 1
            started = made[slow].at - exam.SLOW_MS / 1000
            for earlier in reversed(indexes[:here]):
                sent = made[earlier]
                if sent.at <= started:
                    break
                if sent.idempotency_key != made[slow].idempotency_key:
                    out.broken += [made[slow], sent]
    for indexes in by_key.values():
        out.retries += len(indexes) - 1
        for here, later in itertools.pairwise(indexes):
            first, again = made[here], made[later]
            if again.body_hash != first.body_hash:
                out.judged += 1
                out.broken += [first, again]
                out.changed += [first, again]
    out.retries += keyless_retries
    # uncertain failures the client never sent again: met, and nothing double
    out.judged += sum(
        1 for e in made if e.status in UNCERTAIN and e.idempotency_key and not _resent(e, by_body)
    )
    return out


def _resent(failed: Entry, by_body: dict[tuple[str, str], list[int]]) -> bool:
    return len(by_body[(failed.url, failed.body_hash)]) > 1


def storms(log: Sequence[Entry]) -> tuple[int, list[Entry]]:
    """Failures (each a chance to storm), and those followed by more retries than the limit
    allows within the window (by group of the same request; a window's end by bisection)."""
    failing = {(e.method, e.url, e.body_hash) for e in log if e.status in UNCERTAIN}
    groups: dict[tuple[str, str, str], list[Entry]] = defaultdict(list)
    for e in log:
        request = (e.method, e.url, e.body_hash)
        if request in failing:
            groups[request].append(e)
    judged, storm = 0, []
    for group in groups.values():
        times = [e.at for e in group]
        stormed_until = -1
        for i, failed in enumerate(group):
            if failed.status not in UNCERTAIN:
                continue
            judged += 1
            end = bisect.bisect_right(times, failed.at + STORM_WINDOW_S, lo=i + 1)
            if end - (i + 1) > STORM_LIMIT and i > stormed_until:
                storm += [failed, *group[i + 1 : i + STORM_LIMIT + 2]]
                stormed_until = end - 1
    return judged, storm


def waits(log: Sequence[Entry]) -> tuple[int, list[Entry]]:
    """Answers asking to wait, and (answer, next request) pairs sent before the wait passed."""
    judged, early = 0, []
    for here, e in enumerate(log):
        if not (e.status == 429 or (e.status == 503 and e.retry_after)):
            continue
        judged += 1
        if here + 1 < len(log):
            following = log[here + 1]
            if following.at - e.at < (e.retry_after or 0) - EARLY_S:
                early += [e, following]
    return judged, early


def polls(log: Sequence[Entry], single: frozenset[str]) -> tuple[int, list[Entry]]:
    reads: dict[str, list[Entry]] = defaultdict(list)
    for e in log:
        if e.operation in single:
            reads[e.url].append(e)
    tight: list[Entry] = []
    for url_reads in reads.values():
        for i in range(len(url_reads) - POLL_LIMIT):
            window = url_reads[i : i + POLL_LIMIT + 1]
            if window[-1].at - window[0].at <= POLL_WINDOW_S:
                tight += [window[0], window[-1]]
                break
    return len(reads), tight


def reopened(log: Sequence[Entry], stream: str) -> tuple[int, list[Entry]]:
    opens = [e for e in log if e.operation == stream and e.status == 200]
    again = [b for a, b in itertools.pairwise(opens) if b.at - a.at <= RETRY_WINDOW_S]
    lost = [e for e in again if not e.header("Last-Event-ID") and "last_event_id=" not in e.url]
    cut = sum(1 for e in opens if e.exam == "stream_cut")  # met, even if never reopened
    return max(len(again), cut), lost
