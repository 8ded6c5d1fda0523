"""The parsers of the commands with many options (conform, load, replay and scenario,
webhooks), which ``paysim.cli.build_parser`` puts together, and the target options every command
that talks to a target shares."""

from __future__ import annotations

import argparse
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.grading.findings import FORMATS
from harness.target import LOAD_OPTIONS, OPTIONS
from paysim.commands import EPILOG, LOAD_PROFILES, cmd_conform, cmd_load
from paysim.grading import cmd_replay, cmd_scenario_from_har, cmd_webhooks_check


def target_options(parser: argparse.ArgumentParser, names: Sequence[str] | None = None) -> None:
    """The target options (all, or those ``names``), each with its PAYSIM_<NAME> in its help."""
    group = parser.add_argument_group("target (each also reads PAYSIM_<NAME>)")
    for opt in OPTIONS:
        if names is None or opt.name in names:
            group.add_argument(
                opt.flag,
                dest=opt.name,
                default=None,
                choices=opt.choices or None,
                metavar=None if opt.choices else opt.name.upper(),
                help=f"{opt.help} [env {opt.env}]",
            )


def api_option(parser: argparse.ArgumentParser, help: str) -> None:
    """--api: freefin, kaspi or both (the default)."""
    parser.add_argument(
        "--api", choices=["freefin", "kaspi", "both"], default="both", help=f"{help} (default both)"
    )


def format_option(parser: argparse.ArgumentParser) -> None:
    """--format: which files a grade is written as."""
    parser.add_argument(
        "--format",
        action="append",
        choices=FORMATS,
        help="write only these (repeatable; default all: " + ", ".join(FORMATS) + ")",
    )


