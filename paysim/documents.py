"""Where the documents live: the seed OpenAPI documents with their supplements and links
(``specs/`` in the repository, ``paysim.specs`` once installed), the bundled scenario suites
(``scenarios/``, ``paysim.scenarios``) and the simulator's default seed file.

Both folders are package data, found through :mod:`importlib.resources`, so a wheel installed
with no checkout reads them as a checkout does. Every module that needs a document asks here.
This module imports nothing of the project, so the simulator and the harness may both ask it
without importing each other or the command line.
"""

from __future__ import annotations

from importlib.resources import files
from importlib.util import find_spec
from pathlib import Path

APIS = ("freefin", "kaspi")


def _folder(package: str) -> Path:
    # An installed wheel and a checkout both unpack to plain folders: the reader gives a Path.
    return Path(str(files(package)))


def _package_folder(package: str) -> Path:
    # Found without importing it: the harness reads the simulator's seed, never its code.
    spec = find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(f"no package {package}")
    return Path(next(iter(spec.submodule_search_locations)))


SPECS = _folder("paysim.specs")
SCENARIOS = _folder("paysim.scenarios")
# merchants, terminals, keys and limits the bundled simulator starts with
DEFAULT_SEED = _package_folder("simulator") / "seed.yaml"


def spec(name: str) -> Path:
    """The file ``name`` among the seed documents, supplements and links."""
    return SPECS / name


def scenarios(api: str) -> Path:
    """The folder of the bundled scenarios of ``api``."""
    if api not in APIS:
        raise ValueError(f"api must be one of {APIS}, not {api!r}")
    return SCENARIOS / api
