"""tests/MODULES.toml maps every module of the project to the test files that prove it, and stays
true: every module is in it, every test file it names exists, and each named file concerns its
module.

A test file concerns a module when it imports it (or names it dotted in a string, as a
monkeypatch target or ``python -m`` does), or names in its code one of the public names (top-level
functions, classes, constants) that no other module of the project defines, or sends a request to
one of the routes the module registers (``@bp.get("/path")``), or states a name (a defect, a rule,
an error code) only that module states. An entry ``"test_x.py: word"``, for a module proved
through another (over HTTP, in a child run), holds when both the module and the test file say
the word. A stale entry fails: a test file that stops using a module, or a module that loses the
name its tests use.

``python tests/test_test_map.py MODULE...`` prints, for new modules, the test files that concern
them (a first entry for the map, to be checked by hand).
"""

from __future__ import annotations

import ast
import io
import re
import sys
import tokenize
import tomllib
from collections import Counter
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MAP = ROOT / "tests" / "MODULES.toml"
ROOMS = ("simulator", "harness", "paysim", "loadtests", "benchmarks")
ROUTE_METHODS = {"get", "post", "put", "delete", "patch", "route", "add_url_rule"}


def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(encoding="utf-8"))


def _bare(tree: ast.Module) -> bool:
    """Only a docstring, imports and ``__all__``: a package marker, nothing to prove."""
    for node in tree.body:
        if isinstance(node, ast.Import | ast.ImportFrom):
            continue
        if isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant):
            continue
        if isinstance(node, ast.Assign) and [ast.unparse(t) for t in node.targets] == ["__all__"]:
            continue
        return False
    return True


def modules() -> list[str]:
    """Every module of the project that holds something (paths from the root)."""
    return [
        str(path.relative_to(ROOT))
        for room in ROOMS
        for path in sorted((ROOT / room).rglob("*.py"))
        if not _bare(_tree(path))
    ]


def dotted(module: str) -> str:
    """``simulator/core/clock.py`` -> ``simulator.core.clock`` (a package for ``__init__``)."""
    return module.removesuffix(".py").removesuffix("/__init__").replace("/", ".")


def _public(module: str) -> set[str]:
    names = set()
    for node in _tree(ROOT / module).body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            names.update(t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper())
    return {n for n in names if not n.startswith("_")}


@cache
def _everyone() -> dict[str, set[str]]:
    return {module: _public(module) for module in modules()}


@cache
def _counts() -> Counter[str]:
    return Counter(name for names in _everyone().values() for name in names)


def _distinct(name: str) -> bool:
    """A name no test would write by chance: not a plain lowercase word (``items``, ``encode``)."""
    return len(name) >= 6 and ("_" in name.strip("_") or not name.islower())


@cache
def own_names(module: str) -> frozenset[str]:
    """The public names ``module`` defines and no other module of the project does."""
    names = _everyone().get(module) or _public(module)
    return frozenset(name for name in names if _counts()[name] == 1 and _distinct(name))


WORD = re.compile(r"[a-z][a-z0-9]*([._][a-z0-9]+)+")


def _words(module: str) -> set[str]:
    """The module's strings that read as names (``refund_over_remainder``, ``handler.order``)."""
    return {
        node.value
        for node in ast.walk(_tree(ROOT / module))
        if isinstance(node, ast.Constant)
        and isinstance(node.value, str)
        and len(node.value) >= 8
        and WORD.fullmatch(node.value)
    }


@cache
def _word_counts() -> Counter[str]:
    return Counter(word for module in modules() for word in _words(module))


@cache
def own_words(module: str) -> frozenset[str]:
    """The names in strings (a defect, a rule, an error code) that only ``module`` states."""
    return frozenset(word for word in _words(module) if _word_counts()[word] == 1)


def _prefix(tree: ast.Module) -> str:
    """The ``url_prefix`` of the module's own blueprint, when it states one."""
    constants = {
        target.id: node.value.value
        for node in tree.body
        if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant)
        for target in node.targets
        if isinstance(target, ast.Name) and isinstance(node.value.value, str)
    }
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and ast.unparse(node.func) == "Blueprint":
            for keyword in node.keywords:
                if keyword.arg == "url_prefix" and isinstance(keyword.value, ast.Constant):
                    return str(keyword.value.value)
                if keyword.arg == "url_prefix" and isinstance(keyword.value, ast.Name):
                    return constants.get(keyword.value.id, "")
    return ""


