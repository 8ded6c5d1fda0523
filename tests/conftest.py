"""Fixtures of the project's tests: a fresh simulator app per test, a spec-checking client."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient

from simulator.app import create_app
from simulator.core.runtime import Runtime
from tests import spec_check

FF = "/api/v1/public"
KEY_A1 = "sk_test_rom001_Jq7Zt2xVw9LmN4pR"
SECRET_A1 = "ss_rom001_e8c1b7a2f4d94c6e"
KEY_A2 = "sk_test_rom002_Hs3Kd8Pq1Vx6Yb0C"  # requires signatures
SECRET_A2 = "ss_rom002_5a9d2e7c1b8f4036"
KEY_A3 = "sk_test_rom003_Wn5Gc2Tf8Rj4Ua7E"  # same merchant, default outcome pending
KEY_B = "sk_test_vas001_Lm8Np3Qr6St9Uv2W"
KEY_SLOW = "sk_test_slo001_Xy4Zb7Cd1Ef5Gh8J"
_GROUPS_KEY = pytest.StashKey[Path]()


class SpecClient:
    """A test client whose every /api response is checked against the spec."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def request(self, method: str, path: str, key: str | None = KEY_A1, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}) or {})
        if key is not None:
            headers.setdefault("Authorization", f"Bearer {key}")
        resp = self.client.open(path, method=method, headers=headers, **kwargs)
        if path.startswith(FF):
            spec_check.check(
                "freefin.openapi.yaml",
                method,
                path.split("?")[0],
                resp.status_code,
                resp.get_data(),
                resp.content_type or "",
            )
        elif path.startswith("/api/"):
            spec_check.check(
                "kaspi.openapi.json",
                method,
                path.split("?")[0],
                resp.status_code,
                resp.get_data(),
                resp.content_type or "",
            )
        return resp

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)


@pytest.fixture
def app() -> Iterator[Flask]:
    app = create_app({"TICKER": False})
    yield app
    app.extensions["paysim.runtime"].stop()


@pytest.fixture
def rt(app: Flask) -> Runtime:
    return app.extensions["paysim.runtime"]  # type: ignore[no-any-return]


@pytest.fixture
def api(app: Flask) -> SpecClient:
    return SpecClient(app.test_client())


def create_payment(api: SpecClient, key: str = KEY_A1, **fields: Any) -> dict[str, Any]:
    body = {"amount": 150000, "order_id": "ORDER-1", **fields}
    resp = api.post(f"{FF}/payments", key=key, json=body)
    assert resp.status_code == 201, resp.json
    return resp.json["payment"]  # type: ignore[no-any-return]


# -- running in several processes (make test: pytest-xdist, --dist loadgroup) -------------------
#
# Tests marked ``xdist_group(name)`` share something costly (a module's fixture): they go to one
# process, which computes it once. xdist 3.8 says a test's group by appending it to the node id,
# which pytest 9.2's structured node ids no longer let it change, so the grouping would silently
# not happen: each process writes its tests' groups to a file instead, and the scheduler reads
# them. Every process collects alike, so every process writes the same groups.

GROUPS_DIR = "paysim_xdist_groups"


def _group(item: pytest.Item) -> str | None:
    names = sorted(
        str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
        for mark in item.iter_markers("xdist_group")
    )
    return "_".join(names) or None


def pytest_configure(config: pytest.Config) -> None:
    if not hasattr(config, "workerinput") and config.getoption("dist", "no") == "loadgroup":
        config.stash[_GROUPS_KEY] = Path(tempfile.mkdtemp(prefix="paysim-xdist-"))


def pytest_unconfigure(config: pytest.Config) -> None:
    folder = config.stash.get(_GROUPS_KEY, None)
    if folder is not None:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.hookimpl(optionalhook=True)
def pytest_configure_node(node: Any) -> None:
    """The folder where each process says its tests' groups."""
    folder = node.config.stash.get(_GROUPS_KEY, None)
    if folder is not None:
        node.workerinput[GROUPS_DIR] = str(folder)


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_make_scheduler(config: pytest.Config, log: Any) -> Any:
    if _GROUPS_KEY not in config.stash:
        return None
    from xdist.scheduler import LoadGroupScheduling

    folder = config.stash[_GROUPS_KEY]

    class FileGroups(LoadGroupScheduling):
        groups: dict[str, str] | None = None

        def _split_scope(self, nodeid: str) -> str:
            if self.groups is None:  # read once every process has collected
                self.groups = {}
                for path in sorted(folder.glob("*.json")):
                    self.groups.update(json.loads(path.read_text(encoding="utf-8")))
            return self.groups.get(nodeid) or str(super()._split_scope(nodeid))

    return FileGroups(config, log)


@pytest.hookimpl(trylast=True)
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In an xdist process: the tests marked slow go first (in their order), so that the
    processes are handed the long ones while there is other work to run beside them, and end
    together; and the tests' groups are written for the scheduler."""
    workerinput = getattr(config, "workerinput", None)
    if workerinput is None:
        return
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
    folder = workerinput.get(GROUPS_DIR)
    if folder:
        groups = {item.nodeid: group for item in items if (group := _group(item))}
        path = Path(folder) / f"{workerinput['workerid']}.json"
        path.with_suffix(".tmp").write_text(json.dumps(groups), encoding="utf-8")
        path.with_suffix(".tmp").replace(path)


# -- the store's two engines ----------------------------------------------------------------

ENGINES = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", autouse=True)
def state_dir(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """What the harness keeps between runs (endpoint_store) goes to the run's own folder, for
    every test and every process a test starts, never to the user's cache."""
    folder = tmp_path_factory.mktemp("paysim-state")
    before = os.environ.get("PAYSIM_STATE_DIR")
    os.environ["PAYSIM_STATE_DIR"] = str(folder)
    yield folder
    if before is None:
        os.environ.pop("PAYSIM_STATE_DIR", None)
    else:
        os.environ["PAYSIM_STATE_DIR"] = before


@pytest.fixture(scope="session")
def postgres() -> Iterator[Any]:
    """One PostgreSQL cluster for the run (Debian's binaries), a database per simulator."""
    from tests.pg import PostgresCluster

    with PostgresCluster() as cluster:
        yield cluster


def database(
    request: pytest.FixtureRequest, engine: str, fallback: str | None = None
) -> str | None:
    """A fresh database of ``engine`` for one simulator: a new PostgreSQL database, or
    ``fallback`` (None: the simulator's own temporary SQLite file)."""
    if engine == "sqlite":
        return fallback
    import uuid

    return str(request.getfixturevalue("postgres").database(f"t_{uuid.uuid4().hex[:12]}"))
