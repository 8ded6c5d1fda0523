"""A target profile: a partner's incidental choices, stated once, where the seeds leave them open.

``paysim conform --target-profile partner.yaml``. The file is checked against
``harness/profile.schema.json``; an unknown key or a wrong type is refused with the file and
the line. What a profile may say, per API: which optional features exist (webhooks, SSE, a
low-limit merchant), where a list keeps its items and total, the target's names for the
supplement's error codes and event kinds, and how its webhooks are signed. Without a profile
every feature is assumed, lists are found through their shape, names are the supplement's.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

SCHEMA_FILE = Path(__file__).with_name("profile.schema.json")
SIMULATOR_PROFILE = Path(__file__).with_name("profiles") / "simulator.yaml"


class ProfileError(ValueError):
    """A profile file that cannot be used; the message names the file and line."""


@dataclasses.dataclass(frozen=True)
class ApiProfile:
    """One API's part of a profile."""

    features: dict[str, bool] = dataclasses.field(default_factory=dict)
    lists: dict[str, str] = dataclasses.field(default_factory=dict)
    codes: dict[str, str] = dataclasses.field(default_factory=dict)
    events: dict[str, str] = dataclasses.field(default_factory=dict)
    webhooks: dict[str, Any] = dataclasses.field(default_factory=dict)

    def has(self, feature: str) -> bool:
        """Whether the target has an optional feature (unsaid: yes)."""
        return self.features.get(feature, True)


@dataclasses.dataclass(frozen=True)
class Profile:
    """A whole profile (both APIs); ``Profile()`` is the empty one."""

    path: str = ""
    apis: dict[str, ApiProfile] = dataclasses.field(default_factory=dict)

    def api(self, name: str) -> ApiProfile:
        return self.apis.get(name, ApiProfile())


def _line(node: yaml.Node, path: list[Any]) -> int:
    """The 1-based line of the node at ``path`` (a key's own line for mappings)."""
    line = node.start_mark.line
    for part in path:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                if key.value == str(part):
                    line, node = key.start_mark.line, value
                    break
            else:
                break
        elif isinstance(node, yaml.SequenceNode) and isinstance(part, int):
            node = node.value[part]
            line = node.start_mark.line
        else:
            break
    return line + 1


def _problem(error: jsonschema.ValidationError, node: yaml.Node, where: str) -> str:
    path = list(error.absolute_path)
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        allowed = ", ".join(sorted(error.schema.get("properties", {})))
        return (
            f"{where}, line {_line(node, [*path, unknown[0]])}: unknown key {unknown[0]!r}"
            f" at {'.'.join(map(str, path)) or 'top level'} (known: {allowed})"
        )
    shown = ".".join(map(str, path)) or "top level"
    return f"{where}, line {_line(node, path)}: at {shown}: {error.message}"


@cache
def _validator() -> jsonschema.protocols.Validator:
    schema = json.loads(SCHEMA_FILE.read_text(encoding="utf-8"))
    cls = jsonschema.validators.validator_for(schema)
    return cls(schema)


def load(path: str | Path) -> Profile:
    """Read and check a profile file; ProfileError names the file and line of a mistake."""
    where = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise ProfileError(f"{where}: cannot read the target profile: {exc}") from exc
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ProfileError(f"{where}: not valid YAML: {exc}") from exc
    if node is None or data is None:
        return Profile(where)
    errors = sorted(_validator().iter_errors(data), key=lambda e: list(map(str, e.path)))
    if errors:
        raise ProfileError(_problem(errors[0], node, where))
    apis = {}
    for api in ("freefin", "kaspi"):
        part = data.get(api) or {}
        apis[api] = ApiProfile(
            features=dict(part.get("features", {})),
            lists=dict(part.get("lists", {})),
            codes=dict(part.get("errors", {}).get("codes", {})),
            events=dict(part.get("events", {})),
            webhooks=dict(part.get("webhooks", {})),
        )
    return Profile(where, apis)


@cache
def load_cached(path: str) -> Profile:
    """:func:`load`, once per file and process."""
    return load(path)


def for_target(profile_path: str | None, bundled: bool) -> Profile:
    """The profile a run uses: the one given, else the simulator's for the bundled simulator,
    else the empty one."""
    if profile_path:
        return load_cached(str(profile_path))
    if bundled:
        return load_cached(str(SIMULATOR_PROFILE))
    return Profile()
