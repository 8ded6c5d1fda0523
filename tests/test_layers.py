"""ARCHITECTURE.md's import rules, checked on the source: a layer that reaches up fails here."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = "paysim.documents"


def imports(package: str) -> dict[str, set[str]]:
    """Module file -> the top-level-qualified modules it imports (absolute imports only)."""
    found: dict[str, set[str]] = {}
    for path in sorted((ROOT / package).rglob("*.py")):
        names: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
                names.add(node.module)
        found[str(path.relative_to(ROOT))] = names
    return found


def offenders(package: str, forbidden: tuple[str, ...], only: str = "") -> list[str]:
    return [
        f"{module} imports {name}"
        for module, names in imports(package).items()
        if module.startswith(only)
        for name in sorted(names)
        if any(name == f or name.startswith(f + ".") for f in forbidden)
    ]


# what core and grading, the rooms under both apps, never import: no web framework, no app
BELOW_THE_APPS = (
    "flask",
    "werkzeug",
    "simulator.freefin",
    "simulator.kaspi",
    "simulator.control",
    "simulator.app",
    "simulator.web",
)


# (package, what its modules never import, the part of it that holds to it: "" for all of it);
# ARCHITECTURE.md's table of layers states the same arrows
RULES: list[tuple[str, tuple[str, ...], str]] = [
    ("paysim", ("simulator", "harness", "loadtests", "paysim", "tests"), "paysim/documents.py"),
    ("harness", ("simulator", "loadtests", "paysim"), ""),
    ("loadtests", ("paysim",), ""),
    ("loadtests", ("simulator",), ""),
    ("simulator", BELOW_THE_APPS, "simulator/core/"),
    ("simulator", ("simulator.grading",), "simulator/core/"),
    ("simulator", (*BELOW_THE_APPS, "simulator.proxy"), "simulator/grading/"),
    ("simulator", ("simulator.control", "simulator.app"), "simulator/freefin/"),
    ("simulator", ("simulator.control", "simulator.app"), "simulator/kaspi/"),
    ("simulator", ("simulator.kaspi",), "simulator/freefin/"),
    ("simulator", ("simulator.freefin",), "simulator/kaspi/"),
    # the independent servers share no code with the simulator or the harness they test
    ("tests", ("simulator", "harness", "tests.foreign.kaspi"), "tests/foreign/freefin/"),
    ("tests", ("simulator", "harness", "tests.foreign.freefin"), "tests/foreign/kaspi/"),
]


@pytest.mark.parametrize(("package", "forbidden", "only"), RULES)
def test_no_layer_reaches_up(package: str, forbidden: tuple[str, ...], only: str) -> None:
    # control.registry is the extension point where API packages register what the control
    # API may drive; the rest of control stays out of their reach.
    # paysim.documents only says where the documents are: every layer may ask it.
    found = offenders(package, forbidden, only)
    allowed = ("imports simulator.control.registry", f"imports {DOCUMENTS}")
    assert [m for m in found if not m.endswith(allowed)] == []


@pytest.mark.parametrize("package", ["freefin", "kaspi"])
def test_domain_modules_do_not_import_flask(package: str) -> None:
    http = {
        "routes.py",
        "api.py",
        "checkout.py",
        "session_control.py",
    }  # the HTTP layer of the package
    bad = [
        m
        for m in offenders("simulator", ("flask", "werkzeug"), f"simulator/{package}/")
        if Path(m.split()[0]).name not in http
    ]
    assert bad == []


def test_the_checker_sees_a_violation(tmp_path: Path) -> None:
    assert offenders("paysim", ("harness.target",), "paysim/options.py")  # options imports it


SQL = re.compile(
    r"^\s*(SELECT \S|INSERT INTO|UPDATE \w+ SET|DELETE FROM|(CREATE|ALTER|DROP) TABLE)"
)
SQL_HOMES = ("simulator/core/", "simulator/grading/")  # the rooms that own the tables


def sql_outside(package: str, homes: tuple[str, ...]) -> list[str]:
    """``module: statement`` for each string that opens an SQL statement outside ``homes``."""
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        module = str(path.relative_to(ROOT))
        if module.startswith(homes):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            text = node.value if isinstance(node, ast.Constant) else None
            if isinstance(text, str) and SQL.match(text):
                found.append(f"{module}: {text.split()[0]}")
    return found


def test_sql_runs_only_where_the_tables_are_owned() -> None:
    assert sql_outside("simulator", SQL_HOMES) == []


def test_the_sql_check_sees_a_query_outside_its_homes() -> None:
    assert "simulator/core/objects.py: SELECT" in sql_outside("simulator", ("simulator/grading/",))


# Each table's one owner: the only module whose SQL names it. The migrations create them all.
OWNERS = {
    "events": "simulator/core/events.py",
    "deliveries": "simulator/core/webhooks.py",
    "idempotency": "simulator/core/idempotency.py",
    "objects": "simulator/core/objects.py",
    "timers": "simulator/core/scheduler.py",
    "meta": "simulator/core/store.py",
    "schema_migrations": "simulator/core/migrate.py",
    "client_requests": "simulator/grading/client_log.py",
    "client_refused": "simulator/grading/client_log.py",
    "client_exam": "simulator/grading/exam.py",
}
# Where another module's SQL names a table, and why
BESIDE_THE_OWNER = {
    ("deliveries", "simulator/core/dispatcher.py"): "the sender leases and records attempts",
    ("objects", "simulator/core/store.py"): "Tx: a merchant's reads and writes, the one way in",
    ("objects", "simulator/core/scheduler.py"): "locks what its due timers move (a read)",
    ("timers", "simulator/core/store.py"): "Tx.add_timer: a timer set in its move's transaction",
}
TABLE_IN_SQL = re.compile(r"\b(?:FROM|INTO|UPDATE|JOIN|TABLE(?: IF NOT EXISTS)?)\s+(\w+)")


def tables_named(source: str) -> set[str]:
    """The tables the SQL in ``source``'s strings names."""
    return {
        name
        for node in ast.walk(ast.parse(source))
        if isinstance(node, ast.Constant) and isinstance(node.value, str)
        for name in TABLE_IN_SQL.findall(node.value)
        if name in OWNERS
    }


