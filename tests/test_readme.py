"""The README's option tables name only options the commands have, and the commands it shows
exist: a renamed flag fails here instead of in a user's terminal."""

from __future__ import annotations

import itertools
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

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


# -- First requests: every command is sent, every field shown is checked --------------------

ID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|inv_[0-9a-f]{16}")
TIME = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z")
README_URL = "http://127.0.0.1:8080"


def exchanges(text: str) -> list[tuple[str, int, Any]]:
    """(command, status, answer shown) of each ```sh block followed by its ```text answer."""
    blocks = re.findall(r"```(sh|text)\n(.*?)```", text, re.S)
    pairs = []
    for (kind, command), (next_kind, answer) in itertools.pairwise(blocks):
        if (kind, next_kind) == ("sh", "text"):
            status, _, body = answer.partition("\n")
            pairs.append((command, int(status.removeprefix("HTTP ")), json.loads(body)))
    return pairs


class Ids:
    """Each id the README shows stands for one id the simulator gave, the same everywhere."""

    def __init__(self) -> None:
        self.real: dict[str, str] = {}

    def same(self, shown: str, got: str) -> bool:
        shown_ids, got_ids = ID.findall(shown), ID.findall(got)
        if len(shown_ids) != len(got_ids):
            return False
        for a, b in zip(shown_ids, got_ids, strict=True):
            if self.real.setdefault(a, b) != b or list(self.real.values()).count(b) > 1:
                return False

        def plain(s: str) -> str:
            return TIME.sub("<time>", ID.sub("<id>", s))

        return plain(shown) == plain(got)

    def into(self, command: str) -> str:
        for shown, got in self.real.items():
            command = command.replace(shown, got)
        return command


def mismatches(shown: Any, got: Any, ids: Ids, where: str = "") -> list[str]:
    if isinstance(shown, dict):
        if not isinstance(got, dict):
            return [f"{where}: {got!r} is not an object"]
        return [
            m
            for key, value in shown.items()
            for m in (
                mismatches(value, got[key], ids, f"{where}.{key}")
                if key in got
                else [f"{where}.{key}: absent"]
            )
        ]
    if isinstance(shown, str) and isinstance(got, str):
        return [] if ids.same(shown, got) else [f"{where}: shown {shown!r}, got {got!r}"]
    return [] if shown == got else [f"{where}: shown {shown!r}, got {got!r}"]


def test_the_first_requests_answer_as_shown() -> None:
    from harness.simproc import SimulatorProcess

    steps = exchanges(section("## First requests"))
    assert len(steps) == 7
    ids = Ids()
    with SimulatorProcess() as sim:
        for command, status, shown in steps:
            sent = ids.into(command).replace(README_URL, sim.url)
            sent = sent.replace("curl -s ", "curl -s -w '\\nHTTP %{http_code}' ", 1)
            done = subprocess.run(
                ["bash", "-c", sent], capture_output=True, text=True, timeout=30, check=True
            )
            body, _, code = done.stdout.rpartition("\n")
            assert int(code.removeprefix("HTTP ")) == status, (command, done.stdout)
            assert mismatches(shown, json.loads(body), ids) == [], command


def test_the_checker_of_first_requests_sees_a_difference() -> None:
    ids = Ids()
    a, b = "b2120147-f316-44b5-99fd-fa1cbc12079e", "00000000-f316-44b5-99fd-fa1cbc12079e"
    assert mismatches({"id": a, "n": 1}, {"id": b, "n": 1, "more": 2}, ids) == []
    assert mismatches({"id": a}, {"id": "11111111-f316-44b5-99fd-fa1cbc12079e"}, ids)  # not b
    assert mismatches({"n": 1}, {"n": 2}, Ids()) and mismatches({"n": 1}, {}, Ids())
    assert mismatches({"t": "2026-12-06T21:12:08.110Z"}, {"t": None}, Ids())


def test_the_planned_outcome_shows_where_the_readme_says() -> None:
    from simulator.app import create_app

    text = " ".join(section("### Scripted outcomes").split())
    assert "A freefin create answers with it in the `simulator` field" in text
    assert "a Kaspi invoice answers as its seed says" in text and "dashboard page" in text
    client = create_app({"TICKER": False}).test_client()
    payment = client.post(
        "/api/v1/public/payments",
        headers={"Authorization": "Bearer sk_test_rom001_Jq7Zt2xVw9LmN4pR"},
        json={"amount": 100, "order_id": "o-1"},
    )
    assert payment.json["simulator"] == "succeeded after 2000ms"
    invoice = client.post(
        "/api/v1/invoices",
        headers={"X-API-Key": "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8"},
        json={"amount": 100, "phone_number": "77011234567"},
    )
    assert invoice.status_code == 201 and "simulator" not in invoice.json
    page = client.get(f"/_sim/ui/kaspi/invoice/{invoice.json['id']}").get_data(as_text=True)
    assert re.search(r"planned: <strong>paid</strong>", page)


def test_the_ci_guide_installs_the_tool_not_a_clone() -> None:
    guide = (ROOT / "docs" / "ci.md").read_text(encoding="utf-8")
    assert "pip install -e" not in guide and "python -m simulator" not in guide
    assert 'pip install "${{ vars.PAYSIM_PACKAGE }}"' in guide and "paysim serve" in guide
