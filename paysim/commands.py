"""The run commands (``paysim conform``, ``load``, ``report``, ``gaps``, ``serve``), given their
parsed arguments; the exit codes and the helpers every command shares (``paysim.grading`` has the
commands that judge a partner's work)."""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness import seedgaps
from harness.conform import ConformRun, print_table
from harness.masking import placeholders
from harness.preflight import PreflightError, preflight
from harness.promises import coverage
from harness.target import LOAD_CREDENTIALS, collect_settings, make_target
from loadtests.shapes import SHAPES

ROOT = Path(__file__).resolve().parent.parent
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_CONFIG = 0, 1, 2, 3, 4
# Nothing failed, but the run did not prove enough: less of the seeds than required, a gating
# load threshold with too few samples to be judged, or a grade with a rule never exercised.
EXIT_INCOMPLETE = EXIT_NOT_MEASURED = 5
LOAD_PROFILES = tuple(SHAPES)  # a profile names its shape and its thresholds
EPILOG = "Every target option also reads PAYSIM_<NAME> (--freefin-key: PAYSIM_FREEFIN_KEY)."


class Failed(Exception):
    """A command cannot go on: the message for the user and the exit code."""

    def __init__(self, message: str, code: int) -> None:
        super().__init__(message)
        self.code = code


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    """Target settings: options, then environment, then the credentials file."""
    try:
        return collect_settings(lambda name: getattr(args, name, None))
    except (OSError, ValueError) as exc:
        raise Failed(f"bad configuration: {exc}", EXIT_CONFIG) from exc


def secrets_of(settings: dict[str, Any]) -> dict[str, str]:
    """Secret value -> the variable that holds it, for masking in reports."""
    from harness.target import bundled_credentials

    return placeholders({**bundled_credentials(), **settings})


def check_target(settings: dict[str, Any]) -> None:
    """With a target given: its settings make sense and it answers with the credentials."""
    if not settings.get("target_url"):
        try:
            make_target(settings, bundled_url="http://127.0.0.1:1")  # validate the values only
        except ValueError as exc:
            raise Failed(f"bad configuration: {exc}", EXIT_CONFIG) from exc
        return
    try:
        target = make_target(settings)
    except ValueError as exc:
        raise Failed(f"bad configuration: {exc}", EXIT_CONFIG) from exc
    try:
        preflight(target)
    except PreflightError as exc:
        raise Failed(str(exc), EXIT_UNREACHABLE) from exc


# --- conform --------------------------------------------------------------------------------


def cmd_conform(args: argparse.Namespace) -> int:
    """Contract and scenario suites, then the report; optionally a load profile after them."""
    settings = settings_of(args)
    apis = settings.get("api", "both")
    apis = apis if apis in ("freefin", "kaspi", "both") else "both"
    report = Path(args.report_dir).resolve()
    run = ConformRun(
        report,
        settings,
        suite=args.suite,
        profile=args.contract_profile,
        operations=args.contract_operation or [],
        select=args.select,
        scenario_folders=args.scenario_folders,
        extra=args.pytest_args,
        echo=args.verbose,
        max_time=args.max_time,
    )
    required_coverage(args.require_coverage)  # a bad value is bad usage before anything runs
    run.clean()
    try:
        check_target(settings)
    except Failed as exc:
        run.write_meta(exit_code=exc.code, message=f"paysim: {exc}")
        _render(report, settings, apis)
        raise
    code, message = run.execute()
    if args.load and code in (EXIT_OK, EXIT_FAILED):
        load_code = _run_load(args.load, settings, report / "load", api=apis)
        run.meta["load_exit_code"] = load_code
        code = code or (EXIT_FAILED if load_code == 1 else load_code)
    run.write_meta(exit_code=code, message=message)
    summary = _render(report, settings, apis)
    short = coverage.shortfall(summary["coverage"], required_coverage(args.require_coverage))
    if short and code == EXIT_OK:
        code, message = EXIT_INCOMPLETE, "paysim: " + "; ".join(short)
        run.write_meta(exit_code=code, message=message)
        summary = _render(report, settings, apis)
    print_table(summary)
    for name in ("junit.xml", "summary.json", "report.html"):
        print(f"  {report / name}")
    if message:
        print(message, file=sys.stderr)
    return code


def required_coverage(values: list[str] | None) -> dict[str, float]:
    """``--require-coverage 95`` (every API) or ``kaspi=90`` -> {api or "*": percent}."""
    required: dict[str, float] = {}
    for value in values or []:
        api, _, percent = value.rpartition("=")
        try:
            number = float(percent)
        except ValueError:
            number = -1.0
        if api not in ("", "freefin", "kaspi") or not 0 <= number <= 100:
            raise Failed(
                f"--require-coverage {value!r}: expected PERCENT or API=PERCENT "
                "(API freefin or kaspi, PERCENT 0 to 100)",
                EXIT_USAGE,
            )
        required[api or "*"] = number
    return required


def _render(report: Path, settings: dict[str, Any], api: str) -> dict[str, Any]:
    from harness.report import build_report

    apis = ("freefin", "kaspi") if api == "both" else (api,)
    gaps = seedgaps.to_json(seedgaps.analyse_all(apis))["findings"]
    return build_report(report, gaps=gaps, secrets=secrets_of(settings))


# --- load -----------------------------------------------------------------------------------


