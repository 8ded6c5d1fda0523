"""Ending a child process: asked to stop (SIGTERM), then killed when it does not."""

from __future__ import annotations

import subprocess
from typing import Any


def end(proc: subprocess.Popen[Any], grace: float = 10.0) -> None:
    """Terminate ``proc`` and wait up to ``grace`` seconds; kill it if it is still there."""
    if proc.poll() is not None:
        return
    proc.terminate()
    try:
        proc.wait(grace)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait(grace)
