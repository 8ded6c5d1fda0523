"""A real PostgreSQL for the tests: Debian's server binaries, a cluster initialised in a temporary
folder, listening on a free loopback port, stopped and removed at the end.

PostgreSQL refuses to run as root; as root, the server runs as the ``postgres`` user Debian's
package creates. Without the binaries the tests that need one are skipped on a developer's
machine and fail in CI (``.ci/run`` installs Debian's ``postgresql``).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from harness.simproc import free_port


def bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    if found:
        return Path(found[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def require_bindir() -> Path:
    found = bindir()
    if found is not None:
        return found
    if os.environ.get("CI"):
        pytest.fail("PostgreSQL is not installed (.ci/run installs Debian's postgresql)")
    pytest.skip("PostgreSQL is not installed: apt-get install -y postgresql")


class PostgresCluster:
    """``with PostgresCluster() as pg: pg.url`` -> postgresql://paysim@127.0.0.1:PORT/paysim"""

    def __init__(self) -> None:
        self.bin = require_bindir()
        self.port = free_port()
        self.url = f"postgresql://paysim@127.0.0.1:{self.port}/paysim"
        self._address = ["-h", "127.0.0.1", "-p", str(self.port), "-U", "paysim"]

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        command = [*self._as_user, *args]
        return subprocess.run(command, capture_output=True, text=True, timeout=120, check=True)

    def __enter__(self) -> PostgresCluster:
        self.tmp = tempfile.mkdtemp(prefix="paysim-pg-")
        self._as_user: list[str] = []
        if os.geteuid() == 0:
            shutil.chown(self.tmp, "postgres", "postgres")
            os.chmod(self.tmp, 0o700)
            self._as_user = ["runuser", "-u", "postgres", "--"]
        data = f"{self.tmp}/data"
        self._run(
            str(self.bin / "initdb"),
            "-D",
            data,
            "-U",
            "paysim",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = (
            f"-p {self.port} -k {self.tmp} -c listen_addresses=127.0.0.1 -c fsync=on "
            "-c max_connections=200 -c shared_buffers=64MB"
        )
        self._run(
            str(self.bin / "pg_ctl"),
            "-D",
            data,
            "-o",
            options,
            "-l",
            f"{self.tmp}/server.log",
            "-w",
            "start",
        )
        self.data = data
        deadline = time.monotonic() + 30
        while True:
            done = subprocess.run(
                [*self._as_user, str(self.bin / "createdb"), *self._address, "paysim"],
                capture_output=True,
                text=True,
                timeout=30,
            )
            if done.returncode == 0 or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        return self

    def database(self, name: str) -> str:
        """A new empty database in the cluster: its URL."""
        self._run(str(self.bin / "createdb"), *self._address, name)
        return self.url.rsplit("/", 1)[0] + "/" + name

    def __exit__(self, *exc: object) -> None:
        try:
            self._run(str(self.bin / "pg_ctl"), "-D", self.data, "-m", "immediate", "stop")
        finally:
            shutil.rmtree(self.tmp, ignore_errors=True)
