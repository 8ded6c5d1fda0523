"""A real headless Chromium driven over the DevTools protocol (websocket-client): open a page,
run a line of script in it (a click), read what it shows, take a screenshot.

Chromium comes from Debian's packages, as for tests/test_report_browser.py.
"""

from __future__ import annotations

import base64
import itertools
import json
import re
import subprocess
import time
from pathlib import Path
from types import TracebackType
from typing import Any

import requests
import websocket

from tests.test_report_browser import FLAGS, chromium

LISTENING = re.compile(r"DevTools listening on (ws://127\.0\.0\.1:(\d+)/\S+)")


class Browser:
    """One headless Chromium with one page; ``with Browser(profile) as page: ...``."""

    def __init__(self, profile: Path, size: tuple[int, int] = (1280, 1000)) -> None:
        self.profile, self.size = profile, size
        self._ids = itertools.count(1)
        self.proc: subprocess.Popen[str] | None = None
        self.ws: websocket.WebSocket | None = None

    def __enter__(self) -> Browser:
        self.proc = subprocess.Popen(
            [
                chromium(),
                *FLAGS,
                f"--user-data-dir={self.profile}",
                f"--window-size={self.size[0]},{self.size[1]}",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
                "about:blank",
            ],
            stderr=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            text=True,
        )
        assert self.proc.stderr is not None
        port = None
        deadline = time.monotonic() + 60
        while port is None and time.monotonic() < deadline:
            line = self.proc.stderr.readline()
            if not line and self.proc.poll() is not None:
                raise RuntimeError(f"chromium exited with {self.proc.returncode}")
            match = LISTENING.search(line)
            if match:
                port = int(match.group(2))
        assert port is not None, "chromium did not open its DevTools port"
        pages = requests.get(f"http://127.0.0.1:{port}/json/list", timeout=10).json()
        page = next(p for p in pages if p.get("type") == "page")
        # No Origin header: Chromium refuses a DevTools socket from an origin it was not told
        # to allow (--remote-allow-origins), and a client with no Origin is not a web page.
        self.ws = websocket.create_connection(
            page["webSocketDebuggerUrl"], timeout=30, suppress_origin=True
        )
        self.call("Page.enable")
        self.call("Runtime.enable")
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self.ws is not None:
            self.ws.close()
        if self.proc is not None:
            self.proc.kill()
            self.proc.wait(10)
            if self.proc.stderr is not None:
                self.proc.stderr.close()

    def call(self, method: str, **params: Any) -> dict[str, Any]:
        """One DevTools command and its result (events that arrive meanwhile are dropped)."""
        assert self.ws is not None
        ident = next(self._ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        while True:
            message = json.loads(self.ws.recv())
            if message.get("id") == ident:
                if "error" in message:
                    raise RuntimeError(f"{method}: {message['error']}")
                return dict(message.get("result", {}))

    def open(self, url: str, headers: dict[str, str] | None = None) -> None:
        """Go to ``url`` (with extra request headers on every request) and wait for it."""
        if headers:
            self.call("Network.enable")
            self.call("Network.setExtraHTTPHeaders", headers=headers)
        # the page being left is marked: until the new one stands, the old one (complete too)
        # would answer every question about "the page"
        self.run("window.paysimLeft = true")
        self.call("Page.navigate", url=url)
        self.wait_for(
            "!window.paysimLeft && document.readyState === 'complete' "
            "&& location.href !== 'about:blank'"
        )

    def run(self, script: str) -> Any:
        """The value of ``script`` in the page (awaited when it is a promise)."""
        result = self.call(
            "Runtime.evaluate", expression=script, returnByValue=True, awaitPromise=True
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{script}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, condition: str, timeout: float = 15.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if self.run(f"Boolean({condition})"):
                    return
            except RuntimeError:  # the page is between documents
                pass
            time.sleep(0.1)
        raise AssertionError(f"the page never showed: {condition}")

    def screenshot(self, out: Path) -> bytes:
        data = base64.b64decode(self.call("Page.captureScreenshot", format="png")["data"])
        out.write_bytes(data)
        return data
