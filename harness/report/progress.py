"""pytest plugin behind ``paysim conform``'s progress lines: one JSON line per event in a file.

Loaded in the child pytest with ``-p harness.report.progress`` and ``PAYSIM_PROGRESS_FILE``
naming the file. Events: ``plan`` (tests per suite, once collected), ``start`` (a test
begins), ``sub`` (a subtest's outcome), ``done`` (a test's outcome, with the first line of why
when it did not pass) and ``finish`` (pytest's exit status).
The command reads the file while the run goes on; a file keeps pytest's own output free.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections import Counter
from typing import IO, Any

import pytest

ENV = "PAYSIM_PROGRESS_FILE"
_FILE: list[IO[str]] = []


def suite_of(nodeid: str) -> str:
    """The suite a test belongs to, from its node id: ``contract freefin``,
    ``scenarios kaspi/refunds``, else the file."""
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    name = parts[-1]
    if name.startswith("test_contract_"):
        return "contract " + name.removeprefix("test_contract_").removesuffix(".py")
    if "scenarios" in parts[:-1] and len(parts) >= 3:
        return f"scenarios {parts[-2]}/{name.rsplit('.', 1)[0]}"
    return path


def _emit(event: dict[str, Any]) -> None:
    if _FILE:
        _FILE[0].write(
            json.dumps({"at": round(time.time(), 3), **event}, ensure_ascii=False) + "\n"
        )
        _FILE[0].flush()


def pytest_configure(config: pytest.Config) -> None:
    path = os.environ.get(ENV)
    if path and not _FILE:
        _FILE.append(open(path, "a", encoding="utf-8"))  # noqa: SIM115 (closed at unconfigure)


def pytest_unconfigure(config: pytest.Config) -> None:
    while _FILE:
        _FILE.pop().close()


def pytest_collection_finish(session: pytest.Session) -> None:
    plan = Counter(suite_of(item.nodeid) for item in session.items)
    _emit({"event": "plan", "suites": dict(plan), "total": len(session.items)})


def pytest_runtest_logstart(nodeid: str, location: tuple[str, int | None, str]) -> None:
    _emit({"event": "start", "suite": suite_of(nodeid), "test": nodeid})


def _why(report: pytest.TestReport) -> str:
    if report.skipped and isinstance(report.longrepr, tuple):
        return str(report.longrepr[2]).removeprefix("Skipped: ")
    text = str(report.longrepr or "")
    asserted = [ln[1:].strip() for ln in text.splitlines() if ln.startswith("E ")]
    if asserted:
        return asserted[0]
    # A scenario failure: "scenario 'name' (file) failed at step n (...)", then its problems.
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()][:2]
    return re.sub(r"^scenario '.*?' \(.*?\) ", "", " ".join(lines))


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    context = getattr(report, "context", None)
    if context is not None:
        # A subtest (the contract suite checks one operation per subtest): progress within
        # its test, not a test of its own.
        label = " ".join(f"{v}" for v in (getattr(context, "kwargs", None) or {}).values())
        _emit(
            {
                "event": "sub",
                "suite": suite_of(report.nodeid),
                "test": report.nodeid,
                "label": label or str(getattr(context, "msg", "") or ""),
                "outcome": report.outcome,
                "why": "" if report.passed else _why(report)[:300],
            }
        )
        return
    # One event per test: its call, or the setup/teardown that failed or skipped it.
    if (
        report.when == "call"
        or (report.when == "setup" and not report.passed)
        or (report.when == "teardown" and report.failed)
    ):
        _emit(
            {
                "event": "done",
                "suite": suite_of(report.nodeid),
                "test": report.nodeid,
                "outcome": report.outcome,
                "why": "" if report.passed else _why(report)[:300],
            }
        )


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    _emit({"event": "finish", "exitstatus": int(exitstatus)})
