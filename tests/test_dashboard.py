"""The dashboard (/_sim/ui) in a real headless Chromium against a real simulator: the pages
render what the store holds, each button changes the simulator through the control API (and the
change shows), an error from that API is shown, and the pages are guarded as the API is.
Screenshots of each page are kept in the test's folder and named in the JUnit properties."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from harness.simproc import SimulatorProcess
from tests.browser import Browser
from tests.conftest import FF, KEY_A1
from tests.test_report_browser import decode_png

pytestmark = pytest.mark.server
H = {"Authorization": f"Bearer {KEY_A1}"}
TOKEN = "dash-" + uuid.uuid4().hex
TERMINAL_A1 = "0b6a3f12-9c4d-4e8a-b1f7-5d2c8e9a4b01"  # KEY_A1's terminal (simulator/seed.yaml)
MERCHANT_A = "6f0c2a4e-1b7d-4c39-9a51-2d8e6b0f3a11"  # its merchant


@pytest.fixture(scope="module")
def sim() -> Iterator[SimulatorProcess]:
    with SimulatorProcess(extra_args=["--grade-clients"]) as proc:
        yield proc


@pytest.fixture(scope="module")
def page(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Browser]:
    with Browser(tmp_path_factory.mktemp("chromium")) as browser:
        yield browser


@pytest.fixture()
def shot(page: Browser, tmp_path: Path, record_property: Any) -> Iterator[Any]:
    """Take a screenshot, keep it, name it in the test's output; check it is not blank."""

    def take(name: str) -> Path:
        out = tmp_path / f"{name}.png"
        _w, _h, bpp, pixels = decode_png(page.screenshot(out))
        dark = sum(1 for i in range(0, len(pixels), bpp * 7) if sum(pixels[i : i + 3]) < 200)
        assert dark > 300, f"{name}: no text on the page"
        record_property(f"screenshot:{name}", str(out))
        print(f"screenshot {name}: {out}")
        return out

    yield take


def _control(sim: SimulatorProcess, method: str, path: str, **body: Any) -> Any:
    answer = requests.request(method, f"{sim.url}/_sim{path}", json=body or None, timeout=10)
    assert answer.ok, answer.text
    return answer.json()


def _pending_payment(sim: SimulatorProcess) -> str:
    """A payment held pending for ten minutes (its outcome queued through the control API)."""
    _control(
        sim,
        "POST",
        "/outcomes",
        api="freefin",
        object="payment",
        outcome="succeeded",
        delay_ms=600_000,
    )
    made = requests.post(
        f"{sim.url}{FF}/payments",
        json={"amount": 25_000, "order_id": "dash-" + uuid.uuid4().hex[:8]},
        headers={**H, "Idempotency-Key": str(uuid.uuid4())},
        timeout=10,
    )
    assert made.status_code == 201, made.text
    return str(made.json()["payment"]["id"])


def _payment_status(sim: SimulatorProcess, pid: str) -> str:
    answer = requests.get(f"{sim.url}{FF}/payments/{pid}", headers=H, timeout=10)
    return str(answer.json()["status"])


def _text(page: Browser, selector: str) -> str:
    return str(page.run(f"document.querySelector({selector!r})?.innerText ?? ''"))


def _click(page: Browser, selector: str) -> None:
    page.run(f"document.querySelector({selector!r}).click()")


def test_a_transition_clicked_on_the_page_moves_the_payment(
    sim: SimulatorProcess, page: Browser, shot: Any
) -> None:
    pid = _pending_payment(sim)
    page.open(f"{sim.url}/_sim/ui/freefin/payment/{pid}")
    assert _text(page, "#status") == "pending"
    assert "planned: succeeded" in _text(page, "main")
    moves = page.run("[...document.querySelectorAll('#moves button')].map(b => b.innerText)")
    assert set(moves) == {"processing", "expired", "succeeded", "failed"}  # what pending allows
    assert "payment.created" in _text(page, "#history")
    shot("payment-pending")
    _click(page, "#moves button[data-body*='\"succeeded\"']")
    page.wait_for("document.querySelector('#status')?.innerText === 'succeeded'")
    assert _payment_status(sim, pid) == "succeeded"  # the API says so too
    history = _text(page, "#history")
    assert "payment.succeeded" in history and "payment.status_changed" in history
    assert "no transition is open" in _text(page, "#moves")  # a succeeded payment: none
    shot("payment-succeeded")


