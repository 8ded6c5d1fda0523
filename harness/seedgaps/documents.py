"""The seed and supplement documents of one API, and what a finding is."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from harness.apis.documents import SEED_NAMES, files, read
from paysim.documents import SPECS

SEEDS = SEED_NAMES  # the seed file of each API, by name
METHODS = ("get", "put", "post", "delete", "patch")
BODY_METHODS = ("post", "put", "patch")
KINDS = (
    "no_operation_id",
    "no_response_schema",
    "no_request_schema",
    "loose_request_schema",
    "enum_mismatch",
    "type_mismatch",
    "undescribed_events",
    "undescribed_stream",
    "missing_links",
    "security_errors",
    "partial_errors",
)
CONSTRAINTS = (
    "enum",
    "minimum",
    "maximum",
    "multipleOf",
    "pattern",
    "maxLength",
    "minLength",
    "maxItems",
    "minItems",
    "format",
)
EVENT_NAME = re.compile(r"`([a-z]+\.[a-z_]+)`|\"([a-z]+\.[a-z_]+)\"")


@dataclasses.dataclass(frozen=True)
class Resolution:
    """Where the harness settles a finding: a file and an entry in it (dotted path)."""

    file: str
    entry: str
    excerpt: str = ""


@dataclasses.dataclass(frozen=True)
class SeedGap:
    """One thing a seed document leaves open or contradicts."""

    api: str
    kind: str
    where: str
    detail: str
    resolutions: tuple[Resolution, ...] = ()
    note: str = ""

    @property
    def resolved(self) -> bool:
        return bool(self.resolutions)

    def to_json(self) -> dict[str, Any]:
        """A plain dict, for the JSON output and the report."""
        data = dataclasses.asdict(self)
        data["resolutions"] = [dataclasses.asdict(r) for r in self.resolutions]
        data["resolved"] = self.resolved
        return data


class Documents:
    """One API's seed, supplement and links overlay, with $ref resolution across them."""

    def __init__(self, api: str, specs: Path = SPECS) -> None:
        self.api = api
        found = files(api, specs)
        self.seed_name = found.seed.name
        self.supplement_name = found.supplement.name
        self.links_name = found.links.name
        self.seed = read(found.seed)
        self.supplement = read(found.supplement)
        self.links = read(found.links)

    def operations(self) -> Iterator[tuple[str, str, dict[str, Any]]]:
        """(method, path, operation) of the seed, in document order."""
        for path, item in self.seed.get("paths", {}).items():
            for method, op in item.items():
                if method in METHODS and isinstance(op, dict):
                    yield method, path, op

    def resolve(self, node: Any, home: str = "seed") -> tuple[Any, str]:
        """Follow ``$ref`` chains; returns the target and the document it lives in."""
        seen = 0
        while isinstance(node, dict) and "$ref" in node and seen < 20:
            seen += 1
            ref = node["$ref"]
            file, _, pointer = ref.partition("#")
            if file:
                home = "seed" if file == self.seed_name else "supplement"
            doc = self.seed if home == "seed" else self.supplement
            node = at_pointer(doc, pointer)
        return node, home

    def properties(self, schema: Any, home: str = "seed") -> dict[str, dict[str, Any]]:
        """Properties of an object schema, through $ref and allOf, resolved one level."""
        schema, home = self.resolve(schema, home)
        found: dict[str, dict[str, Any]] = {}
        if not isinstance(schema, dict):
            return found
        for part in schema.get("allOf", []):
            for name, prop in self.properties(part, home).items():
                found[name] = {**found.get(name, {}), **prop}
        for name, prop in (schema.get("properties") or {}).items():
            resolved, _h = self.resolve(prop, home)
            found[name] = {
                **found.get(name, {}),
                **(resolved if isinstance(resolved, dict) else {}),
            }
        return found

    def supplement_operation(
        self, method: str, path: str, op: dict[str, Any]
    ) -> tuple[str, dict[str, Any]]:
        """The supplement's entry for an operation (keyed by operationId or "METHOD /path")."""
        ops = self.supplement.get("operations") or {}
        for key in (op.get("operationId"), f"{method.upper()} {path}"):
            if key and key in ops:
                return f"operations.{key_of(key)}", ops[key] or {}
        return "", {}

    def supplement_entry(self, dotted: str) -> Resolution | None:
        """A Resolution for a supplement entry, or None when the supplement lacks it."""
        return entry_of(self.supplement, self.supplement_name, dotted)

    def links_entry(self, dotted: str) -> Resolution | None:
        """A Resolution for an entry of the links overlay, or None when it lacks it."""
        return entry_of(self.links, self.links_name, dotted)


def at_pointer(doc: Any, pointer: str) -> Any:
    node = doc
    for part in filter(None, pointer.split("/")):
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


def split_dotted(dotted: str) -> list[str]:
    """Split a dotted entry path; segments in brackets keep their dots and slashes."""
    return [a or b for a, b in re.findall(r"\[([^\]]+)\]|([^.\[\]]+)", dotted)]


def entry_of(doc: dict[str, Any], file: str, dotted: str) -> Resolution | None:
    node: Any = doc
    for part in split_dotted(dotted):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    text = (
        node
        if isinstance(node, str)
        else yaml.safe_dump(node, allow_unicode=True, sort_keys=False, width=96).rstrip()
    )
    lines = text.splitlines()
    excerpt = "\n".join(lines[:10]) + ("\n…" if len(lines) > 10 else "")
    return Resolution(file, dotted, excerpt)


def key_of(name: str) -> str:
    """A dotted-path segment: bracketed when it holds dots, slashes or spaces."""
    return f"[{name}]" if re.search(r"[./ ]", name) else name


def label_of(method: str, path: str, op: dict[str, Any]) -> str:
    op_id = op.get("operationId")
    return f"{method.upper()} {path}" + (f" ({op_id})" if op_id else "")


def has_body_schema(response: dict[str, Any]) -> bool:
    return any(
        isinstance(c, dict) and "schema" in c for c in (response.get("content") or {}).values()
    )


def is_secured(doc: Documents, op: dict[str, Any]) -> bool:
    return bool(op.get("security", doc.seed.get("security")))


def collection_of(path: str) -> str:
    """The collection a path's first ``{param}`` belongs to: ``/v1/invoices/{id}/x`` ->
    ``/v1/invoices``."""
    return path.split("/{", 1)[0]


def resource_name_of(path: str) -> str:
    segment = collection_of(path).rstrip("/").rsplit("/", 1)[-1]
    segment = segment.removesuffix("s") if segment.endswith("s") else segment
    return "".join(part.capitalize() for part in re.split(r"[-_]", segment))
