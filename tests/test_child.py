"""A child run's command line and environment are built in one place, for conform, the contract
runner and the load generator alike: settings in the environment, never on the command line."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness import child
from harness.conform import ConformRun
from harness.contract.run import pytest_args

SECRET = "sk_test_not_on_any_command_line"


@pytest.fixture
def inherited(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PAYSIM_FREEFIN_KEY", "inherited-key")
    monkeypatch.setenv("PAYSIM_CONTRACT_OPERATIONS", "createPayment")
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")


@pytest.mark.usefixtures("inherited")
def test_settings_go_in_the_environment_over_what_was_inherited() -> None:
    env = child.environment({"kaspi_key": SECRET, "api": "kaspi", "target_profile": None})
    assert env["PAYSIM_KASPI_KEY"] == SECRET and env["PAYSIM_API"] == "kaspi"
    assert "PAYSIM_TARGET_PROFILE" not in env
    assert env["PAYSIM_FREEFIN_KEY"] == "inherited-key"
    assert env["PYTHONPATH"] == os.pathsep.join((str(child.ROOT), "/elsewhere"))


@pytest.mark.usefixtures("inherited")
def test_a_run_that_names_its_settings_inherits_none_but_the_operations() -> None:
    env = child.environment({"kaspi_key": SECRET}, only_these=True, EXTRA="1")
    assert "PAYSIM_FREEFIN_KEY" not in env
    assert env["PAYSIM_CONTRACT_OPERATIONS"] == "createPayment" and env["EXTRA"] == "1"


def test_an_unknown_setting_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="unknown target settings \\['freefin_kee'\\]"):
        child.environment({"freefin_kee": "x"})


@pytest.mark.usefixtures("inherited")
def test_conform_and_the_contract_runner_start_pytest_alike(tmp_path: Path) -> None:
    run = ConformRun(tmp_path, {"kaspi_key": SECRET, "api": "freefin"}, suite="contract")
    command = run.command()
    contract = child.pytest_command(pytest_args("freefin"))
    assert command[:3] == contract[:3] == [sys.executable, "-m", "pytest"]
    for args in (command, contract):
        assert args[3] == str(child.CONTRACT_SUITES["freefin"])
        assert str(child.CONTRACT_SUITES["kaspi"]) not in args
        at = args.index("--rootdir")
        assert args[at : at + 5] == ["--rootdir", str(child.ROOT), "-p", "no:cacheprovider", "-q"]
    assert SECRET not in " ".join(command)
    env = run.environment()
    assert env["PAYSIM_KASPI_KEY"] == SECRET and "PAYSIM_FREEFIN_KEY" not in env


def test_an_api_neither_suite_knows_is_refused() -> None:
    with pytest.raises(ValueError, match="api must be freefin, kaspi or both, not 'paypal'"):
        child.contract_suites("paypal")