def test_an_error_from_the_control_api_is_shown_on_the_page(
    sim: SimulatorProcess, page: Browser, shot: Any
) -> None:
    """A page out of date: the payment expired since it was drawn. Its 'succeeded' button is
    refused by the control API, and the page says so instead of pretending."""
    pid = _pending_payment(sim)
    page.open(f"{sim.url}/_sim/ui/freefin/payment/{pid}")
    _control(sim, "POST", "/transition", api="freefin", object="payment", id=pid, status="expired")
    _click(page, "#moves button[data-body*='\"succeeded\"']")
    page.wait_for("document.querySelector('#flash').className === 'error'")
    assert "409" in _text(page, "#flash") and "expired" in _text(page, "#flash")
    assert _payment_status(sim, pid) == "expired"
    shot("refused-transition")


def test_the_overview_lists_merchants_and_switches_a_defect_and_the_clock(
    sim: SimulatorProcess, page: Browser, shot: Any
) -> None:
    _pending_payment(sim)
    _control(sim, "DELETE", "/defects")
    before = _control(sim, "GET", "/clock")["offset_s"]
    page.open(f"{sim.url}/_sim/ui/")
    merchants = _text(page, "#merchants")
    assert "freefin" in merchants and "payments" in merchants and "pending" in merchants
    assert "no defect on" in _text(page, "main")
    shot("overview")
    _click(page, "#defects button[data-body*='freefin.wrong_type']")
    page.wait_for("document.body.innerText.includes('1 defect on')")
    assert _control(sim, "GET", "/defects")["active"] == ["freefin.wrong_type"]
    _click(page, "button[data-body='{\"seconds\": 3600}']")
    page.wait_for("document.querySelector('#clock').innerText.includes('+')")
    assert _control(sim, "GET", "/clock")["offset_s"] >= before + 3600
    _control(sim, "DELETE", "/defects")
    page.run(
        "const f = document.querySelector('#add-fault');"
        "f.path.value = '^/nowhere$'; f.kind.value = 'status'; f.status.value = '503';"
        "f.querySelector('button').click()"
    )
    page.wait_for("document.querySelector('#faults').innerText.includes('/nowhere')")
    (fault,) = _control(sim, "GET", "/faults")["faults"]
    assert (fault["path"], fault["kind"], fault["status"]) == ("^/nowhere$", "status", 503)
    _control(sim, "DELETE", "/faults")


def test_a_failed_delivery_is_retried_from_the_delivery_log(
    sim: SimulatorProcess, page: Browser, shot: Any
) -> None:
    """Webhooks to a port nobody listens on fail and wait to be retried; 'retry now' on the
    page sends the next attempt at once."""
    _control(sim, "POST", "/webhooks/config", retry_schedule=[0, 3600, 3600], timeout_s=1)
    _control(
        sim,
        "POST",
        "/webhooks/endpoint",
        api="freefin",
        terminal_id=TERMINAL_A1,
        url="http://127.0.0.1:9/hook",
    )
    try:
        _pending_payment(sim)

        def attempted() -> list[dict[str, Any]]:
            items = _control(sim, "GET", "/webhooks/deliveries?api=freefin&status=retrying")
            return [d for d in items["items"] if d["url"].endswith(":9/hook")]

        _wait(lambda: attempted() and attempted()[0]["attempts"] == 1)
        delivery = attempted()[0]
        page.open(f"{sim.url}/_sim/ui/deliveries?status=retrying")
        row = f"#deliveries tr:has(code[data-id='{delivery['id']}'])"
        assert "connection error" in _text(page, row)
        shot("deliveries")
        _click(page, f"{row} button")
        _wait(lambda: any(d["id"] == delivery["id"] and d["attempts"] == 2 for d in attempted()))
    finally:
        _control(sim, "POST", "/webhooks/endpoint", api="freefin", terminal_id=TERMINAL_A1)


