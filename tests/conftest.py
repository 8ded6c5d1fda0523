"""Fixtures of the project's tests: a fresh simulator app per test, a spec-checking client."""

from __future__ import annotations

import os
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
