"""The end-of-run summary of the scenario suites: per file, per scenario, and why not passed."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any


@dataclasses.dataclass
class Result:
    """One scenario's outcome."""

    file: str
    name: str
    api: str
    outcome: str  # passed | failed | skipped
    seconds: float
    detail: str = ""
    # departures from the supplement: {step, problems, sources, received}
    departures: list[dict[str, Any]] = dataclasses.field(default_factory=list)


@dataclasses.dataclass
class Summary:
    """Every scenario result of the session."""

    results: list[Result] = dataclasses.field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {"passed": 0, "failed": 0, "skipped": 0}
        for r in self.results:
            out[r.outcome] = out.get(r.outcome, 0) + 1
        out["departures"] = sum(len(d["problems"]) for r in self.results for d in r.departures)
        return out

    def render(self) -> str:
        """Markdown: totals, a table per file, then each failure and skip with its reason."""
        c = self.counts()
        total = sum(r.seconds for r in self.results)
        lines = [
            f"# Scenario summary\n\n{len(self.results)} scenarios: {c['passed']} passed, "
            f"{c['failed']} failed, {c['skipped']} skipped in {total:.1f} s\n",
            "| file | passed | failed | skipped | seconds |",
            "| --- | --- | --- | --- | --- |",
        ]
        by_file: dict[str, list[Result]] = {}
        for r in self.results:
            by_file.setdefault(r.file, []).append(r)
        for file, rows in sorted(by_file.items()):
            n = {k: sum(r.outcome == k for r in rows) for k in ("passed", "failed", "skipped")}
            lines.append(
                f"| {file} | {n['passed']} | {n['failed']} | {n['skipped']} | "
                f"{sum(r.seconds for r in rows):.1f} |"
            )
        for outcome in ("failed", "skipped"):
            chosen = [r for r in self.results if r.outcome == outcome]
            if chosen:
                lines.append(f"\n## {outcome.capitalize()}\n")
                lines += [f"- {r.file} :: {r.name}: {r.detail}" for r in chosen]
        departed = [r for r in self.results if r.departures]
        if departed:
            lines.append(
                "\n## Departures from the supplement\n\nWhat the project's supplement settles "
                "and the target settles another way: informational at level spec.\n"
            )
            for r in departed:
                for d in r.departures:
                    lines.append(
                        f"- {r.file} :: {r.name}, {d['step']}: {'; '.join(d['problems'])} "
                        f"({', '.join(d['sources'])})"
                    )
        return "\n".join(lines) + "\n"

    def write(self, directory: Path) -> None:
        """scenario-summary.md and scenario-summary.json in ``directory``."""
        directory.mkdir(parents=True, exist_ok=True)
        (directory / "scenario-summary.md").write_text(self.render(), encoding="utf-8")
        data = {"counts": self.counts(), "results": [dataclasses.asdict(r) for r in self.results]}
        (directory / "scenario-summary.json").write_text(
            json.dumps(data, ensure_ascii=False, indent=2), encoding="utf-8"
        )
