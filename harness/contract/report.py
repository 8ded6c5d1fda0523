"""The record of a contract run and its summaries: operation x check, failures with curl, gaps.

Check outcomes arrive through Schemathesis's ``after_validate`` hook and requests through
``after_call``; both are tied to their run by the case's schema.
"""

from __future__ import annotations

import dataclasses
import json
from collections import defaultdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

import schemathesis

from harness.contract.context import run_of

if TYPE_CHECKING:
    from harness.contract.gaps import SpecGap


@dataclasses.dataclass
class Tally:
    """Outcomes of one check on one operation."""

    passed: int = 0
    failed: int = 0
    # title -> (message, curl) of the first failure with that title.
    failures: dict[str, tuple[str, str]] = dataclasses.field(default_factory=dict)


@dataclasses.dataclass
class Report:
    """Everything a contract run observed, for every API it tested."""

    secrets: dict[str, str] = dataclasses.field(default_factory=dict)
    results: dict[tuple[str, str, str], Tally] = dataclasses.field(
        default_factory=lambda: defaultdict(Tally)
    )
    requests: dict[str, int] = dataclasses.field(default_factory=lambda: defaultdict(int))
    server_errors: dict[str, int] = dataclasses.field(default_factory=lambda: defaultdict(int))
    wall_time: dict[str, float] = dataclasses.field(default_factory=lambda: defaultdict(float))
    gaps: dict[tuple[str, str, str], SpecGap] = dataclasses.field(default_factory=dict)

    def redact(self, text: str) -> str:
        """Replace secret values by the environment variables that hold them."""
        for secret, placeholder in self.secrets.items():
            text = text.replace(secret, placeholder)
        return text

    def add_result(
        self, api: str, operation: str, check: str, failure: Any, curl: str, answer: str = ""
    ) -> None:
        """Count one check outcome (``failure`` None for a pass); ``answer`` is what came back."""
        tally = self.results[(api, operation, check)]
        if failure is None:
            tally.passed += 1
            return
        tally.failed += 1
        message = failure.message + (f"\nanswer: {answer}" if answer else "")
        tally.failures.setdefault(failure.title, (self.redact(message), self.redact(curl)))

    def add_gap(self, gap: SpecGap) -> None:
        """Record a spec gap once per (api, entry, check)."""
        self.gaps.setdefault((gap.api, gap.entry_path, gap.check), gap)

    @property
    def failed(self) -> bool:
        return any(t.failed for t in self.results.values())

    def failed_checks(self, api: str | None = None) -> set[str]:
        """Names of the checks that failed at least once."""
        return {c for (a, _o, c), t in self.results.items() if t.failed and api in (None, a)}

    def render_failures(self, api: str) -> str:
        """The failures recorded so far for ``api``, one block each (empty when none)."""
        blocks = []
        for (a, operation, check), tally in sorted(self.results.items()):
            if a != api:
                continue
            for title, (message, curl) in tally.failures.items():
                shown = "\n".join("    " + line for line in message.splitlines()[:6])
                blocks.append(f"{operation} [{check}] {title} ({tally.failed}x)\n{shown}\n"
                              f"    reproduce: {curl}")
        return "\n".join(blocks)

    def to_json(self) -> dict[str, Any]:
        """A machine-readable summary."""
        apis = sorted({a for a, _o, _c in self.results} | set(self.requests))
        return {
            "apis": {
                api: {
                    "requests": self.requests.get(api, 0),
                    "server_errors": self.server_errors.get(api, 0),
                    "wall_time_s": round(self.wall_time.get(api, 0.0), 2),
                    "failed_checks": sorted(self.failed_checks(api)),
                    "results": [
                        {"operation": o, "check": c, "passed": t.passed, "failed": t.failed,
                         "failures": [{"title": title, "message": m, "curl": curl}
                                      for title, (m, curl) in t.failures.items()]}
                        for (a, o, c), t in sorted(self.results.items()) if a == api
                    ],
                    "spec_gaps": [dataclasses.asdict(g) for (a, _e, _c), g in
                                  sorted(self.gaps.items()) if a == api],
                }
                for api in apis
            },
            "failed": self.failed,
        }

    def render(self, full: bool = True) -> str:
        """Human-readable summary; ``full`` adds the whole operation x check table."""
        lines: list[str] = []
        for api, data in self.to_json()["apis"].items():
            lines.append(
                f"## {api}: {data['requests']} requests, {data['server_errors']} server errors, "
                f"{data['wall_time_s']} s"
            )
            if full:
                lines += ["", "| operation | check | result |", "| --- | --- | --- |"]
                for row in data["results"]:
                    verdict = f"FAIL ({row['failed']})" if row["failed"] else "pass"
                    lines.append(f"| {row['operation']} | {row['check']} | {verdict} "
                                 f"({row['passed']} passed) |")
                lines.append("")
            for row in data["results"]:
                for failure in row["failures"]:
                    lines += [
                        f"FAIL {row['operation']} [{row['check']}] {failure['title']}",
                        *("    " + ln for ln in failure["message"].splitlines()[:8]),
                        f"    reproduce: {failure['curl']}",
                    ]
            if data["spec_gaps"]:
                lines.append(f"{len(data['spec_gaps'])} spec gaps (not failures; "
                             "settled by the supplement at --contract-level strict):")
                for gap in data["spec_gaps"]:
                    lines += [f"GAP {gap['operation']} [{gap['check']}] {gap['observed']}",
                              f"    settled by {gap['entry_path']}:",
                              *("      " + ln for ln in gap["entry"].splitlines()[:12])]
            lines.append("")
        return "\n".join(lines)

    def write(self, directory: Path) -> None:
        """summary.md and summary.json in ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "contract-summary.md").write_text(
            "# Contract run\n\n" + self.render(full=True), encoding="utf-8"
        )
        (directory / "contract-summary.json").write_text(
            json.dumps(self.to_json(), indent=2, ensure_ascii=False), encoding="utf-8"
        )


@schemathesis.hook
def after_call(
    context: schemathesis.HookContext, case: schemathesis.Case, response: schemathesis.Response
) -> None:
    """Count the suite's requests and the server errors among them."""
    run = run_of(case)
    if run is None:
        return
    run.report.requests[run.api] += 1
    if response.status_code >= 500:
        run.report.server_errors[run.api] += 1


@schemathesis.hook
def after_validate(
    context: schemathesis.HookContext, case: schemathesis.Case,
    response: schemathesis.Response, results: list[schemathesis.CheckResult],
) -> None:
    """Record each check's outcome against the operation it ran on."""
    run = run_of(case)
    if run is None:
        return
    curl = answer = ""
    for result in results:
        if result.failure is not None and not curl:
            curl = case.as_curl_command(headers=dict(response.request.headers))
            body = (response.content or b"")[:300].decode("utf-8", "replace")
            answer = f"{response.status_code} {body}"
        run.report.add_result(run.api, case.operation.label, result.name, result.failure, curl,
                              answer)