def trespasses(sources: dict[str, str]) -> list[str]:
    """``module: table`` for each table a module's SQL names that it neither owns nor is listed
    beside the owner of."""
    return [
        f"{module}: {table}"
        for module, source in sorted(sources.items())
        for table in sorted(tables_named(source))
        if OWNERS[table] != module and (table, module) not in BESIDE_THE_OWNER
    ]


def _sources() -> dict[str, str]:
    return {
        str(path.relative_to(ROOT)): path.read_text(encoding="utf-8")
        for path in sorted((ROOT / "simulator").rglob("*.py"))
    }


def test_each_tables_sql_is_in_its_owner() -> None:
    assert trespasses(_sources()) == []


def test_every_table_is_owned_where_its_sql_is() -> None:
    named = {table for source in _sources().values() for table in tables_named(source)}
    assert named == set(OWNERS)
    for table, module in [*OWNERS.items(), *BESIDE_THE_OWNER]:
        assert table in tables_named((ROOT / module).read_text(encoding="utf-8")), (table, module)


def test_the_owner_check_sees_a_table_pruned_by_another() -> None:
    sources = _sources()
    sources["simulator/core/retention.py"] += '\nX = "DELETE FROM events WHERE created_at < ?"\n'
    sources["simulator/ui/data.py"] += '\nY = f"SELECT {c} FROM client_requests JOIN objects"\n'
    assert trespasses(sources) == [
        "simulator/core/retention.py: events",
        "simulator/ui/data.py: client_requests",
        "simulator/ui/data.py: objects",
    ]
