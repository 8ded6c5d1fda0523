"""One entry and one table for load: ``python -m loadtests`` is ``paysim load``, and the load
options (the target, the API, the credentials) are the target option table's."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from harness.target import LOAD_CREDENTIALS, LOAD_OPTIONS, OPTIONS

ROOT = Path(__file__).resolve().parent.parent


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, *args], cwd=ROOT, capture_output=True, text=True, timeout=60
    )


def test_python_m_loadtests_is_paysim_load() -> None:
    ours, theirs = _run("-m", "loadtests", "--help"), _run("-m", "paysim", "load", "--help")
    assert ours.returncode == theirs.returncode == 0
    assert ours.stdout == theirs.stdout
    for opt in LOAD_OPTIONS:
        assert opt.flag in ours.stdout
    bad = _run("-m", "loadtests", "smoke", "--shape-param", "users")
    assert (bad.returncode, bad.stderr) == (
        2,
        "paysim: shape parameter 'users' is not name=value\n",
    )


def test_the_load_credentials_are_the_tables_secrets_the_personas_take() -> None:
    assert LOAD_CREDENTIALS == (
        "freefin_key",
        "freefin_signing_secret",
        "freefin_signed_key",
        "freefin_signed_secret",
        "freefin_key_b",
        "kaspi_key",
        "kaspi_key_b",
    )
    assert {o.name for o in LOAD_OPTIONS} - set(LOAD_CREDENTIALS) == {
        "target_url",
        "kaspi_url",
        "api",
    }


# Locust patches the standard library with gevent when imported: its parser is read in a child.
_LOCUST_OPTIONS = """
import json
from locust.argument_parser import get_empty_argument_parser
from loadtests.settings import add_options
parser = get_empty_argument_parser()
add_options(parser)
print(json.dumps({a.dest: [a.option_strings, a.default, a.env_var] for a in parser._actions}))
"""


def test_the_locustfile_takes_the_load_options_from_the_table() -> None:
    done = _run("-c", _LOCUST_OPTIONS)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout.strip().splitlines()[-1])
    for opt in OPTIONS:
        if opt.load:
            flags, default, env = found[opt.name]
            assert flags == [opt.flag] and env == opt.env
            assert default == ("both" if opt.name == "api" else "")
        else:
            assert opt.name not in found
