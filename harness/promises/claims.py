"""What every collected test of a run claims to prove (``claims.json`` beside the report): the
coverage map tells a promise no test covers from one whose tests were not selected."""

from __future__ import annotations

import json
from pathlib import Path

CLAIMS_JSON = "claims.json"


def write(directory: Path, claims: dict[str, dict[str, list[str]]]) -> None:
    """``claims.json``: api -> promise id -> the names of the tests that claim it."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / CLAIMS_JSON).write_text(
        json.dumps(claims, indent=2, ensure_ascii=False), encoding="utf-8"
    )


def read(directory: Path) -> dict[str, dict[str, list[str]]]:
    """The claims of a finished run (empty when it wrote none)."""
    path = directory / CLAIMS_JSON
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
