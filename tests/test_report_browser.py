"""The HTML report rendered by a real browser: headless Chromium takes a screenshot of it.

Chromium comes from Debian's packages (``apt-get install -y chromium``; CI installs it in
.ci/run). Without it the test is skipped on a developer's machine and fails in CI.
"""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest

from harness.report import build_report
from tests.test_report import GAPS, write_fixture_run

FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found:
        return found
    if os.environ.get("CI"):
        pytest.fail("chromium is not installed (.ci/run installs Debian's chromium)")
    pytest.skip("chromium is not installed: apt-get install -y chromium")


def decode_png(data: bytes) -> tuple[int, int, int, bytes]:
    """(width, height, bytes per pixel, raw pixel rows) of an 8-bit RGB or RGBA PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,), kind = struct.unpack(">I", data[pos : pos + 4]), data[pos + 4 : pos + 8]
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    assert header is not None
    width, height, depth, color = header[:4]
    assert depth == 8 and color in (2, 6), f"unexpected PNG format {depth}/{color}"
    bpp = 3 if color == 2 else 4
    raw, stride = zlib.decompress(idat), width * bpp
    rows, prev = bytearray(), bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - bpp] if i >= bpp else 0
            b, c = prev[i], prev[i - bpp] if i >= bpp else 0
            if kind == 1:
                line[i] = (line[i] + a) & 0xFF
            elif kind == 2:
                line[i] = (line[i] + b) & 0xFF
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 0xFF
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                pred = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                line[i] = (line[i] + pred) & 0xFF
        rows += line
        prev = line
    return width, height, bpp, bytes(rows)


def screenshot(browser: str, page: Path, out: Path, profile: Path, size: str) -> bytes:
    proc = subprocess.run(
        [
            browser,
            *FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={size}",
            f"--screenshot={out}",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.exists(), f"no screenshot (exit {proc.returncode}):\n{proc.stderr[-2000:]}"
    return out.read_bytes()


def test_report_renders_in_chromium(tmp_path: Path) -> None:
    browser = chromium()
    run = write_fixture_run(tmp_path / "run")
    build_report(run, gaps=GAPS)
    png = screenshot(
        browser, run / "report.html", tmp_path / "report.png", tmp_path / "profile", "1280,2000"
    )
    width, height, bpp, pixels = decode_png(png)
    assert (width, height) == (1280, 2000)
    colours = {pixels[i : i + 3] for i in range(0, len(pixels), bpp * 7)}
    dark = sum(1 for i in range(0, len(pixels), bpp * 7) if sum(pixels[i : i + 3]) < 200)
    # Text, tables, badges: many colours and a good share of dark (text) pixels, not a blank page.
    assert len(colours) > 50, f"only {len(colours)} colours: a blank page"
    assert dark > 1000, f"only {dark} dark pixels sampled: no text"
    # The failure badge's red is there (the run failed).
    assert any(
        r > 150 and g < 80 and b < 80
        for r, g, b in (pixels[i : i + 3] for i in range(0, len(pixels), bpp))
    ), "no red on the page"


def test_blank_page_is_told_apart(tmp_path: Path) -> None:
    """The checks above fail on a blank page: the same browser, an empty document."""
    browser = chromium()
    page = tmp_path / "blank.html"
    page.write_text("<!DOCTYPE html><html><body></body></html>")
    png = screenshot(browser, page, tmp_path / "blank.png", tmp_path / "profile", "320,240")
    _w, _h, bpp, pixels = decode_png(png)
    colours = {pixels[i : i + 3] for i in range(0, len(pixels), bpp)}
    assert len(colours) <= 2


def test_a_client_grade_page_renders_in_chromium(tmp_path: Path) -> None:
    """The grade's HTML page (paysim client-report --format html): a failed rule in red, its
    evidence, the key masked; self-contained."""
    from harness.grading import clients

    evidence = {
        "method": "POST",
        "url": "/api/v1/public/payments",
        "headers": {"Authorization": "Bearer sk_test_rom001_Jq7Zt2xVw9LmN4pR"},
        "body": '{"amount": 100.5}',
        "status": 400,
        "problems": [{"field": "body.amount", "message": "100.5 is not of type 'integer'"}],
    }
    finding = {
        "rule": "client.money",
        "side": "client",
        "title": "amounts in the right unit and type",
        "severity": "critical",
        "verdict": "failed",
        "detail": "1 of 1 requests with an amount broke the rule",
        "fix": "send kopecks as a JSON integer",
        "source": "seed: amount",
        "evidence": [evidence],
    }
    passed = {**finding, "rule": "client.idempotency_key", "verdict": "passed", "evidence": []}
    report = {
        "clients": [
            {
                "api": "freefin",
                "client": "sk_test_…pR",
                "requests": 1,
                "findings": [finding, passed],
            }
        ]
    }
    (page,) = clients.write(
        clients.grades(report, "http://127.0.0.1:8080"), tmp_path, formats=["html"]
    )
    text = page.read_text()
    assert page.suffix == ".html" and "client.money" in text and "body.amount" in text
    assert "Jq7Zt2xVw9LmN4pR" not in text  # the key is masked in the evidence
    assert "src=" not in text and "<link" not in text  # nothing fetched to open it
    png = screenshot(chromium(), page, tmp_path / "grade.png", tmp_path / "profile", "1024,900")
    _w, _h, bpp, pixels = decode_png(png)
    dark = sum(1 for i in range(0, len(pixels), bpp * 7) if sum(pixels[i : i + 3]) < 200)
    assert dark > 500, "no text on the page"
    assert any(
        r > 150 and g < 80 and b < 80
        for r, g, b in (pixels[i : i + 3] for i in range(0, len(pixels), bpp))
    ), "the failed rule is not shown in red"
