"""The client report: every client's requests (``client_log``) judged by the integration rules
(``client_rules``), with the exam's situations met or not (``exam``)."""

from __future__ import annotations

import contextlib
import gc
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

from simulator.core.store import Store
from simulator.grading import client_rules, exam
from simulator.grading.client_log import Entry, entries, refused


@contextlib.contextmanager
def _no_cycle_collection() -> Iterator[None]:
    """The cyclic collector held off while a log is read: it would walk every object made so
    far again and again as they pile up (the read's time grew faster than the log), and an
    entry makes no cycle."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def report(store: Store, exam_on: bool = False, level: str = "spec") -> dict[str, Any]:
    """Every client's findings: ``{"rules", "exam", "clients": [{"api", "client", "requests",
    "findings", "situations", "not_exercised"}]}``; ``situations``: the exam's, met or not;
    ``not_exercised``: the rules the client gave nothing to judge, each with how to meet its
    situation."""
    with _no_cycle_collection():
        log = entries(store)
    by_client: dict[tuple[str, str], list[Entry]] = defaultdict(list)
    for entry in log:
        by_client[(entry.api, entry.client)].append(entry)
    met = exam.met(store)
    clients = []
    for (api, client), log in sorted(by_client.items()):
        seen = met.get((api, client), set())
        how = {rule.id: exam.how(rule.id, api, exam_on, seen) for rule in client_rules.RULES}
        findings = client_rules.judge(log, api, how, level)
        missing = [
            {"rule": f["rule"], "to_meet": f["to_meet"]}
            for f in findings
            if f["verdict"] == client_rules.NOT_EXERCISED
        ]
        clients.append(
            {
                "api": api,
                "client": client,
                "requests": len(log),
                "findings": findings,
                "situations": {
                    s.name: s.name in seen
                    for s in exam.SITUATIONS
                    if exam_on and exam.applies(s, api)
                },
                "not_exercised": missing,
            }
        )
    rules = [rule.id for rule in client_rules.RULES]
    return {
        "rules": rules,
        "exam": exam_on,
        "level": level,
        "clients": clients,
        "refused": refused(store),
    }
