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


MAP = TEXT[TEXT.index("## The map, by layer") : TEXT.index("## Written here")]
LAYERS = TEXT[TEXT.index("## Layers") : TEXT.index("## The map, by layer")]


def test_the_map_names_every_module() -> None:
    assert unnamed(MAP) == []


def test_the_map_check_sees_a_module_left_out() -> None:
    assert unnamed(MAP.replace("dispatcher", "")) == ["simulator/core/dispatcher.py"]


def test_each_layer_is_a_paragraph_on_rooms_that_exist() -> None:
    rooms = re.findall(r"\n\n`([\w/.]+)`", LAYERS)  # each paragraph opens with its room
    assert rooms[:3] == ["paysim/documents.py", "simulator/core/", "simulator/grading/"]
    assert len(rooms) == len(set(rooms)) and all((ROOT / room).exists() for room in rooms)


def arrows(table: str) -> dict[str, set[str]]:
    """The table of layers: where -> the modules it never imports (its ``(but x)`` left out)."""
    found: dict[str, set[str]] = {}
    for where, never in re.findall(r"^\| `([\w/.]+)` \| (.+) \|$", table, re.M):
        found[where] = set(re.findall(r"`([\w.]+)`", re.sub(r"\(but [^)]*\)", "", never)))
    return found


def arrow_mismatches(table: str) -> list[str]:
    """Where the table of layers and the rules ``tests/test_layers.py`` checks disagree."""
    from tests.test_layers import RULES

    checked: dict[str, set[str]] = {}
    for package, forbidden, only in RULES:
        checked.setdefault(only or f"{package}/", set()).update(forbidden)
    stated = arrows(table)
    return [
        f"{where}: stated {sorted(stated.get(where, ()))}, checked {sorted(checked.get(where, ()))}"
        for where in sorted(stated.keys() | checked.keys())
        if stated.get(where) != checked.get(where)
    ]


def test_the_table_of_layers_is_what_the_layer_test_checks() -> None:
    assert len(arrows(LAYERS)) >= 9
    assert arrow_mismatches(LAYERS) == []


def test_the_layer_comparison_sees_each_kind_of_drift() -> None:
    dropped = LAYERS.replace("`simulator.grading`, ", "", 1)  # an arrow no longer stated
    assert arrow_mismatches(dropped) == [
        "simulator/core/: stated ['flask', 'simulator.app', 'simulator.control', "
        "'simulator.freefin', 'simulator.kaspi', 'simulator.web', 'werkzeug'], checked "
        "['flask', 'simulator.app', 'simulator.control', 'simulator.freefin', "
        "'simulator.grading', 'simulator.kaspi', 'simulator.web', 'werkzeug']"
    ]
    unchecked = LAYERS + "| `simulator/ui/` | `simulator.app` |\n"  # stated, checked nowhere
    assert arrow_mismatches(unchecked) == ["simulator/ui/: stated ['simulator.app'], checked []"]
    gone = "\n".join(line for line in LAYERS.splitlines() if "`loadtests/`" not in line)
    assert arrow_mismatches(gone) == ["loadtests/: stated [], checked ['paysim', 'simulator']"]