def folder(text: str) -> Path:
    """An existing folder, else a usage error before anything starts."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: not a folder")
    return path


def conform_parser(sub: Any) -> None:
    """``paysim conform``."""
    p = sub.add_parser(
        "conform",
        help="contract + scenario suites against a target, with a report",
        description="Run the contract suite and the scenario suites against a target (the "
        "bundled simulator when no --target-url is given), print progress and a table per "
        "suite, and write junit.xml, summary.json and report.html into --report-dir. Options "
        "after -- go to pytest.",
        epilog=EPILOG,
    )
    p.add_argument(
        "--suite",
        choices=["all", "contract", "scenarios"],
        default="all",
        help="which suites to run (default all)",
    )
    p.add_argument(
        "--contract-profile",
        "--profile",
        dest="contract_profile",
        choices=["default", "deep"],
        default=os.environ.get("PAYSIM_CONTRACT_PROFILE", "default"),
        help="contract generation depth: default (bounded, deterministic: CI) or "
        "deep (nightly) [env PAYSIM_CONTRACT_PROFILE]",
    )
    p.add_argument(
        "--contract-operation",
        action="append",
        metavar="OP",
        help="test only this operation (operationId or 'METHOD /path'); repeatable "
        "[env PAYSIM_CONTRACT_OPERATIONS]",
    )
    p.add_argument(
        "--scenarios",
        dest="scenario_folders",
        action="append",
        type=folder,
        default=[],
        metavar="DIR",
        help="also run the scenarios in this folder of your own, validated as the bundled "
        "ones (repeatable)",
    )
    p.add_argument(
        "-k", dest="select", metavar="EXPRESSION", help="only tests whose names match (pytest -k)"
    )
    p.add_argument(
        "--report-dir",
        default=os.environ.get("PAYSIM_REPORT_DIR", "reports/latest"),
        help="where results and the report go; the previous run's results there are "
        "replaced (default reports/latest) [env PAYSIM_REPORT_DIR]",
    )
    p.add_argument(
        "--load",
        choices=LOAD_PROFILES,
        metavar="PROFILE",
        help="also run this load profile after the suites (its thresholds join the "
        "report): " + ", ".join(LOAD_PROFILES),
    )
    p.add_argument(
        "--require-coverage",
        action="append",
        metavar="[API=]PERCENT",
        default=[v for v in os.environ.get("PAYSIM_REQUIRE_COVERAGE", "").split(",") if v],
        help="fail (exit 5) when the run proves less than PERCENT of the seed's promises, for "
        "every API or the one named; repeatable [env PAYSIM_REQUIRE_COVERAGE, comma-separated]",
    )
    p.add_argument(
        "--max-time",
        type=float,
        default=1800.0,
        metavar="SECONDS",
        help="stop the suites after this long, as a failure (default 1800; 0: never)",
    )
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also show pytest's own output (always kept in pytest.log)",
    )
    p.add_argument(
        "pytest_args", nargs="*", metavar="-- PYTEST_ARGS", help="more pytest arguments, after --"
    )
    target_options(p)
    p.set_defaults(func=cmd_conform)


def load_parser(sub: Any) -> None:
    """``paysim load``."""
    p = sub.add_parser(
        "load",
        help="a Locust load profile with its pass/fail thresholds",
        description="Run a load profile headless against a target (the bundled simulator when "
        "no --target-url is given). Exit 0 when every threshold held, 1 when one broke, 5 when "
        "none broke but one had too few samples to be measured.",
        epilog=EPILOG,
    )
    p.add_argument(
        "profile",
        nargs="?",
        default="smoke",
        choices=LOAD_PROFILES,
        help="profile: thresholds and (unless --shape) shape (default smoke)",
    )
    p.add_argument("--shape", choices=LOAD_PROFILES, help="another shape than the profile's")
    p.add_argument(
        "--shape-param",
        action="append",
        default=[],
        metavar="NAME=VALUE",
        help="override a shape parameter (repeatable): users=50, duration=30",
    )
    p.add_argument("--thresholds", help="thresholds YAML (default loadtests/thresholds.yaml)")
    p.add_argument(
        "--report-dir",
        help="add the results to this run's report (DIR/load, then "
        "junit.xml, summary.json, report.html in DIR)",
    )
    p.add_argument(
        "--out",
        default="load-runs",
        help="without --report-dir: parent folder of the run folder (default load-runs)",
    )
    p.add_argument(
        "--processes",
        type=int,
        default=0,
        help="Locust worker processes on this machine (--processes)",
    )
    p.add_argument("--workers", type=int, default=0, help="run a master and N workers on 127.0.0.1")
    p.add_argument(
        "-v",
        "--verbose",
        action="store_true",
        help="also print Locust's own output as it runs (always kept in RUN/locust.log)",
    )
    p.add_argument(
        "--simulator-arg",
        action="append",
        default=[],
        metavar="ARG",
        help="an argument for the bundled simulator, when no target is given",
    )
    target_options(p, (*(opt.name for opt in LOAD_OPTIONS), "credentials_file"))
    p.set_defaults(func=cmd_load)


def replay_parser(sub: Any) -> None:
    """``paysim replay`` and ``paysim scenario from-har``."""
    p = sub.add_parser(
        "replay",
        help="a recorded session sent again to another server, with its differences",
        description="Send a session recorded by paysim proxy --record (HAR) again, in order, "
        "to --target-url: ids the earlier answers created are mapped to the ids the target "
        "creates (in paths, queries and bodies), each Idempotency-Key is re-issued one to one "
        "(a recorded retry stays a retry), credentials are the target's (a recorded credential "
        "of the bundled simulator's stands for the target's of the same role) and freefin "
        "signatures are made again with its secret. Each exchange whose status, error code or "
        "seed fields (its enums, numbers, booleans, and the session's ids) differ is reported, "
        "normalised by the target profiles, in conform's report files. Exit 0 when none "
        "differs, 1 when one does, 3 when the target answers nothing, 4 on a bad file or "
        "setting.",
        epilog=EPILOG,
    )
    p.add_argument("file", help="the HAR file")
    p.add_argument(
        "--speed",
        type=float,
        default=1.0,
        help="the recorded waits divided by this (default 1: kept; 0: no waits)",
    )
    p.add_argument(
        "--recorded-profile",
        metavar="FILE",
        help="the target profile of the server the session was recorded against (default: "
        "the supplements' names)",
    )
    p.add_argument(
        "--report-dir",
        default="reports/replay",
        help="where junit.xml, summary.json and report.html go (default reports/replay)",
    )
    target_options(p)
    p.set_defaults(func=cmd_replay)
    actions = command_group(sub, "scenario", "scenarios made from what was recorded")
    har = actions.add_parser(
        "from-har",
        help="a recorded session (proxy --record) as a YAML scenario",
        description="Write a session recorded by paysim proxy --record as one YAML scenario, "
        "validated as the bundled ones: a step per exchange, each Idempotency-Key a fresh "
        "value shared by its retries, the ids earlier answers made saved and sent again, and "
        "each assertion's from: the seed answer that documents it (its status, its required "
        "enums, numbers and booleans) or the supplement's error code. Run it with paysim "
        "conform --scenarios DIR. Exit 0 when written, 4 on a bad file.",
    )
    har.add_argument("file", help="the HAR file")
    har.add_argument("--out", metavar="FILE", help="write the YAML here (default stdout)")
    har.add_argument("--name", help="the scenario's name (default: from the file's name)")
    har.add_argument(
        "--recorded-profile",
        metavar="FILE",
        help="the target profile of the server the session was recorded against",
    )
    har.set_defaults(func=cmd_scenario_from_har)


def command_group(sub: Any, name: str, what: str) -> Any:
    """``paysim NAME ACTION``: a command whose actions are subcommands; ``what`` it does."""
    group = sub.add_parser(name, help=what, description=what[0].upper() + what[1:] + ".")
    return group.add_subparsers(dest="action", required=True, metavar="ACTION")


def webhooks_parser(sub: Any) -> None:
    """``paysim webhooks check``."""
    actions = command_group(sub, "webhooks", "grade a partner's webhook handler")
    check = actions.add_parser(
        "check",
        help="send the handler every event the API sends, signed and broken, and judge it",
        description="Send the webhook handler at --url the events the API sends, signed as the "
        "API signs them, and judge its answers: valid events accepted within the timeout; "
        "tampered bodies, wrong secrets, missing or malformed signatures refused; a duplicate "
        "accepted (and, with a state probe, applied once); events out of order tolerated (and "
        "the newest state kept); unknown kinds and fields ignored; oversized and malformed "
        "bodies answered below 500. Exit 0 when every rule was exercised and held, 1 when one "
        "failed, 5 when none failed but one was not exercised (no state probe), 3 when the "
        "handler answers nothing.",
        epilog="The state probe: GET STATE_URL?event_id=&object_id= (or STATE_COMMAND with "
        'those two arguments) answers {"applied": <times the event took effect>, "status": '
        "<the object's status as the handler holds it>}; 501 or exit 69 means it cannot say.",
    )
    check.add_argument("--url", required=True, help="the handler's URL")
    check.add_argument("--api", required=True, choices=["freefin", "kaspi"])
    check.add_argument(
        "--secret",
        default=None,
        help="the signing secret the handler verifies with [env PAYSIM_WEBHOOK_SECRET]",
    )
    probe = check.add_mutually_exclusive_group()
    probe.add_argument("--state-url", help="the handler's state probe (GET)")
    probe.add_argument(
        "--state-command", help="a command answering the state probe (run without a shell)"
    )
    check.add_argument(
        "--timeout",
        type=float,
        default=None,
        help="seconds a valid event may take (default: the supplement's 5)",
    )
    check.add_argument(
        "--report-dir",
        default="reports/webhooks",
        help="where handler-grade.json, .junit.xml, .md and .html go (default reports/webhooks)",
    )
    format_option(check)
    check.set_defaults(func=cmd_webhooks_check)
