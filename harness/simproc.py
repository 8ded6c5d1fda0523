"""Start and stop the bundled simulator as a real server process on a free loopback port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

from harness import processes


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


BUNDLED_HEARTBEAT_S = 5


class SimulatorProcess:
    """The simulator in a child process: ``with SimulatorProcess() as sim: sim.url``."""

    def __init__(
        self,
        *,
        port: int | None = None,
        db_path: str | None = None,
        extra_args: list[str] | None = None,
        env: dict[str, str] | None = None,
        log_path: str | None = None,
    ) -> None:
        self.port = port or free_port()
        self._tmp = tempfile.TemporaryDirectory(prefix="paysim-")
        self.db_path = db_path or str(Path(self._tmp.name) / "sim.db")
        self.log_path = log_path or str(Path(self._tmp.name) / "sim.log")
        self.extra_args = extra_args or []
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 30.0) -> SimulatorProcess:
        cmd = [
            sys.executable,
            "-m",
            "simulator",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--db",
            self.db_path,
            "--log-level",
            "warning",
            # A ping every 5 s, within the seed's 25, so a run proves the heartbeat without
            # waiting 25 s for it; a later --sse-heartbeat in extra_args wins.
            "--sse-heartbeat",
            str(BUNDLED_HEARTBEAT_S),
            *self.extra_args,
        ]
        with open(self.log_path, "ab") as log:  # the child keeps its own descriptor
            self.proc = subprocess.Popen(
                cmd,
                stdout=log,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
                start_new_session=True,  # its own process group: kill() takes the workers too
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"simulator exited early:\n{self.log()}")
            try:
                if requests.get(f"{self.url}/_sim/health", timeout=1).ok:
                    return self
            except requests.RequestException:
                pass
            time.sleep(0.1)
        self.stop()
        raise RuntimeError(f"simulator did not come up on {self.url}:\n{self.log()}")

    def log(self) -> str:
        try:
            return Path(self.log_path).read_text(encoding="utf-8", errors="replace")[-4000:]
        except OSError:
            return ""

    def kill(self) -> None:
        """kill -9 of the server and its workers: no clean shutdown, for durability tests."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        if self.proc:
            processes.end(self.proc)

    def close(self) -> None:
        self.stop()
        self._tmp.cleanup()

    def __enter__(self) -> SimulatorProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.close()
