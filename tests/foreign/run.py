"""Run ``paysim conform`` against an independent server, as a partner would.

Each server runs as its own process (``python -m tests.foreign.<api> --port 0 --bug ...``) and
is driven only over HTTP: its credentials, its target profile and the example outcome hook
(``examples/hooks/test_endpoints.py``) calling its own test endpoints.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from harness import processes

ROOT = Path(__file__).resolve().parent.parent.parent
HOOK = ROOT / "examples" / "hooks" / "test_endpoints.py"
PROFILES = {
    "freefin": ROOT / "tests" / "foreign" / "freefin.profile.yaml",
    "kaspi": ROOT / "tests" / "foreign" / "kaspi.profile.yaml",
}


@contextmanager
def serving(api: str, bugs: Sequence[str] = ()) -> Iterator[str]:
    """A foreign server of ``api`` with ``bugs`` switched on; yields its base URL."""
    cmd = [sys.executable, "-m", f"tests.foreign.{api}", "--port", "0"]
    for bug in bugs:
        cmd += ["--bug", bug]
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode().strip()
        assert line.startswith("READY "), f"{api} server did not start: {line!r}"
        yield line.removeprefix("READY ")
    finally:
        processes.end(proc)
        if proc.stdout:
            proc.stdout.close()


def settings(api: str, base: str, profile: Path | None = None) -> dict[str, Any]:
    """The credentials file a partner would write for this server (``profile``: another
    target profile than the server's own)."""
    if api == "freefin":
        from tests.foreign.freefin import CREDENTIALS
    else:
        from tests.foreign.kaspi import CREDENTIALS
    found: dict[str, Any] = dict(CREDENTIALS)
    found.update(
        target_url=base,
        api=api,
        target_profile=str(profile or PROFILES[api]),
        outcome_hook=f"{sys.executable} {HOOK} --base {base}",
    )
    if api == "kaspi":
        found["kaspi_url"] = base + "/pay/api"
    return found


@dataclasses.dataclass
class Verdict:
    """What a conform run said: its exit code and its summary.json."""

    code: int
    summary: dict[str, Any]
    output: str

    @property
    def failures(self) -> list[dict[str, Any]]:
        return list(self.summary.get("failures", []))

    def failure_text(self) -> str:
        """Every failure's suite, name, title and message, for matching a bug's kind."""
        return "\n".join(
            f"{f['suite']} :: {f['name']} :: {f['title']} :: {f['message']}" for f in self.failures
        )


def conform(api: str, base: str, report: Path, *args: str, profile: Path | None = None) -> Verdict:
    """``paysim conform --api API`` against ``base`` with the server's own settings."""
    report.mkdir(parents=True, exist_ok=True)
    creds = report / "credentials.yaml"
    creds.write_text(yaml.safe_dump(settings(api, base, profile)), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYSIM_")}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH"))))
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "paysim",
            "conform",
            "--credentials-file",
            str(creds),
            "--report-dir",
            str(report),
            *args,
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    summary_file = report / "summary.json"
    summary = json.loads(summary_file.read_text(encoding="utf-8")) if summary_file.exists() else {}
    return Verdict(done.returncode, summary, done.stdout + done.stderr)
