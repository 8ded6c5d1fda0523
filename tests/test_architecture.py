"""ARCHITECTURE.md's table of where each rule lives names functions and classes that exist."""

from __future__ import annotations

import ast
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TEXT = (ROOT / "ARCHITECTURE.md").read_text(encoding="utf-8")
TABLE = TEXT[TEXT.index("## Where each rule lives") :]
PLACES = re.findall(r"`([\w/]+\.py)::(\w+(?:\.\w+)?)`", TABLE)


def _defined(path: Path) -> set[str]:
    """The module's functions and classes, and its classes' methods as ``Class.method``."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        if isinstance(node, ast.ClassDef):
            names.update(
                f"{node.name}.{item.name}"
                for item in node.body
                if isinstance(item, ast.FunctionDef | ast.AsyncFunctionDef)
            )
    return names


def test_the_table_names_places() -> None:
    assert len(PLACES) >= 15, PLACES


def test_every_place_of_the_table_exists() -> None:
    missing = [
        f"{file}::{name}"
        for file, name in PLACES
        if not (ROOT / file).exists() or name not in _defined(ROOT / file)
    ]
    assert missing == [], missing


def test_no_domain_module_names_a_defect() -> None:
    """Defects live in the defects modules; the rest of the simulator calls rules."""
    from simulator.app import create_app

    app = create_app({"TICKER": False})
    try:
        names = set(app.extensions["paysim.runtime"].defects.catalog)
    finally:
        app.extensions["paysim.runtime"].stop()
    assert len(names) > 60
    naming = {
        str(path.relative_to(ROOT)): sorted(n for n in names if f'"{n}"' in path.read_text())
        for path in (ROOT / "simulator").rglob("*.py")
        if not path.name.endswith("defects.py")
    }
    assert {path: found for path, found in naming.items() if found} == {}


ROOMS = ("simulator", "harness", "paysim", "loadtests", "benchmarks")


def unnamed(tree: str) -> list[str]:
    """The modules of the project that ``tree`` (ARCHITECTURE.md's map) does not name."""
    return [
        str(path.relative_to(ROOT))
        for room in ROOMS
        for path in sorted((ROOT / room).rglob("*.py"))
        if path.name not in ("__init__.py", "__main__.py")
        and not re.search(rf"\b{re.escape(path.stem)}\b", tree)
    ]


def test_the_map_names_every_module() -> None:
    assert unnamed(TEXT[: TEXT.index("## Who may import whom")]) == []


def test_the_map_check_sees_a_module_left_out() -> None:
    tree = TEXT[: TEXT.index("## Who may import whom")].replace("dispatcher", "")
    assert unnamed(tree) == ["simulator/core/dispatcher.py"]
