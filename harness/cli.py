"""``paysim``: one command for the harness.

  paysim serve      the bundled simulator (same options as ``python -m simulator``)
  paysim conform    contract suite + scenario suites against a target (default: the simulator)
  paysim load       a Locust load profile with its thresholds

Exit codes: 0 every check held; 1 a check failed; 2 bad usage; 3 target unreachable or
credentials rejected; 4 bad configuration (or nothing to run).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

from harness.target import OPTIONS

ROOT = Path(__file__).resolve().parent.parent
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_UNREACHABLE, EXIT_CONFIG = 0, 1, 2, 3, 4


def _target_options(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("target (each also reads PAYSIM_<NAME>)")
    for opt in OPTIONS:
        group.add_argument(opt.flag, dest=opt.name, default=None, help=opt.help)


def _forward(args: argparse.Namespace) -> list[str]:
    out: list[str] = []
    for opt in OPTIONS:
        value = getattr(args, opt.name, None)
        if value:
            out += [opt.flag, str(value)]
    return out


def cmd_serve(argv: Sequence[str]) -> int:
    os.execv(sys.executable, [sys.executable, "-m", "simulator", *argv])
    return EXIT_OK  # not reached


def cmd_conform(args: argparse.Namespace) -> int:
    report = Path(args.report_dir).resolve()
    report.mkdir(parents=True, exist_ok=True)
    paths = []
    if args.suite in ("all", "contract"):
        paths.append(str(ROOT / "harness" / "contract"))
    if args.suite in ("all", "scenarios"):
        paths.append(str(ROOT / "scenarios"))
    junit = report / "junit.xml"
    cmd = [
        sys.executable, "-m", "pytest", *paths, "--rootdir", str(ROOT), "-p", "no:cacheprovider",
        "-o", "console_output_style=count", "-q", "-rfEs",
        f"--junitxml={junit}", "--contract-report", str(report),
        "--contract-profile", args.profile, *_forward(args), *args.pytest_args,
    ]
    started = time.monotonic()
    rc = subprocess.call(cmd, cwd=ROOT)
    elapsed = time.monotonic() - started
    if junit.exists():
        print_summary(junit, elapsed)
    if rc in (EXIT_UNREACHABLE, EXIT_CONFIG):
        return rc
    if rc == 5:
        print("paysim: nothing was collected", file=sys.stderr)
        return EXIT_CONFIG
    return EXIT_OK if rc == 0 else EXIT_FAILED


def print_summary(junit: Path, elapsed: float) -> None:
    """A table per suite: passed, failed, skipped, from the run's JUnit XML."""
    counts: dict[str, Counter[str]] = {}
    for case in ET.parse(junit).getroot().iter("testcase"):
        suite = _suite_of(case.get("classname", ""), case.get("file", ""))
        outcome = "passed"
        for child in case:
            if child.tag in ("failure", "error"):
                outcome = "failed"
            elif child.tag == "skipped":
                outcome = "skipped"
        counts.setdefault(suite, Counter())[outcome] += 1
    print(f"\n{'suite':<34}{'passed':>8}{'failed':>8}{'skipped':>9}")
    for suite in sorted(counts):
        c = counts[suite]
        print(f"{suite:<34}{c['passed']:>8}{c['failed']:>8}{c['skipped']:>9}")
    print(f"wall time {elapsed:.1f} s; JUnit XML: {junit}")


def _suite_of(classname: str, path: str) -> str:
    parts = classname.replace("/", ".").split(".")
    if "contract" in parts:
        return "contract " + next((p.split("_")[-1] for p in parts if p.startswith("test_")), "")
    if "scenarios" in parts:
        idx = parts.index("scenarios")
        return "scenarios " + "/".join(parts[idx + 1: idx + 3])
    return classname or path or "other"


def cmd_load(argv: Sequence[str]) -> int:
    return subprocess.call([sys.executable, "-m", "loadtests", *argv], cwd=ROOT)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="paysim", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("serve", help="run the bundled simulator (python -m simulator --help)",
                   add_help=False)
    conform = sub.add_parser("conform", help="contract + scenario suites against a target")
    conform.add_argument("--suite", choices=["all", "contract", "scenarios"], default="all")
    conform.add_argument("--profile", choices=["default", "deep"], default="default",
                         help="contract generation depth: default (CI) or deep (nightly)")
    conform.add_argument("--report-dir", default="reports/latest",
                         help="where the JUnit XML and summaries go (default reports/latest)")
    conform.add_argument("pytest_args", nargs="*", help="passed to pytest after --")
    _target_options(conform)
    sub.add_parser("load", help="a Locust load profile (python -m loadtests --help)",
                   add_help=False)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv and argv[0] == "serve":
        return cmd_serve(argv[1:])
    if argv and argv[0] == "load":
        return cmd_load(argv[1:])
    args = build_parser().parse_args(argv)
    return cmd_conform(args)


if __name__ == "__main__":
    sys.exit(main())
