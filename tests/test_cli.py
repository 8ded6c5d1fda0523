"""``paysim``: help on every subcommand, exit codes, one small end-to-end conform run.

The suites themselves are tested elsewhere; here conform runs once on a small selection of the
bundled simulator, once on a simulator with a defect (the gate must fail), and the other exit
codes come from runs that stop before any suite starts.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from harness.simproc import SimulatorProcess, free_port
from harness.target import OPTIONS, bundled_credentials
from paysim.cli import build_parser, main

ROOT = Path(__file__).resolve().parent.parent
SMALL = ["--api", "freefin", "--suite", "scenarios", "-k", "refund"]

pytestmark = pytest.mark.filterwarnings(
    # harness.simproc lets the simulator's log file handle go unclosed (as in test_load_runs).
    r"ignore:Exception ignored in. <_io.FileIO name='.*sim\.log'"
    ":pytest.PytestUnraisableExceptionWarning"
)


def paysim(
    *args: str, env: dict[str, str] | None = None, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    """``paysim`` in a child process, from this checkout."""
    child_env = {k: v for k, v in os.environ.items() if not k.startswith("PAYSIM_")}
    child_env["PYTHONPATH"] = str(ROOT)
    child_env.update(env or {})
    return subprocess.run(
        [sys.executable, "-m", "paysim", *args],
        cwd=ROOT,
        env=child_env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("command", ["conform", "load", "report", "gaps"])
def test_help_is_complete(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main([command, "--help"])
    assert exc.value.code == 0
    text = capsys.readouterr().out
    assert text.startswith(f"usage: paysim {command}")
    parser = build_parser()
    sub = next(a for a in parser._actions if a.dest == "command").choices[command]  # type: ignore[union-attr]
    for action in sub._actions:
        for flag in action.option_strings:
            assert flag in text, f"{flag} missing from paysim {command} --help"
        if action.option_strings and action.dest != "help":
            assert action.help, f"{action.option_strings} has no help"


def test_conform_help_mirrors_the_target_options(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["conform", "--help"])
    text = capsys.readouterr().out
    for opt in OPTIONS:
        assert opt.flag in text and opt.env in text


def test_top_level_help_lists_every_command(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    text = capsys.readouterr().out
    for command in ("serve", "conform", "load", "report", "gaps"):
        assert command in text
    assert "Exit codes" in text


def test_serve_help_is_the_simulators() -> None:
    proc = paysim("serve", "--help", timeout=60)
    assert proc.returncode == 0
    assert "--port" in proc.stdout and "--defect" in proc.stdout


def test_unreachable_target_is_3_at_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("PAYSIM_TARGET_URL", raising=False)
    url = f"http://127.0.0.1:{free_port()}"
    code = main(
        [
            "conform",
            "--target-url",
            url,
            "--freefin-key",
            "k",
            "--kaspi-key",
            "k",
            "--report-dir",
            str(tmp_path),
        ]
    )
    assert code == 3
    err = capsys.readouterr().err
    assert "unreachable" in err and url in err
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["verdict"] == "failed" and summary["exit_code"] == 3
    assert "unreachable" in summary["meta"]["message"]


@pytest.mark.slow
def test_direct_pytest_on_an_unreachable_target_stops_at_once_with_3() -> None:
    """``pytest harness/contract scenarios --target-url <nothing there>``: one message, exit 3,
    before any test runs (none failed, none errored)."""
    url = f"http://127.0.0.1:{free_port()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYSIM_")}
    command = ["-m", "pytest", "harness/contract", "scenarios", "-p", "no:cacheprovider"]
    proc = subprocess.run(
        [sys.executable, *command, "--target-url", url],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 3, out
    assert out.count("unreachable") == 1, out
    assert f"paysim: freefin target unreachable at {url}" in out
    assert "no tests ran" in out
    assert not re.search(r"FAILED|ERROR|Traceback|\d+ (passed|failed|errors?)\b", out), out


@pytest.mark.server
def test_rejected_credential_is_3_naming_its_flag(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """A refused merchant B key stops the run before any suite, naming --freefin-key-b."""
    monkeypatch.delenv("PAYSIM_TARGET_URL", raising=False)
    creds = bundled_credentials()
    with SimulatorProcess() as sim:
        code = main(
            [
                "conform",
                "--target-url",
                sim.url,
                "--api",
                "freefin",
                "--freefin-key",
                creds["freefin_key"],
                "--freefin-key-b",
                "sk_test_wrong",
                "--report-dir",
                str(tmp_path),
            ]
        )
    assert code == 3
    err = capsys.readouterr().err
    assert "check --freefin-key-b" in err
    assert "sk_test_wrong" not in err


@pytest.mark.parametrize(
    "args, message",
    [
        (["--credentials-file", "/nonexistent/creds.yaml"], "creds.yaml"),
        (["--webhook-listen", "127.0.0.1"], "webhook_listen must be HOST:PORT"),
        (["--target-url", "http://127.0.0.1:9", "--webhook-listen", "h:x"], "webhook_listen"),
    ],
)
def test_bad_configuration_is_4(
    args: list[str], message: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["conform", *args, "--report-dir", str(tmp_path)]) == 4
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("env", "value", "message"),
    [("PAYSIM_API", "paypal", "api must be"), ("PAYSIM_CONTRACT_LEVEL", "lax", "contract_level")],
)
def test_a_bad_value_from_the_environment_is_4(
    env: str,
    value: str,
    message: str,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(env, value)
    assert main(["conform", "--report-dir", str(tmp_path)]) == 4
    assert message in capsys.readouterr().err


@pytest.mark.parametrize(
    ("flag", "value", "listed"),
    [("--api", "paypal", "freefin, kaspi, both"), ("--contract-level", "lax", "spec, strict")],
)
def test_an_option_with_a_closed_set_lists_it_and_refuses_others(
    flag: str, value: str, listed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["conform", flag, value])
    assert exc.value.code == 2  # bad usage
    assert listed.replace(", ", "', '") in capsys.readouterr().err


def test_unknown_setting_in_credentials_file_is_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    creds = tmp_path / "creds.yaml"
    creds.write_text("freefin_kye: sk_test_x\n")
    assert main(["load", "--credentials-file", str(creds)]) == 4
    assert "freefin_kye" in capsys.readouterr().err


@pytest.mark.parametrize(
    "command",
    ["", "serve", "proxy", "conform", "load", "report", "gaps", "webhooks check", "client-report"],
)
def test_help_is_plain_text(command: str) -> None:
    # No reStructuredText markup from a docstring reaches a terminal.
    done = paysim(*command.split(), "--help", timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("usage: paysim") and "``" not in done.stdout


@pytest.mark.parametrize(
    ("param", "said"),
    [("users=abc", "users='abc' is not a number"), ("users", "'users' is not name=value")],
)
def test_a_bad_shape_parameter_is_bad_usage_before_anything_starts(
    param: str, said: str, tmp_path: Path
) -> None:
    done = paysim("load", "smoke", "--shape-param", param, "--out", str(tmp_path), timeout=60)
    assert done.returncode == 2, done.stdout + done.stderr
    assert said in done.stderr and "Traceback" not in done.stderr
    assert "run folder" not in done.stdout and "simulator" not in done.stdout
    assert list(tmp_path.iterdir()) == []


def test_bad_usage_is_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["conform", "--suite", "everything"])
    assert exc.value.code == 2


def test_a_scenario_folder_that_is_not_one_is_bad_usage(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["conform", "--scenarios", str(tmp_path / "nowhere")])
    assert exc.value.code == 2
    assert "nowhere: not a folder" in capsys.readouterr().err


def test_conform_gives_scenario_folders_to_the_suites_only(tmp_path: Path) -> None:
    from harness.conform import ConformRun

    mine = tmp_path / "mine"
    both = ConformRun(tmp_path / "out", {}, scenario_folders=[mine]).command()
    assert str(mine) in both and both[both.index("--scenarios") + 1] == str(mine)
    contract = ConformRun(tmp_path / "out", {}, suite="contract", scenario_folders=[mine])
    assert "--scenarios" not in contract.command() and str(mine) not in contract.command()


@pytest.mark.slow
def test_conform_end_to_end_on_a_small_selection(tmp_path: Path) -> None:
    report = tmp_path / "report"
    proc = paysim("conform", *SMALL, "--report-dir", str(report))
    out = proc.stdout
    assert proc.returncode == 0, out + proc.stderr
    # Progress while running, then a table per suite.
    assert "collected" in out and "scenarios freefin/refunds:" in out
    assert "done, 0 failed (failures so far: 0)" in out
    assert "PASSED:" in out and "spec gaps:" in out
    for name in (
        "junit.xml",
        "summary.json",
        "report.html",
        "pytest-junit.xml",
        "run.json",
        "scenario-summary.json",
        "pytest.log",
    ):
        assert (report / name).exists(), name
    summary = json.loads((report / "summary.json").read_text())
    assert summary["verdict"] == "passed" and summary["exit_code"] == 0
    refunds = summary["scenarios"]["scenarios freefin/refunds"]
    assert len(refunds) >= 3 and {r["outcome"] for r in refunds} == {"passed"}
    assert summary["spec_gaps"]["findings"]
    suites = {s.get("name") for s in ET.parse(report / "junit.xml").getroot().iter("testsuite")}
    assert "scenarios.freefin.refunds" in suites


@pytest.mark.slow
def test_conform_fails_the_gate_on_a_broken_target(tmp_path: Path) -> None:
    """A simulator whose refunds ignore the payment's status: exit 1, the failure in the report
    with its curl, the secrets masked."""
    with SimulatorProcess(extra_args=["--defect", "freefin.refund_any_status"]) as sim:
        creds = tmp_path / "creds.yaml"
        settings = {**bundled_credentials(), "control_url": f"{sim.url}/_sim"}
        creds.write_text(yaml.safe_dump(settings))
        report = tmp_path / "report"
        proc = paysim(
            "conform",
            *SMALL,
            "--target-url",
            sim.url,
            "--report-dir",
            str(report),
            env={"PAYSIM_CREDENTIALS_FILE": str(creds)},
        )
    assert proc.returncode == 1, proc.stdout + proc.stderr
    assert "FAIL" in proc.stdout and "FAILED:" in proc.stdout
    summary = json.loads((report / "summary.json").read_text())
    failure = next(f for f in summary["failures"] if f["suite"] == "scenarios freefin/refunds")
    assert failure["curl"].startswith("curl") and failure["response"].startswith("HTTP ")
    key = bundled_credentials()["freefin_key"]
    for name in ("summary.json", "junit.xml", "report.html"):
        assert key not in (report / name).read_text(), name


def test_report_command_rerenders_a_finished_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from tests.test_report import write_fixture_run

    run = write_fixture_run(tmp_path / "run")
    out = tmp_path / "out"
    assert main(["report", str(run), "--out", str(out), "--api", "kaspi"]) == 1  # it failed
    text = capsys.readouterr().out
    assert "load smoke" in text and "FAILED" in text
    summary = json.loads((out / "summary.json").read_text())
    assert {f["api"] for f in summary["spec_gaps"]["findings"]} == {"kaspi"}
    assert main(["report", str(tmp_path / "missing")]) == 4


def test_load_joins_the_run_report(tmp_path: Path) -> None:
    """``paysim load --report-dir``: the thresholds become JUnit cases of that run's report."""
    report = tmp_path / "report"
    proc = paysim(
        "load",
        "smoke",
        "--api",
        "freefin",
        # The smoke profile's own shape: a shorter run would not earn its thresholds.
        "--report-dir",
        str(report),
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr
    # the verdict comes last; Locust's own tables stay in the log unless -v
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("paysim load: PASSED: every threshold held;"), proc.stdout[-2000:]
    assert "p99" in last and "0 duplicates" in last and "races" in last
    assert (
        "Aggregated" not in proc.stdout
        and "Aggregated" in (report / "load" / "locust.log").read_text()
    )
    assert (report / "load" / "stats_stats_history.csv").exists()
    load = next(
        s
        for s in ET.parse(report / "junit.xml").getroot().iter("testsuite")
        if s.get("name") == "load.smoke"
    )
    assert int(load.get("tests") or 0) > 3 and load.get("failures") == "0"
    summary = json.loads((report / "summary.json").read_text())
    assert summary["load"]["history"] and summary["meta"]["load_exit_code"] == 0
    assert (report / "report.html").read_text().count("<polyline") >= 3


def test_a_broken_load_run_ends_in_what_broke(tmp_path: Path) -> None:
    from loadtests.thresholds import load_verdict

    verdict = tmp_path / "thresholds.json"
    verdict.write_text(
        json.dumps(
            {
                "passed": False,
                "observed": {
                    "requests": 10,
                    "failures": 0,
                    "duplicates": 2,
                    "operations": {"POST freefin /payments": {"requests": 10, "p99": 912.4}},
                },
                "checks": [
                    {"what": "duplicates created", "limit": "<= 0", "observed": "2", "held": False},
                    {"what": "error rate", "limit": "<= 1%", "observed": "0%", "held": True},
                ],
            }
        )
    )
    text = load_verdict(verdict, 1)
    last = text.splitlines()[-1]
    assert last.startswith("paysim load: FAILED: 1 threshold broken (duplicates created)")
    assert "no p99 measured (no operation made 100 requests)" in last and "2 duplicates" in last
    assert "FAILED (exit 1): no verdict" in load_verdict(tmp_path / "missing.json", 1)


def test_a_load_run_that_did_not_earn_a_threshold_does_not_pass(tmp_path: Path) -> None:
    from loadtests.thresholds import load_verdict

    verdict = tmp_path / "thresholds.json"
    check = {"what": "duplicates created, kaspi (0 replays, 0 races)", "limit": "<= 0"}
    verdict.write_text(
        json.dumps(
            {
                "passed": False,
                "observed": {
                    "requests": 300,
                    "operations": {"GET kaspi /v1/me": {"requests": 120, "p99": 40.0}},
                },
                "checks": [
                    {**check, "observed": "0; too few", "held": None, "samples": 0, "needed": 5}
                ],
            }
        )
    )
    last = load_verdict(verdict, 5).splitlines()[-1]
    assert last.startswith("paysim load: NOT PASSED: 1 threshold not measured, too few samples")
    assert "worst p99 40 ms (GET kaspi /v1/me)" in last
