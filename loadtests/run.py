"""Run a load profile headless into a run folder: one process, ``--processes``, or master+workers.

``run_profile()`` is the entry point for other tools (``paysim load``, which ``python -m
loadtests`` runs). Locust always runs in child processes: it patches the standard library with
gevent, which must not happen inside a caller such as pytest.

A run folder holds Locust's CSV files (``stats_stats.csv``, ``stats_stats_history.csv``,
``stats_failures.csv``, ``stats_exceptions.csv``), its HTML report with charts
(``report.html``), the threshold verdict (``thresholds.json``), ``command.txt`` and the logs.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
import sys
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from harness import child, processes
from harness.simproc import free_port
from loadtests.shapes import make_shape

LOCUSTFILE = Path(__file__).resolve().parent / "locustfile.py"
ROOT = LOCUSTFILE.parent.parent
EXIT_TIMEOUT = 124
STARTUP_GRACE_S = 60.0  # Locust start-up, stopping users, writing reports


def run_profile(
    profile: str,
    target_url: str,
    kaspi_url: str | None,
    credentials: Mapping[str, str] | None,
    out_dir: str | Path,
    *,
    api: str = "both",
    shape: str | None = None,
    shape_params: Mapping[str, str | int | float] | None = None,
    thresholds: str | Path | None = None,
    processes: int = 0,
    workers: int = 0,
    extra_args: Sequence[str] = (),
    echo: IO[str] | None = None,
) -> int:
    """Run ``profile`` against the target; write reports to ``out_dir``; return the exit code.

    0: every threshold held; 1: one broke; 2: the thresholds could not be read; 124: the run
    overran its shape's duration by more than a minute and was stopped. ``credentials`` are
    the harness's settings by name (``freefin_key``, ...), passed to Locust through the
    environment so they stay out of process listings. ``processes``: Locust's ``--processes``
    on this machine; ``workers``: a master and this many worker processes on loopback (the
    layout of a multi-machine run). ``echo``: a stream that also gets the master's output.
    """
    shape_obj = make_shape(shape or profile, shape_params)  # fail early on a bad shape
    out = Path(out_dir).resolve()
    out.mkdir(parents=True, exist_ok=True)
    env = child.environment(credentials or {})
    base = [sys.executable, "-m", "locust", "-f", str(LOCUSTFILE)]
    master = [
        *base,
        "--headless",
        "--only-summary",
        "--load-profile",
        profile,
        "--api",
        api,
        "--run-dir",
        str(out),
        "--target-url",
        target_url,
        "--kaspi-url",
        kaspi_url or target_url.rstrip("/") + "/api",
        "--csv",
        str(out / "stats"),
        "--csv-full-history",
        "--html",
        str(out / "report.html"),
    ]
    if shape:
        master += ["--shape", shape]
    for key, value in (shape_params or {}).items():
        master += ["--shape-param", f"{key}={value}"]
    if thresholds:
        master += ["--thresholds", str(Path(thresholds).resolve())]
    port = free_port()
    if processes:
        # Children connect to --master-port; the default port may be taken by another run.
        master += [
            "--processes",
            str(processes),
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--master-port",
            str(port),
        ]
    elif workers:
        master += [
            "--master",
            "--master-bind-host",
            "127.0.0.1",
            "--master-bind-port",
            str(port),
            "--expect-workers",
            str(workers),
            "--expect-workers-max-wait",
            "30",
        ]
    master += list(extra_args)
    (out / "command.txt").write_text(" ".join(master) + "\n", encoding="utf-8")
    deadline = time.monotonic() + shape_obj.duration + STARTUP_GRACE_S
    with contextlib.ExitStack() as stack:
        procs: list[subprocess.Popen[bytes]] = []
        for i in range(workers if not processes else 0):
            worker_log = stack.enter_context(open(out / f"worker-{i + 1}.log", "wb"))
            procs.append(
                subprocess.Popen(
                    [*base, "--worker", "--master-host", "127.0.0.1", "--master-port", str(port)],
                    cwd=ROOT,
                    env=env,
                    stdout=worker_log,
                    stderr=subprocess.STDOUT,
                )
            )
        log = stack.enter_context(open(out / "locust.log", "w", encoding="utf-8"))
        main_proc = subprocess.Popen(
            master,
            cwd=ROOT,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            bufsize=1,
        )
        try:
            code = _follow(main_proc, log, echo, deadline)
        finally:
            _stop(main_proc, max(5.0, deadline - time.monotonic()))
            for proc in procs:
                _stop(proc, 10.0)
            if main_proc.stdout:
                main_proc.stdout.close()
    return code


def _follow(
    proc: subprocess.Popen[str], log: IO[str], echo: IO[str] | None, deadline: float
) -> int:
    """Copy the master's output to the log (and ``echo``) until it exits or overruns."""
    assert proc.stdout is not None
    os.set_blocking(proc.stdout.fileno(), False)
    while True:
        line = proc.stdout.readline()
        if line:
            log.write(line)
            if echo:
                echo.write(line)
            continue
        if proc.poll() is not None:
            rest = proc.stdout.read() or ""
            log.write(rest)
            if echo:
                echo.write(rest)
            return proc.returncode
        if time.monotonic() > deadline:
            log.write("paysim: run overran its shape; stopped\n")
            return EXIT_TIMEOUT
        time.sleep(0.05)


def _stop(proc: subprocess.Popen[bytes] | subprocess.Popen[str], wait: float) -> None:
    """Let a worker leave after its master (it quits on the master's word), else end it."""
    try:
        proc.wait(min(wait, 10.0))
    except subprocess.TimeoutExpired:
        processes.end(proc)
