"""The suite's request signing has teeth: with a terminal that requires X-Freefin-Signature as
the main key, the freefin writes pass only because the suite signs them."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from harness.contract import auth
from harness.contract.run import run_contract
from harness.simproc import SimulatorProcess
from tests.test_contract_freefin import settings, summary, switch

pytestmark = [pytest.mark.server, pytest.mark.slow]

SIGNED_KEY = "sk_test_rom002_Hs3Kd8Pq1Vx6Yb0C"  # terminal A2: signatures required
SIGNED_SECRET = "ss_rom002_5a9d2e7c1b8f4036"
ORIGINAL = auth.signature
OPERATIONS = ("createPayment", "refundPayment")


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess() as process:
        yield process


def _run_signed(sim: SimulatorProcess, out: Path) -> int:
    switch(sim, None)
    signed = {**settings(sim), "freefin_key": SIGNED_KEY, "freefin_signing_secret": SIGNED_SECRET}
    return run_contract(
        signed,
        "freefin",
        "spec",
        "default",
        out,
        operations=OPERATIONS,
        select="test_operation or stateful",
        in_process=True,
    )


def test_signed_terminal_passes(sim: SimulatorProcess, tmp_path: Path) -> None:
    code = _run_signed(sim, tmp_path)
    data = summary(tmp_path)
    assert data["failed_checks"] == [], data["failed_checks"]
    assert data["requests"] > 0
    assert code == 0


def test_signed_terminal_fails_when_signing_breaks(
    sim: SimulatorProcess, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Sign something other than the bytes sent: the terminal must refuse every write.
    monkeypatch.setattr(auth, "signature", lambda secret, body: ORIGINAL(secret, body + b" "))
    code = _run_signed(sim, tmp_path)
    assert "positive_data_acceptance" in summary(tmp_path)["failed_checks"]
    assert code == 1
