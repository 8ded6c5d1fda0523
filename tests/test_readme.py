"""The README's option tables name only options the commands have, and the commands it shows
exist: a renamed flag fails here instead of in a user's terminal."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(title)
    following = re.search(r"\n##+ ", README[start + len(title) :])
    return README[start : start + len(title) + (following.start() if following else len(README))]


def table_flags(text: str) -> set[str]:
    """The --flags in the first column of the markdown tables of ``text``."""
    flags = set()
    for line in text.splitlines():
        if line.startswith("| `"):
            flags.update(re.findall(r"`(--[a-z0-9-]+)", line.split("|")[1]))
    return flags


def help_text(*args: str) -> str:
    done = subprocess.run(
        [sys.executable, *args, "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    return done.stdout


@pytest.mark.parametrize(
    ("title", "command"),
    [
        ("## For QA", ("-m", "paysim", "conform")),
        ("### Simulator options", ("-m", "simulator")),
        ("## Load testing", ("-m", "paysim", "load")),
        ("### Grade your webhook handler", ("-m", "paysim", "webhooks", "check")),
    ],
)
def test_documented_options_exist(title: str, command: tuple[str, ...]) -> None:
    flags = table_flags(section(title))
    assert flags, f"no option table under {title}"
    text = help_text(*command)
    missing = sorted(f for f in flags if not re.search(rf"{re.escape(f)}\b", text))
    assert not missing, f"{title} documents options that {' '.join(command)} lacks: {missing}"


def test_serve_help_names_the_command() -> None:
    assert help_text("-m", "paysim", "serve").startswith("usage: paysim serve")


def test_documented_subcommands_exist() -> None:
    text = help_text("-m", "paysim")
    blocks = re.findall(r"```sh\n(.*?)```", README, re.S) + re.findall(r"`[^`\n]+`", README)
    code = "\n".join(blocks)
    commands = set(re.findall(r"paysim ([a-z]+)", code))
    assert {"conform", "load", "serve"} <= commands
    for command in sorted(commands):
        assert re.search(rf"\b{command}\b", text), f"README shows `paysim {command}`: no command"
