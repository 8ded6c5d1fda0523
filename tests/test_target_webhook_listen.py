"""``--webhook-listen``: where the webhook receiver listens, so a remote target can reach it
through a tunnel at a known port; a value that is not HOST:PORT is a configuration error."""

from __future__ import annotations

from pathlib import Path

import pytest
import requests

from harness.scenarios.receiver import WebhookReceiver
from harness.simproc import free_port
from harness.target import collect_settings, make_target, parse_listen


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
