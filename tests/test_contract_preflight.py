"""Preflight tries every credential it is given and names the flag of the one refused."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.apis import FACTS
from harness.preflight import PreflightError, preflight
from harness.simproc import SimulatorProcess
from harness.target import bundled_credentials, make_target

pytestmark = [pytest.mark.server]


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess() as process:
        yield process


def test_every_seeded_credential_passes(sim: SimulatorProcess) -> None:
    preflight(make_target({"target_url": sim.url, **bundled_credentials()}))


@pytest.mark.parametrize("field", FACTS["freefin"].key_fields() + FACTS["kaspi"].key_fields())
def test_a_refused_credential_names_its_flag(sim: SimulatorProcess, field: str) -> None:
    settings = {"target_url": sim.url, **bundled_credentials(), field: "sk_test_wrong_key"}
    flag = "--" + field.replace("_", "-")
    with pytest.raises(PreflightError, match=f"rejected the credentials \\(401\\): check {flag}$"):
        preflight(make_target(settings))


def test_absent_optional_credentials_are_not_tried(sim: SimulatorProcess) -> None:
    creds = bundled_credentials()
    preflight(
        make_target(
            {
                "target_url": sim.url,
                "freefin_key": creds["freefin_key"],
                "kaspi_key": creds["kaspi_key"],
            }
        )
    )
