"""``--webhook-listen``: where the webhook receiver listens, so a remote target can reach it
through a tunnel at a known port; a value that is not HOST:PORT is a configuration error."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import requests

from harness.scenarios.receiver import WebhookReceiver
from harness.simproc import free_port
from harness.target import collect_settings, make_target, parse_listen

FLAGS = ("-p", "no:cacheprovider", "--api", "freefin", "--webhook-listen")


def test_the_receiver_listens_where_told() -> None:
    port = free_port()
    with WebhookReceiver("s", listen=f"127.0.0.1:{port}") as rx:
        assert rx.local_url == f"http://127.0.0.1:{port}"
        assert rx.url_for("abc") == f"http://127.0.0.1:{port}/hooks/abc"
        resp = requests.post(f"http://127.0.0.1:{port}/hooks/abc", json={"id": "e1"}, timeout=5)
        assert resp.status_code == 200
        assert [d.event_id for d in rx.deliveries("abc")] == ["e1"]


def test_a_public_url_is_what_the_target_is_given() -> None:
    port = free_port()
    with WebhookReceiver("s", "https://hooks.example.com/", f"127.0.0.1:{port}") as rx:
        assert rx.url_for("abc") == "https://hooks.example.com/hooks/abc"
        assert rx.local_url.endswith(f":{port}")


def test_by_default_loopback_and_a_free_port() -> None:
    with WebhookReceiver() as rx, WebhookReceiver() as other:
        assert rx.local_url.startswith("http://127.0.0.1:")
        assert rx.local_url != other.local_url


def test_the_setting_comes_from_option_env_or_file(tmp_path: Path) -> None:
    creds = tmp_path / "creds.yaml"
    creds.write_text("webhook_listen: 127.0.0.1:8766\n")
    from_file = collect_settings(environ={"PAYSIM_CREDENTIALS_FILE": str(creds)})
    from_env = collect_settings(environ={"PAYSIM_WEBHOOK_LISTEN": "127.0.0.1:8765"})
    assert from_file["webhook_listen"] == "127.0.0.1:8766"
    assert make_target(from_env, bundled_url="http://127.0.0.1:1").webhook_listen == (
        "127.0.0.1:8765"
    )
    assert make_target({}, bundled_url="http://127.0.0.1:1").webhook_listen == "127.0.0.1:0"


@pytest.mark.parametrize("value", ["8765", "127.0.0.1", ":8765", "127.0.0.1:http", "h:70000"])
def test_a_bad_value_says_what_is_wanted(value: str) -> None:
    with pytest.raises(ValueError, match="webhook_listen must be HOST:PORT"):
        parse_listen(value)
    with pytest.raises(ValueError, match="webhook_listen"):
        make_target({"webhook_listen": value}, bundled_url="http://127.0.0.1:1")


@pytest.mark.slow
@pytest.mark.server
def test_a_port_already_taken_stops_the_run_with_4() -> None:
    """pytest on the scenarios with the receiver told to listen on a busy port: exit 4, once."""
    root = Path(__file__).resolve().parent.parent
    env = {k: v for k, v in os.environ.items() if not k.startswith("PAYSIM_")}
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        listen = f"127.0.0.1:{busy.getsockname()[1]}"
        proc = subprocess.run(
            [sys.executable, "-m", "pytest", "scenarios/freefin/refunds.yaml", *FLAGS, listen],
            cwd=root,
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
        )
    out = proc.stdout + proc.stderr
    assert proc.returncode == 4, out
    assert out.count(f"the webhook receiver cannot listen on {listen}") == 1, out
