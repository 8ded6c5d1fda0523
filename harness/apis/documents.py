"""Where each API's documents are, and how one is read.

Each API has a seed (the OpenAPI document as its owner published it, never changed), a
supplement (what the seed leaves open, settled one way) and a links overlay (the OpenAPI links
the stateful runs follow). The folder they live in is :mod:`paysim.documents`'s to say; the
file names are said here, once.
"""

from __future__ import annotations

import dataclasses
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from paysim.documents import APIS, SPECS

SEED_NAMES = {"freefin": "freefin.openapi.yaml", "kaspi": "kaspi.openapi.json"}


@dataclasses.dataclass(frozen=True)
class DocumentFiles:
    """The three files of one API, in one folder."""

    seed: Path
    supplement: Path
    links: Path


def files(api: str, folder: Path = SPECS) -> DocumentFiles:
    """The documents of ``api`` in ``folder`` (the bundled specs unless another is given)."""
    if api not in APIS:
        raise ValueError(f"api must be one of {APIS}, not {api!r}")
    return DocumentFiles(
        seed=folder / SEED_NAMES[api],
        supplement=folder / f"{api}.supplement.yaml",
        links=folder / f"{api}.links.yaml",
    )


def read(path: Path) -> dict[str, Any]:
    """A JSON or YAML document as a dict (empty when the file does not exist)."""
    if not path.exists():
        return {}
    text = path.read_text(encoding="utf-8")
    data = json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    return data or {}


@cache
def supplement(api: str) -> dict[str, Any]:
    """The bundled supplement of ``api``, read once (do not change it)."""
    return read(files(api).supplement)
