"""Run the contract and scenario suites in a child pytest and follow their progress.

The child writes pytest's output to ``pytest.log`` and one JSON line per event to
``progress.jsonl`` (:mod:`harness.report.progress`); this side reads that file while the run
goes on and prints which suite runs, how far it is and each failure as it happens. Target
settings reach the child through its ``PAYSIM_*`` environment, never its command line, so that
secrets stay out of process listings.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import IO, Any

import paysim.documents as documents
from harness import child, processes
from harness.level import Level
from harness.promises import coverage
from harness.report.progress import ENV as PROGRESS_ENV
from harness.report.results import (
    CONTRACT_JSON,
    CONTRACT_JUNIT,
    LOAD_DIR,
    PYTEST_JUNIT,
    RUN_JSON,
    SCENARIO_JSON,
)

# The child's pytest settings, the same from a checkout and from an installed wheel: never a
# configuration file that happens to lie above the installed package.
SUITES_INI = Path(__file__).with_name("suites.ini")
PROGRESS = "progress.jsonl"
LOG = "pytest.log"
HEARTBEAT_S = 15.0
# What a previous run left in a report directory: replaced by the next run.
RESULT_FILES = (
    PYTEST_JUNIT,
    CONTRACT_JSON,
    CONTRACT_JUNIT,
    "contract-summary.md",
    SCENARIO_JSON,
    "scenario-summary.md",
    RUN_JSON,
    PROGRESS,
    LOG,
    "junit.xml",
    "summary.json",
    "patience.json",
    "report.html",
)


class ConformRun:
    """One ``paysim conform`` run into a report directory."""

    def __init__(
        self,
        report: Path,
        settings: dict[str, Any],
        *,
        suite: str = "all",
        profile: str = "default",
        operations: Sequence[str] = (),
        select: str | None = None,
        scenario_folders: Sequence[Path] = (),
        extra: Sequence[str] = (),
        echo: bool = False,
        max_time: float = 1800.0,
        out: IO[str] | None = None,
    ) -> None:
        self.report = report
        self.settings = settings
        self.suite = suite
        self.profile = profile
        self.operations = list(operations)
        self.select = select
        self.scenario_folders = [Path(f).resolve() for f in scenario_folders]
        self.extra = list(extra)
        self.echo = echo
        self.max_time = max_time
        self.out = out or sys.stdout
        self.started = time.time()
        self.meta: dict[str, Any] = {
            "command": "conform",
            "target": settings.get("target_url") or "bundled simulator",
            "api": settings.get("api", "both"),
            "contract_level": str(settings.get("contract_level", Level.SPEC)),
            "contract_profile": profile,
            "suite": suite,
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z", time.localtime(self.started)),
        }

    def clean(self) -> None:
        """Make the report directory and remove a previous run's results from it."""
        self.report.mkdir(parents=True, exist_ok=True)
        for name in RESULT_FILES:
            (self.report / name).unlink(missing_ok=True)
        load = self.report / LOAD_DIR
        if (load / "command.txt").exists():
            shutil.rmtree(load)

    def command(self) -> list[str]:
        """The child pytest's command line (no secrets on it)."""
        # Only the chosen API's suites are collected: the other's are not listed at all.
        apis = ("freefin", "kaspi") if self.meta["api"] == "both" else (self.meta["api"],)
        paths = []
        if self.suite in ("all", "contract"):
            paths += child.contract_suites(self.meta["api"])
        if self.suite in ("all", "scenarios"):
            paths += [str(documents.scenarios(a)) for a in apis]
            paths += [str(f) for f in self.scenario_folders]
        args = child.pytest_arguments(
            paths,
            "-c",
            str(SUITES_INI),
            "-p",
            "harness.report.progress",
            "-rfEs",
            f"--junitxml={self.report / PYTEST_JUNIT}",
            "--contract-report",
            str(self.report),
            "--scenario-report",
            str(self.report),
            "--contract-profile",
            self.profile,
        )
        for operation in self.operations:
            args += ["--contract-operation", operation]
        if self.suite in ("all", "scenarios"):
            for folder in self.scenario_folders:
                args += ["--scenarios", str(folder)]
        if self.select:
            args += ["-k", self.select]
        return child.pytest_command(args + self.extra)

    def environment(self) -> dict[str, str]:
        """The child's environment: the run's settings alone, its progress file."""
        return child.environment(
            self.settings, only_these=True, **{PROGRESS_ENV: str(self.report / PROGRESS)}
        )

    def execute(self) -> tuple[int, str]:
        """Run the suites; returns (exit code, a message for the user or "")."""
        self._say(
            f"paysim conform: {self.meta['target']}, API {self.meta['api']}, level "
            f"{self.meta['contract_level']}, profile {self.profile}, suites {self.suite}; "
            f"report in {self.report}"
        )
        with open(self.report / LOG, "w", encoding="utf-8") as log:
            proc = subprocess.Popen(
                self.command(),
                cwd=child.ROOT,
                env=self.environment(),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
            timed_out = self._follow(proc)
        self.meta["wall_time_s"] = round(time.time() - self.started, 1)
        return self._verdict(proc.returncode, timed_out)

    def _follow(self, proc: subprocess.Popen[bytes]) -> bool:
        tracker = Progress(self._say)
        progress = self.report / PROGRESS
        offsets = {"progress": 0, "log": 0}
        deadline = time.monotonic() + self.max_time if self.max_time else None
        timed_out = False
        while True:
            done = proc.poll() is not None
            offsets["progress"] = _read_new(progress, offsets["progress"], tracker.feed)
            if self.echo:
                offsets["log"] = _read_new(
                    self.report / LOG, offsets["log"], lambda line: self._say("  | " + line)
                )
            if done:
                break
            if deadline and time.monotonic() > deadline:
                self._say(f"paysim conform: stopped after --max-time {self.max_time:g} s")
                processes.end(proc, 15)
                timed_out = True
                continue
            tracker.heartbeat()
            time.sleep(0.2)
        return timed_out

    def _verdict(self, rc: int, timed_out: bool) -> tuple[int, str]:
        log = (self.report / LOG).read_text(encoding="utf-8", errors="replace")
        reason = next(
            (
                line.split("Exit: ", 1)[-1].strip(" !")
                for line in log.splitlines()
                if "Exit: paysim:" in line or line.startswith("paysim:")
            ),
            "",
        )
        if timed_out:
            return 1, f"paysim: the suites overran --max-time {self.max_time:g} s"
        if "INTERNALERROR" in log:
            return 1, f"paysim: pytest failed internally; see {self.report / LOG}"
        if rc in (3, 4) and reason:
            return rc, reason
        if rc == 4:
            return 4, f"paysim: pytest refused its arguments; see {self.report / LOG}"
        if rc == 5:
            return 4, "paysim: nothing was collected (check -k, --suite, --contract-operation)"
        if rc == 2:
            return 1, f"paysim: the run was interrupted; see {self.report / LOG}"
        return (0, "") if rc == 0 else (1, "")

    def write_meta(self, **fields: Any) -> None:
        """Write run.json: what was run, against what, when, and how it ended."""
        self.meta.update(fields)
        self.meta.setdefault("wall_time_s", round(time.time() - self.started, 1))
        (self.report / RUN_JSON).write_text(
            json.dumps(self.meta, indent=2, ensure_ascii=False), encoding="utf-8"
        )

    @staticmethod
    def update_meta(report: Path, **fields: Any) -> None:
        """Add fields to a report directory's run.json (a later ``paysim load``)."""
        report.mkdir(parents=True, exist_ok=True)
        path = report / RUN_JSON
        meta = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
        meta.update(fields)
        if fields.get("load_exit_code"):
            meta["exit_code"] = meta.get("exit_code") or fields["load_exit_code"]
        path.write_text(json.dumps(meta, indent=2, ensure_ascii=False), encoding="utf-8")

    def _say(self, line: str) -> None:
        self.out.write(line + "\n")
        self.out.flush()


def _read_new(path: Path, offset: int, handle: Any) -> int:
    """Feed the whole lines added to ``path`` since ``offset``; returns the new offset."""
    if not path.exists():
        return offset
    with open(path, "rb") as fh:
        fh.seek(offset)
        data = fh.read()
    end = data.rfind(b"\n") + 1
    for line in data[:end].decode("utf-8", "replace").splitlines():
        handle(line)
    return offset + end


class Progress:
    """Turns progress events into lines: suite started and finished, failures, a heartbeat."""

    def __init__(self, say: Any) -> None:
        self.say = say
        self.plan: dict[str, int] = {}
        self.total = 0
        self.done: dict[str, int] = {}
        self.failed: dict[str, int] = {}
        self.subtests = self.failed_subtests = 0
        self.current = ""
        self.last_line = time.monotonic()
        self.started = time.monotonic()

    def feed(self, line: str) -> None:
        """Handle one JSON line of the progress file."""
        try:
            event = json.loads(line)
        except ValueError:
            return
        if event.get("event") == "plan":
            self.plan, self.total = event["suites"], event["total"]
            self._print(f"collected {self.total} tests in {len(self.plan)} suites")
        elif event.get("event") == "start":
            self._start(event["suite"])
        elif event.get("event") == "done":
            self._done(event)
        elif event.get("event") == "sub":
            self.subtests += 1
            if event["outcome"] == "failed":
                self.failed_subtests += 1
                self._print(
                    f"  FAIL {event['test'].split('::', 1)[-1]} {event.get('label', '')}"
                    f": {event.get('why', '')}"[:240]
                )

    def _start(self, suite: str) -> None:
        if suite != self.current:
            self.current = suite
            self._print(
                f"[{self._count():>4}/{self.total}] {suite}: {self.plan.get(suite, '?')} tests"
            )

    def _done(self, event: dict[str, Any]) -> None:
        suite = event["suite"]
        self._start(suite)
        self.done[suite] = self.done.get(suite, 0) + 1
        if event["outcome"] == "failed":
            self.failed[suite] = self.failed.get(suite, 0) + 1
            name = event["test"].split("::", 1)[-1]
            self._print(f"  FAIL {name}: {event.get('why', '')}"[:240])
        if self.done[suite] == self.plan.get(suite):
            self._print(
                f"[{self._count():>4}/{self.total}] {suite}: done, "
                f"{self.failed.get(suite, 0)} failed "
                f"(failures so far: {sum(self.failed.values())})"
            )

    def heartbeat(self) -> None:
        """A line when nothing was said for a while, so a CI log shows the run is alive."""
        if self.current and time.monotonic() - self.last_line > HEARTBEAT_S:
            self._print(
                f"[{self._count():>4}/{self.total}] still in {self.current} "
                f"({self.done.get(self.current, 0)}/{self.plan.get(self.current, '?')} "
                f"tests, {self.subtests} subtests), "
                f"{time.monotonic() - self.started:.0f} s, failures so far: "
                f"{sum(self.failed.values())}"
            )

    def _count(self) -> int:
        return sum(self.done.values())

    def _print(self, line: str) -> None:
        self.last_line = time.monotonic()
        self.say(line)


def print_table(summary: dict[str, Any], out: IO[str] | None = None) -> None:
    """The end-of-run table: one row per suite, then the verdict."""
    out = out or sys.stdout
    rows = summary.get("suites", [])
    width = max([len(r["suite"]) for r in rows] + [5]) + 2
    out.write(f"\n{'suite':<{width}}{'passed':>8}{'failed':>8}{'not run':>9}{'seconds':>9}\n")
    for r in rows:
        out.write(
            f"{r['suite']:<{width}}{r['passed']:>8}{r['failed']:>8}{r['skipped']:>9}"
            f"{r['seconds']:>9}\n"
        )
    gaps = summary.get("spec_gaps", {}).get("findings", [])
    open_gaps = sum(1 for g in gaps if not g.get("resolved"))
    observed = sum(r.get("observations", 0) for r in rows)
    wall = summary.get("meta", {}).get("wall_time_s")
    counted = "; ".join(
        f"{kind} {c['passed']} passed, {c['failed']} failed"
        + (f", {c['skipped']} not run" if c["skipped"] else "")
        for kind, c in summary.get("counts", {}).items()
    )
    out.write(
        f"{summary.get('verdict', '').upper()}: {counted or 'nothing ran'}"
        + (f" in {wall} s" if wall is not None else "")
        + "\n"
    )
    if observed or gaps:
        out.write(
            f"spec gaps: {observed} observed (not failures), {len(gaps)} findings of the "
            f"seeds, {open_gaps} open\n"
        )
    said = coverage.line(summary.get("coverage", {}))
    if said:
        out.write(said + "\n")
    out.flush()
