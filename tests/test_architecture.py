"""ARCHITECTURE.md's table of where each rule lives names functions and classes that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
TABLE = TEXT[TEXT.index("## Where each rule lives") :]
PLACES = re.findall(r"`([\w/]+\.py)::(\w+)`", TABLE)


def _defined(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    return {
        node.name
        for node in tree.body
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
    }


def test_the_table_names_places() -> None:
    assert len(PLACES) >= 15, PLACES


def test_every_place_of_the_table_exists() -> None:
    missing = [
        f"{file}::{name}"
        for file, name in PLACES
        if not (ROOT / file).exists() or name not in _defined(ROOT / file)
    ]
    assert missing == [], missing