def _run_load(
    profile: str,
    settings: dict[str, Any],
    out: Path,
    *,
    api: str = "both",
    shape: str | None = None,
    shape_params: Sequence[str] = (),
    thresholds: str | None = None,
    processes: int = 0,
    workers: int = 0,
    simulator_args: Sequence[str] = (),
    verbose: bool = True,
) -> int:
    """Run a load profile into ``out`` (replaced); returns 0 held, 1 broken, 4 bad thresholds,
    5 a gating threshold not measured.
    ``verbose``: Locust's own output is printed as it comes (it is kept in the log either way)."""
    from harness.simproc import SimulatorProcess
    from loadtests.run import run_profile
    from loadtests.shapes import make_shape, parse_params

    try:  # a bad shape is bad usage, said before anything starts or is announced
        params = parse_params(list(shape_params))
        make_shape(shape or profile, params)
    except ValueError as exc:
        raise Failed(str(exc), EXIT_USAGE) from exc
    if out.exists() and (out / "command.txt").exists():
        shutil.rmtree(out)  # a previous run folder of ours
    print(f"paysim load: profile {profile}, API {api}; run folder {out}", flush=True)
    with contextlib.ExitStack() as stack:
        target = settings.get("target_url")
        if not target:
            sim = stack.enter_context(SimulatorProcess(extra_args=list(simulator_args)))
            target = sim.url
            print(f"paysim load: bundled simulator at {target}", flush=True)
        code = run_profile(
            profile,
            target,
            settings.get("kaspi_url"),
            {k: str(settings[k]) for k in LOAD_CREDENTIALS if settings.get(k)},
            out,
            api=api,
            shape=shape,
            shape_params=params,
            thresholds=thresholds,
            processes=processes,
            workers=workers,
            echo=sys.stdout if verbose else None,
        )
    if code == 124:
        print("paysim load: the run overran its shape and was stopped", file=sys.stderr)
        return EXIT_FAILED
    codes = {0: EXIT_OK, 1: EXIT_FAILED, 2: EXIT_CONFIG, 5: EXIT_NOT_MEASURED}
    return codes.get(code, EXIT_FAILED)


def cmd_load(args: argparse.Namespace) -> int:
    """A load profile; with --report-dir its results join that run's report."""
    settings = settings_of(args)
    api = args.api or settings.get("api") or "both"
    check_target({**settings, "api": api})
    if args.report_dir:
        report = Path(args.report_dir).resolve()
        out = report / "load"
    else:
        report = None
        out = Path(args.out).resolve() / f"{args.profile}-{time.strftime('%Y%m%d-%H%M%S')}"
    code = _run_load(
        args.profile,
        settings,
        out,
        api=api,
        shape=args.shape,
        shape_params=args.shape_param,
        thresholds=args.thresholds,
        processes=args.processes,
        workers=args.workers,
        simulator_args=args.simulator_arg,
        verbose=args.verbose,
    )
    from harness.report import build_report

    if report is not None:
        ConformRun.update_meta(report, load_profile=args.profile, load_exit_code=code)
        _render(report, settings, api)
    else:
        build_report(out, load_dir=out, secrets=secrets_of(settings))
        report = out
    print(f"  report: {report / 'report.html'}; Locust's log: {out / 'locust.log'}")
    from loadtests.thresholds import load_verdict

    print(load_verdict(out / "thresholds.json", code), flush=True)  # the verdict, last
    return code


# --- report and gaps ------------------------------------------------------------------------


def cmd_report(args: argparse.Namespace) -> int:
    """Render the report of a finished run; exit 0 when it passed, 1 when not."""
    from harness.report import build_report

    directory = Path(args.directory).resolve()
    if not directory.is_dir():
        raise Failed(f"bad configuration: no such directory {directory}", EXIT_CONFIG)
    settings = settings_of(args)
    apis = ("freefin", "kaspi") if args.api == "both" else (args.api,)
    gaps = [] if args.no_gaps else seedgaps.to_json(seedgaps.analyse_all(apis))["findings"]
    out = Path(args.out).resolve() if args.out else None
    summary = build_report(
        directory,
        load_dir=Path(args.load).resolve() if args.load else None,
        gaps=gaps,
        secrets=secrets_of(settings),
        out_dir=out,
    )
    print_table(summary)
    print(f"  {(out or directory) / 'report.html'}")
    return EXIT_OK if summary["verdict"] == "passed" else EXIT_FAILED


def cmd_gaps(args: argparse.Namespace) -> int:
    """Print the spec-gap findings; with --fail-on-open exit 1 when one is settled nowhere."""
    import json

    apis = ("freefin", "kaspi") if args.api == "both" else (args.api,)
    findings = seedgaps.analyse_all(apis, Path(args.specs))
    if args.json:
        print(json.dumps(seedgaps.to_json(findings), indent=2, ensure_ascii=False))
    else:
        print(seedgaps.render_text(findings, excerpts=args.excerpts))
    open_ = [f for f in findings if not f.resolved]
    return EXIT_FAILED if args.fail_on_open and open_ else EXIT_OK


def cmd_serve(argv: Sequence[str], module: str = "simulator", prog: str = "paysim serve") -> int:
    """Run the simulator (or its validating proxy) in this process's place."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, (str(ROOT), os.environ.get("PYTHONPATH")))),
        "PAYSIM_PROG": prog,  # its --help names the command the user typed
    }
    os.execve(sys.executable, [sys.executable, "-m", module, *argv], env)
    return EXIT_OK  # not reached
