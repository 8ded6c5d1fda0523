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

from harness import seedgaps
from harness.grading.clients import TIMEOUT_S
from harness.level import CHOICES as LEVELS
from harness.level import Level
from paysim.commands import EPILOG, EXIT_FAILED, Failed, cmd_gaps, cmd_report, cmd_serve
from paysim.grading import cmd_client_report
from paysim.options import (
    api_option,
    conform_parser,
    format_option,
    load_parser,
    replay_parser,
    target_options,
    webhooks_parser,
)


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
    conform_parser(sub)
    load_parser(sub)
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
    api_option(rep, "which APIs' spec gaps to include")
    rep.add_argument("--no-gaps", action="store_true", help="leave the spec-gap findings out")
    target_options(rep, ("credentials_file",))
    rep.set_defaults(func=cmd_report)
    gaps = sub.add_parser(
        "gaps",
        help="what the seed documents leave open or contradict",
        description="Read both seed documents in specs/ and list what they leave open or "
        "contradict, each finding with the supplement or links entry that settles it.",
    )
    api_option(gaps, "which API's document")
    gaps.add_argument("--json", action="store_true", help="machine-readable output")
    gaps.add_argument("--excerpts", action="store_true", help="show each settling entry's text")
    gaps.add_argument(
        "--fail-on-open", action="store_true", help="exit 1 when a finding is settled nowhere"
    )
    gaps.add_argument("--specs", default=str(seedgaps.SPECS), help="folder of the documents")
    gaps.set_defaults(func=cmd_gaps)
    webhooks_parser(sub)
    replay_parser(sub)
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
    format_option(clients)
    clients.set_defaults(func=cmd_client_report)
    return parser


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
