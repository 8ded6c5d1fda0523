"""The commands that judge a partner's work: its webhook handler (``paysim webhooks check``),
its API client as the simulator graded it (``paysim client-report``), and a recorded session sent
again to another server (``paysim replay``) or written as a scenario (``paysim scenario
from-har``). Exit codes and the shared helpers are ``paysim.commands``'s."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from harness.target import make_target
from paysim.commands import (
    EXIT_CONFIG,
    EXIT_FAILED,
    EXIT_INCOMPLETE,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    Failed,
    check_target,
    secrets_of,
    settings_of,
)


def cmd_webhooks_check(args: argparse.Namespace) -> int:
    """Grade a webhook handler; its report in --report-dir."""
    from harness.grading import handler
    from harness.grading.findings import FORMATS

    secret = args.secret or os.environ.get("PAYSIM_WEBHOOK_SECRET")
    if not secret:
        raise Failed("--secret (or PAYSIM_WEBHOOK_SECRET) is required", EXIT_USAGE)
    target = handler.HandlerTarget(
        url=args.url,
        api=args.api,
        secret=secret,
        state_url=args.state_url,
        state_command=shlex.split(args.state_command) if args.state_command else None,
        timeout_s=args.timeout,
    )
    try:
        grade = handler.grade(target)
    except handler.Unreachable as exc:
        raise Failed(f"the handler answers nothing: {exc}", EXIT_UNREACHABLE) from exc
    print(grade.table())
    written = grade.write(Path(args.report_dir), "handler-grade", args.format or FORMATS)
    print("report: " + ", ".join(str(path) for path in written))
    return grade_code([grade])


def cmd_client_report(args: argparse.Namespace) -> int:
    """The simulator's client report, written as grades."""
    import requests

    from harness.grading import clients
    from harness.grading.findings import FORMATS

    try:
        report = clients.fetch(args.target_url, args.control_token, args.timeout, args.level)
    except requests.HTTPError as exc:
        raise Failed(f"{args.target_url}: {exc.response.text[:300]}", EXIT_CONFIG) from exc
    except requests.Timeout as exc:
        raise Failed(
            f"{args.target_url} did not answer the report within {args.timeout:g} s",
            EXIT_UNREACHABLE,
        ) from exc
    except (requests.RequestException, ValueError) as exc:
        reason = type(exc).__name__
        raise Failed(f"{args.target_url} is unreachable: {reason}", EXIT_UNREACHABLE) from exc
    grades = clients.grades(report, args.target_url)
    for grade in grades:
        print(grade.table(), end="\n\n")
    written = clients.write(grades, Path(args.report_dir), formats=args.format or FORMATS)
    print("report: " + ", ".join(str(path) for path in written))
    return grade_code(grades)


def grade_code(grades: Sequence[Any]) -> int:
    """1 when a rule failed; else 5 when a rule was not exercised (or nothing was graded);
    else 0."""
    if any(grade.failed for grade in grades):
        return EXIT_FAILED
    if not grades or any(grade.not_exercised for grade in grades):
        return EXIT_INCOMPLETE
    return EXIT_OK


# --- replay ---------------------------------------------------------------------------------


def cmd_replay(args: argparse.Namespace) -> int:
    """A recorded session sent again to --target-url; its differences in conform's report."""
    from harness.profile import ProfileError
    from harness.profile import load as load_profile
    from harness.replay import report as replay_report
    from harness.replay import session
    from harness.replay.runner import Replay, Unreachable

    started = time.time()
    settings = settings_of(args)
    try:
        exchanges = session.read(args.file)
        was = load_profile(args.recorded_profile) if args.recorded_profile else None
    except (session.SessionError, ProfileError, OSError) as exc:
        raise Failed(f"bad configuration: {exc}", EXIT_CONFIG) from exc
    if not settings.get("target_url"):
        raise Failed("bad configuration: replay needs --target-url", EXIT_CONFIG)
    apis = sorted({e.api for e in exchanges})
    settings.setdefault("api", apis[0] if len(apis) == 1 else "both")
    check_target(settings)
    target = make_target(settings)
    replay = Replay(target, speed=args.speed)
    if was is not None:
        replay.recorded_profiles = was.api
    try:
        outcomes = replay.run(exchanges)
    except Unreachable as exc:
        raise Failed(f"the target answered nothing: {exc}", EXIT_UNREACHABLE) from exc
    differing = [o for o in outcomes if o.differs]
    code = EXIT_FAILED if differing else EXIT_OK
    message = (
        f"paysim replay: {len(differing)} of {len(outcomes)} exchanges differ" if differing else ""
    )
    report = Path(args.report_dir).resolve()
    meta = {
        "command": "replay",
        "session": str(args.file),
        "target": target.target_url,
        "api": settings["api"],
        "exchanges": len(outcomes),
        "differences": len(differing),
        "speed": args.speed,
        "exit_code": code,
        "message": message,
        "wall_time_s": round(time.time() - started, 1),
    }
    replay_report.write(report, outcomes, meta, secrets_of(settings))
    for outcome in differing:
        print(f"{outcome.recorded.title}: " + "; ".join(outcome.differences))
    print(
        f"paysim replay: {len(outcomes)} exchanges against {target.target_url} in "
        f"{meta['wall_time_s']} s, {len(differing)} differ"
    )
    for name in ("junit.xml", "summary.json", "report.html"):
        print(f"  {report / name}")
    if message:
        print(message, file=sys.stderr)
    return code


def cmd_scenario_from_har(args: argparse.Namespace) -> int:
    """A recorded session written as a YAML scenario (stdout, or --out)."""
    from harness.profile import ProfileError
    from harness.profile import load as load_profile
    from harness.replay import session
    from harness.replay.scenario import from_har
    from harness.scenarios.loader import ScenarioFormatError

    try:
        exchanges = session.read(args.file)
        was = load_profile(args.recorded_profile) if args.recorded_profile else None
        name = args.name or f"recorded session {Path(args.file).stem}"
        text = from_har(exchanges, name, was.api(exchanges[0].api) if was else None)
    except (session.SessionError, ProfileError, ScenarioFormatError, OSError, ValueError) as exc:
        raise Failed(f"bad configuration: {exc}", EXIT_CONFIG) from exc
    if args.out:
        Path(args.out).write_text(text, encoding="utf-8")
        print(f"paysim scenario: {len(exchanges)} steps written to {args.out}")
    else:
        sys.stdout.write(text)
    return EXIT_OK
