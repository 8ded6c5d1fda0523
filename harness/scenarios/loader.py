"""Read scenario YAML files and validate every document against the shipped JSON Schema.

A bad file raises :class:`ScenarioFormatError` naming the file, the document (its index and
name) and the offending key, so a QA engineer can find the mistake without reading a traceback.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from harness import promises
from harness.scenarios import provenance

SCHEMA_FILE = Path(__file__).with_name("scenario.schema.json")
ACTIONS = (
    "request",
    "outcome",
    "clock",
    "control",
    "receiver",
    "expect_webhooks",
    "sse",
    "expect_events",
)


class ScenarioFormatError(Exception):
    """A scenario file that does not follow the format."""


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class _UniqueKeyLoader(yaml.SafeLoader):
    """PyYAML's safe loader, except that a key given twice in one mapping is an error: the
    stock loader keeps the last value, so the first check would be dropped without a word."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                continue  # "<<" merges may override; only keys written twice are mistakes
            key = self.construct_object(key_node, deep=True)
            try:
                duplicate = key in seen
                seen.add(key)
            except TypeError:  # an unhashable key: the stock constructor reports it
                continue
            if duplicate:
                raise _DuplicateKey(
                    "while constructing a mapping",
                    node.start_mark,
                    f"duplicate key {key!r}",
                    key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


@dataclasses.dataclass(frozen=True)
class Scenario:
    """One validated scenario document."""

    name: str
    api: str
    steps: list[dict[str, Any]]
    path: Path
    index: int
    line: int = 0
    requires: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    vars: dict[str, Any] = dataclasses.field(default_factory=dict)
    description: str = ""
    source: str | None = None  # the scenario's default ``from:``
    proves: tuple[str, ...] = ()  # ids of the seed's promises it proves, as written


def claims(scenario: Scenario) -> list[str]:
    """The promises a scenario proves: those it names, and each seed operation's status that
    one of its seed-sourced expectations asserts (``from: "seed: POST /v1/invoices 201"``)."""
    found = list(scenario.proves)
    for step in scenario.steps:
        for key, block, origin in provenance.blocks(step, scenario.source):
            words = str(origin).split(":", 1)[1].split() if ":" in str(origin) else []
            if key != "expect" or not str(origin).startswith("seed:") or len(words) != 3:
                continue
            if isinstance(block, dict) and str(block.get("status")) == words[2]:
                found.append(promises.operation_id(*words))
    return list(dict.fromkeys(found))


@cache
def validator() -> jsonschema.protocols.Validator:
    """The compiled validator of the scenario format."""
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    cls.check_schema(schema)
    return cls(schema)


def _where(path: Any) -> str:
    """``steps[2].request.json`` from a jsonschema path deque."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out or "(top level)"


def _step_problem(doc: dict[str, Any]) -> str | None:
    """A plain message when a step has no action or several (the schema's oneOf is cryptic)."""
    for i, step in enumerate(doc.get("steps") or []):
        if not isinstance(step, dict):
            continue
        found = [a for a in ACTIONS if a in step]
        if len(found) != 1:
            what = f"several actions {found}" if found else "no action"
            return f"at steps[{i}]: {what}; a step has exactly one of {', '.join(ACTIONS)}"
    return None


def _describe(error: jsonschema.ValidationError) -> str:
    # Descend into the most specific sub-error so "not valid under any of the given schemas"
    # becomes the key that is actually wrong.
    best = jsonschema.exceptions.best_match([error])
    while best.context:
        best = jsonschema.exceptions.best_match(best.context)
    return f"at {_where(best.absolute_path)}: {best.message}"


def validate_document(doc: Any) -> str | None:
    """The first problem of one document, or None when it follows the format."""
    if not isinstance(doc, dict):
        return f"at (top level): a scenario is a mapping, not {type(doc).__name__}"
    errors = sorted(validator().iter_errors(doc), key=lambda e: list(map(str, e.absolute_path)))
    if not errors:
        unknown = promises.unknown(doc["api"], list(doc.get("proves", ())))
        if unknown:
            return (
                f"at proves: {', '.join(unknown)} not in the {doc['api']} seed's promises "
                "(paysim promises lists them)"
            )
        return provenance.check_scenario(doc)
    step_problem = _step_problem(doc)
    if step_problem:
        return step_problem
    return _describe(errors[0])


def load_file(path: Path) -> list[Scenario]:
    """Every scenario of one YAML file (one per document), validated."""
    return load_text(path.read_text(encoding="utf-8"), path)


def _documents(text: str, path: Path) -> tuple[list[Any], list[int]]:
    """The non-empty documents of ``text`` and the 0-based line each starts on."""
    docs: list[Any] = []
    lines: list[int] = []
    loader = _UniqueKeyLoader(text)
    try:
        while loader.check_node():
            node = loader.get_node()
            if node is None:
                continue
            try:
                doc = loader.construct_document(node)
            except _DuplicateKey as exc:
                mark = exc.problem_mark
                line = mark.line + 1 if mark else node.start_mark.line + 1
                raise ScenarioFormatError(
                    f"{path}, document {len(docs) + 1}, line {line}: {exc.problem}; a key may "
                    "appear once in a mapping (several matchers go in one mapping: "
                    "{$len: ..., $every: ...})"
                ) from exc
            if doc is not None:
                docs.append(doc)
                lines.append(node.start_mark.line)
    except yaml.YAMLError as exc:
        raise ScenarioFormatError(f"{path}: not valid YAML: {exc}") from exc
    finally:
        loader.dispose()
    return docs, lines


def load_text(text: str, path: Path) -> list[Scenario]:
    """Every scenario of YAML text said to come from ``path``, validated."""
    docs, lines = _documents(text, path)
    scenarios: list[Scenario] = []
    seen: set[str] = set()
    for index, doc in enumerate(docs):
        line = lines[index]
        label = f"{path}, document {index + 1}"
        if isinstance(doc, dict) and isinstance(doc.get("name"), str):
            label += f" ({doc['name']!r})"
        problem = validate_document(doc)
        if problem:
            raise ScenarioFormatError(f"{label}: {problem}")
        if doc["name"] in seen:
            raise ScenarioFormatError(f"{label}: at name: duplicate scenario name in this file")
        seen.add(doc["name"])
        scenarios.append(
            Scenario(
                name=doc["name"],
                api=doc["api"],
                steps=doc["steps"],
                path=path,
                index=index,
                line=line,
                requires=tuple(doc.get("requires", ())),
                tags=tuple(doc.get("tags", ())),
                vars=doc.get("vars", {}),
                description=doc.get("description", ""),
                source=doc.get("from"),
                proves=tuple(doc.get("proves", ())),
            )
        )
    if not scenarios:
        raise ScenarioFormatError(f"{path}: no scenario documents")
    return scenarios