def _wait(condition: Any, timeout: float = 15.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.1)
    raise AssertionError("timed out")


def test_the_client_report_shows_a_client_that_sent_no_idempotency_key(
    sim: SimulatorProcess, page: Browser, shot: Any
) -> None:
    _control(sim, "DELETE", "/clients/report")
    made = requests.post(
        f"{sim.url}{FF}/payments",
        json={"amount": 1000, "order_id": "no-key"},
        headers=H,
        timeout=10,
    )
    assert made.status_code == 201
    page.open(f"{sim.url}/_sim/ui/clients")
    findings = _text(page, ".findings")
    shown = f"{page.run('location.href')}: {_text(page, 'main')}"
    assert "client.idempotency_key" in findings and "failed" in findings, shown
    shot("client-report")


def test_a_merchants_session_is_exported_from_its_link_on_the_overview(
    sim: SimulatorProcess, page: Browser, shot: Any
) -> None:
    pid = _pending_payment(sim)
    page.open(f"{sim.url}/_sim/ui/")
    link = f"#merchants a.session[href*='/freefin/merchant/{MERCHANT_A}/']"
    assert _text(page, link) == "session as HAR"
    shot("overview-session-link")
    got = page.run(
        f"fetch(document.querySelector({link!r}).href).then(async r => ("
        "{type: r.headers.get('Content-Type'), saved: r.headers.get('Content-Disposition'),"
        " har: await r.json()}))"
    )
    assert got["type"] == "application/json"
    assert got["saved"].startswith('attachment; filename="paysim-freefin-')
    entries = got["har"]["log"]["entries"]
    made = [e for e in entries if pid in e["response"]["content"].get("text", "")]
    assert made and made[0]["request"]["method"] == "POST"
    assert [e["_seq"] for e in entries] == sorted(e["_seq"] for e in entries)


def test_the_dashboard_only_reads_every_change_is_the_control_apis() -> None:
    from simulator.app import create_app

    app = create_app({"DB_PATH": ":memory:", "TICKER": False})
    rules = [r for r in app.url_map.iter_rules() if r.rule.startswith("/_sim/ui")]
    assert rules and all(r.methods <= {"GET", "HEAD", "OPTIONS"} for r in rules)


def test_the_dashboard_is_guarded_as_the_control_api_is() -> None:
    with SimulatorProcess(extra_args=["--control-token", TOKEN]) as sim:
        url = f"{sim.url}/_sim/ui/"
        locked = requests.get(url, timeout=10)
        assert locked.status_code == 401 and "control token is needed" in locked.text
        assert TOKEN not in locked.text
        opened = requests.get(url, headers={"X-Control-Token": TOKEN}, timeout=10)
        assert opened.status_code == 200 and TOKEN in opened.text  # for the page's own calls
        session = requests.Session()
        wrong = session.get(url, params={"token": "nope"}, timeout=10)
        assert wrong.status_code == 401 and not session.cookies
        given = session.get(url, params={"token": TOKEN}, timeout=10, allow_redirects=False)
        assert given.status_code == 302 and "token=" not in given.headers["Location"]
        cookie = given.headers["Set-Cookie"]
        assert "HttpOnly" in cookie and "SameSite=Strict" in cookie and "Path=/_sim/ui" in cookie
        assert session.get(url, timeout=10).status_code == 200
        # the cookie opens the dashboard only: the control API still wants its header
        assert session.post(f"{sim.url}/_sim/reset", timeout=10).status_code == 401