@cache
def routes(module: str) -> frozenset[str]:
    """The paths the module registers (``@bp.get("/path")``, ``add_url_rule``) under its
    blueprint's prefix, as regular expressions over a request's path: a variable part matches
    one segment. A path of variables alone (``/<kind>/<id>``) says too little to count."""
    tree = _tree(ROOT / module)
    found = set()
    for node in ast.walk(tree):
        if not (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute)
            and node.func.attr in ROUTE_METHODS
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
            and node.args[0].value.startswith("/")
        ):
            continue
        parts = re.split(r"<[^>]+>", _prefix(tree) + node.args[0].value)
        if any(part.strip("/") for part in parts):
            found.add("[^/?#\\n]+".join(re.escape(part) for part in parts) + r"/?(\?|$)")
    return frozenset(found)


def _strings(tree: ast.Module) -> list[str]:
    """The test's string literals; an f-string's values stand as one segment each."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.JoinedStr):
            found.append(
                "".join(
                    part.value if isinstance(part, ast.Constant) else "X" for part in node.values
                )
            )
        elif isinstance(node, ast.Constant) and isinstance(node.value, str):
            found.append(node.value)
    return found


def _imported(tree: ast.Module) -> set[str]:
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def _code_names(text: str) -> set[str]:
    """The identifiers of the code (not of its strings or comments)."""
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return {token.string for token in tokens if token.type == tokenize.NAME}


def _own_bindings(tree: ast.Module) -> set[str]:
    """The names a test binds itself (its constants, functions, aliases), takes from outside the
    project (``from collections import Counter``) or passes as keywords: using them says nothing
    of a module."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.add(node.name)
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] not in ROOMS:
            names.update(alias.asname or alias.name for alias in node.names)
        elif isinstance(node, ast.alias) and node.asname:
            names.add(node.asname)
        elif isinstance(node, ast.keyword) and node.arg:
            names.add(node.arg)  # a keyword argument is the callee's name, not the module's
    return names


@cache
def _read(test: Path) -> tuple[frozenset[str], tuple[str, ...], frozenset[str]]:
    """A test file's imports, string literals and identifiers."""
    text = test.read_text(encoding="utf-8")
    tree = ast.parse(text)
    code = _code_names(text) - _own_bindings(tree)
    return frozenset(_imported(tree)), tuple(_strings(tree)), frozenset(code)


def concerns(module: str, test: Path) -> str | None:
    """Why the test file concerns the module (None: it does not)."""
    imported, strings, code = _read(test)
    name = dotted(module)
    if name in imported:
        return f"imports {name}"
    package = name.removesuffix(".__main__")
    lines = "\n".join(strings)
    if name != package and (
        re.search(rf"(^|\s)-m\s+{re.escape(package)}$", lines, re.M)
        or ("-m" in strings and package in strings)
    ):
        return f"runs python -m {package}"
    if re.search(rf"(^|[^\w.]){re.escape(name)}(\.\w+)*$", lines, re.M) or module in lines:
        return f"names {name}"
    used = sorted(own_names(module) & code)
    if used:
        return f"uses {used[0]}"
    for route in sorted(routes(module)):
        if re.search(route, lines, re.M):
            return f"requests {route}"
    said = sorted(own_words(module) & set(strings))
    if said:
        return f"says {said[0]!r}"
    return None


@cache
def _text(path: Path) -> str:
    return path.read_text(encoding="utf-8")


def read_map(text: str) -> dict[str, list[str]]:
    found: dict[str, list[str]] = tomllib.loads(text)
    return found


def problems(mapping: dict[str, list[str]], tests: Path = ROOT / "tests") -> list[str]:
    """What is wrong with the map: modules left out or gone, test files missing, and test files
    that do not concern their module."""
    found = [f"{module}: not in the map" for module in modules() if module not in mapping]
    for module, files in mapping.items():
        if not (ROOT / module).exists():
            found.append(f"{module}: no such module")
            continue
        if not files:
            found.append(f"{module}: no test file")
        for entry in files:
            file, _, word = entry.partition(": ")
            if not (tests / file).exists():
                found.append(f"{module}: {file} does not exist")
            elif word and not (word in _text(ROOT / module) and word in _text(tests / file)):
                found.append(f"{module}: {file} does not say {word!r}")
            elif not word and concerns(module, tests / file) is None:
                found.append(f"{module}: {file} does not concern it")
    return found


