"""paysim: one command for the harness.

  paysim serve      the bundled simulator (its options: paysim serve --help)
  paysim conform    contract + scenario suites against a target (default: the bundled simulator)
  paysim load       a Locust load profile with its pass/fail thresholds
  paysim report     render the report of a finished run (junit.xml, summary.json, report.html)
  paysim gaps       what the seed documents leave open or contradict, and how it is settled
  paysim webhooks check   grade a partner's webhook handler (signatures, duplicates, order)
  paysim client-report    the simulator's grade of each API client (serve --grade-clients)
  paysim proxy      a validating proxy before any server: grades the client and the server
  paysim replay     a recorded session (proxy --record) sent again to another server, diffed
  paysim scenario from-har   a recorded session as a YAML scenario

Target settings come from options, else PAYSIM_<NAME> environment variables, else a YAML
credentials file (--credentials-file). Exit codes: 0 every check held; 1 a check or threshold
failed; 2 bad usage; 3 target unreachable or credentials rejected; 4 bad configuration (or
nothing to run); 5 nothing failed, but the run did not prove enough (less of the seed's
promises than --require-coverage asks, or a gating load threshold with too few samples).
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import seedgaps
from harness.grading.clients import TIMEOUT_S
from harness.grading.findings import FORMATS
from harness.level import CHOICES as LEVELS
from harness.level import Level
from harness.target import LOAD_OPTIONS, OPTIONS
from paysim.commands import (
    EPILOG,
    EXIT_FAILED,
    LOAD_PROFILES,
    Failed,
    cmd_conform,
    cmd_gaps,
    cmd_load,
    cmd_report,
    cmd_serve,
)
from paysim.grading import (
    cmd_client_report,
    cmd_replay,
    cmd_scenario_from_har,
    cmd_webhooks_check,
)


def _target_options(parser: argparse.ArgumentParser, names: Sequence[str] | None = None) -> None:
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


def _folder(text: str) -> Path:
    """An existing folder, else a usage error before anything starts."""
    path = Path(text)
    if not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text}: not a folder")
    return path


def _conform_parser(sub: Any) -> None:
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
        type=_folder,
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
    _target_options(p)
    p.set_defaults(func=cmd_conform)


def _load_parser(sub: Any) -> None:
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
    _target_options(p, (*(opt.name for opt in LOAD_OPTIONS), "credentials_file"))
    p.set_defaults(func=cmd_load)


def build_parser() -> argparse.ArgumentParser:
    """The ``paysim`` argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="paysim", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    sub.add_parser(
        "serve", add_help=False, help="run the bundled simulator (options: paysim serve --help)"
    )
    sub.add_parser(
        "proxy",
        add_help=False,
        help="a validating proxy between a client and any server (options: paysim proxy --help)",
    )
    _conform_parser(sub)
    _load_parser(sub)
    rep = sub.add_parser(
        "report",
        help="render the report of a finished run",
        description="Read a run's results (pytest-junit.xml, contract-summary.json, "
        "scenario-summary.json, load/) and write junit.xml, summary.json and report.html. "
        "Exit 0 when the run passed, 1 when not.",
        epilog=EPILOG,
    )
    rep.add_argument(
        "directory",
        nargs="?",
        default="reports/latest",
        help="the run's report directory (default reports/latest)",
    )
    rep.add_argument("--load", metavar="RUN_FOLDER", help="a load run folder other than DIR/load")
    rep.add_argument("--out", metavar="DIR", help="write the report here instead")
    rep.add_argument(
        "--api",
        choices=["freefin", "kaspi", "both"],
        default="both",
        help="which APIs' spec gaps to include (default both)",
    )
    rep.add_argument("--no-gaps", action="store_true", help="leave the spec-gap findings out")
    _target_options(rep, ("credentials_file",))
    rep.set_defaults(func=cmd_report)
    gaps = sub.add_parser(
        "gaps",
        help="what the seed documents leave open or contradict",
        description="Read both seed documents in specs/ and list what they leave open or "
        "contradict, each finding with the supplement or links entry that settles it.",
    )
    gaps.add_argument(
        "--api",
        choices=["freefin", "kaspi", "both"],
        default="both",
        help="which API's document (default both)",
    )
    gaps.add_argument("--json", action="store_true", help="machine-readable output")
    gaps.add_argument("--excerpts", action="store_true", help="show each settling entry's text")
    gaps.add_argument(
        "--fail-on-open", action="store_true", help="exit 1 when a finding is settled nowhere"
    )
    gaps.add_argument("--specs", default=str(seedgaps.SPECS), help="folder of the documents")
    gaps.set_defaults(func=cmd_gaps)
    _webhooks_parser(sub)
    _replay_parser(sub)
    clients = sub.add_parser(
        "client-report",
        help="the simulator's grade of each API client (started with --grade-clients)",
        description="Fetch GET /_sim/clients/report from a simulator started with "
        "--grade-clients and write client-grade.json, .junit.xml and .md: per credential, "
        "each integration rule (Idempotency-Key on creates, the same key on a retry, "
        "Retry-After honoured, requests that hold to the spec) with its evidence and fix, or, "
        "when the client never met the situation a rule judges, how to meet it. Exit 0 when "
        "every rule was exercised and held, 1 when one failed, 5 when none failed but one was "
        "not exercised (or no client sent a request), 3 when the simulator is unreachable or "
        "does not answer within --timeout.",
    )
    clients.add_argument(
        "--target-url",
        default=os.environ.get("PAYSIM_TARGET_URL", "http://127.0.0.1:8080"),
        help="the simulator [env PAYSIM_TARGET_URL; default http://127.0.0.1:8080]",
    )
    clients.add_argument(
        "--control-token",
        default=os.environ.get("PAYSIM_CONTROL_TOKEN"),
        help="the simulator's control token [env PAYSIM_CONTROL_TOKEN]",
    )
    clients.add_argument("--report-dir", default="reports/clients", help="default reports/clients")
    clients.add_argument(
        "--level",
        choices=LEVELS,
        default=Level.SPEC.value,
        help="spec (default): a misspelt field name is a warning; strict: a failure",
    )
    clients.add_argument(
        "--timeout",
        type=float,
        default=TIMEOUT_S,
        help=f"seconds the simulator may take to judge the log (default {TIMEOUT_S:g})",
    )
    clients.add_argument(
        "--format",
        action="append",
        choices=FORMATS,
        help="write only these (repeatable; default all: json, junit, md, html)",
    )
    clients.set_defaults(func=cmd_client_report)
    return parser


def _replay_parser(sub: Any) -> None:
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
    _target_options(p)
    p.set_defaults(func=cmd_replay)
    scenario = sub.add_parser(
        "scenario",
        help="scenarios made from what was recorded",
        description="Scenarios made from what was recorded.",
    )
    actions = scenario.add_subparsers(dest="action", required=True, metavar="ACTION")
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


def _webhooks_parser(sub: Any) -> None:
    hooks = sub.add_parser(
        "webhooks",
        help="grade a partner's webhook handler",
        description="Grade a partner's webhook handler.",
    )
    actions = hooks.add_subparsers(dest="action", required=True, metavar="ACTION")
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
    check.add_argument(
        "--format",
        action="append",
        choices=FORMATS,
        help="write only these (repeatable; default all: json, junit, md, html)",
    )
    check.set_defaults(func=cmd_webhooks_check)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``paysim`` console script."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "serve":
        return cmd_serve(argv[1:])
    if argv and argv[0] == "proxy":
        return cmd_serve(argv[1:], module="simulator.proxy", prog="paysim proxy")
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except Failed as exc:
        print(f"paysim: {exc}", file=sys.stderr)
        return exc.code
    except KeyboardInterrupt:
        print("paysim: interrupted", file=sys.stderr)
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