def test_the_map_is_true() -> None:
    assert problems(read_map(MAP.read_text(encoding="utf-8"))) == []


def test_the_map_covers_the_project() -> None:
    mapping = read_map(MAP.read_text(encoding="utf-8"))
    assert len(mapping) > 150
    assert "simulator/core/retention.py" in mapping


def test_a_module_left_out_is_reported() -> None:
    mapping = read_map(MAP.read_text(encoding="utf-8"))
    del mapping["simulator/core/dispatcher.py"]
    assert problems(mapping) == ["simulator/core/dispatcher.py: not in the map"]


def test_a_missing_test_file_is_reported() -> None:
    mapping = read_map(MAP.read_text(encoding="utf-8"))
    mapping["simulator/core/clock.py"] = [*mapping["simulator/core/clock.py"], "test_gone.py"]
    assert problems(mapping) == ["simulator/core/clock.py: test_gone.py does not exist"]


def test_a_test_file_that_does_not_concern_its_module_is_reported() -> None:
    mapping = read_map(MAP.read_text(encoding="utf-8"))
    mapping["simulator/core/retention.py"] = ["test_codec.py"]
    assert problems(mapping) == ["simulator/core/retention.py: test_codec.py does not concern it"]


def test_a_word_that_either_side_does_not_say_is_reported() -> None:
    mapping = read_map(MAP.read_text(encoding="utf-8"))
    mapping["simulator/core/ratelimit.py"] = ["test_codec.py: burst", "test_seed.py: no such word"]
    assert problems(mapping) == [
        "simulator/core/ratelimit.py: test_codec.py does not say 'burst'",
        "simulator/core/ratelimit.py: test_seed.py does not say 'no such word'",
    ]


def test_each_kind_of_evidence_is_seen(tmp_path: Path) -> None:
    def why(module: str, source: str) -> str | None:
        test = tmp_path / f"test_{len(list(tmp_path.iterdir()))}.py"  # files are read once
        test.write_text(source, encoding="utf-8")
        return concerns(module, test)

    assert why("simulator/core/clock.py", "from simulator.core import clock\n")
    assert why("simulator/core/clock.py", "import simulator.core.clock as c\n")
    assert why("simulator/core/retention.py", "x = Pruner\n")  # a name only it defines
    assert why("simulator/kaspi/routes.py", 'c.get(f"/v1/invoices/{iid}")\n')
    assert why("simulator/__main__.py", 'run(["python", "-m", "simulator"])\n')
    assert why("simulator/kaspi/defects.py", 'enable("kaspi.amount_format")\n')  # its own word
    # a name in a string or a comment, a name other modules define too, another route
    assert why("simulator/core/retention.py", '# Pruner\ns = "Pruner"\n') is None
    assert why("simulator/__main__.py", "main()\n") is None
    assert why("simulator/kaspi/routes.py", 'c.get("/v1/nothing")\n') is None
    assert why("simulator/core/retention.py", "Pruner = 1\nx = Pruner\n") is None  # its own
    assert why("simulator/core/retention.py", "f(Pruner=1)\n") is None  # a keyword


def test_a_module_that_loses_its_names_is_reported(tmp_path: Path) -> None:
    """The same rule over a moved module: the test that used its name no longer concerns it."""
    test = tmp_path / "test_retention.py"
    test.write_text("x = SomethingElse\n", encoding="utf-8")
    assert problems({"simulator/core/retention.py": ["test_retention.py"]}, tmp_path)[-1:] == [
        "simulator/core/retention.py: test_retention.py does not concern it"
    ]


if __name__ == "__main__":
    for module in sys.argv[1:]:
        found = sorted(
            test.name
            for test in (ROOT / "tests").glob("test_*.py")
            if test.name != Path(__file__).name and concerns(module, test) is not None
        )
        print(f'"{module}" = {found!r}'.replace("'", '"'))
