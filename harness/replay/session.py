"""A recorded session (HAR 1.2, as ``paysim proxy --record`` writes it) read into exchanges, in
the order their requests came."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# Where each API is served behind the proxy (and the bundled simulator): freefin under the
# server's root, Kaspi under its base URL, whose path ends in /api.
MOUNTS = (("freefin", "/api/v1/public", ""), ("kaspi", "/api/", "/api"))
# Who answered in the API's place (``_answeredBy``): the recording proxy (a fault of its own, an
# upstream it did not reach), or, in a session exported from the simulator, a fault it injected.
NOT_THE_API = ("proxy", "fault")


class SessionError(ValueError):
    """A file that is not a session this command can replay; the message says why."""


@dataclasses.dataclass
class Recorded:
    """One exchange as recorded: the request as sent, the answer as it came."""

    seq: int
    api: str
    started: float  # seconds since the epoch
    method: str
    path: str  # under the API's base URL (Kaspi: without its /api)
    query: list[tuple[str, str]]
    headers: dict[str, str]  # names in lower case
    body: bytes | None
    status: int
    answer_text: str | None
    events: list[dict[str, str]]
    stream: bool
    by_proxy: bool  # the answer was not the API's: the recording proxy's, or a fault's
    seconds: float

    @property
    def answer(self) -> Any:
        """The answer's JSON, or None."""
        if not self.answer_text or self.stream:
            return None
        try:
            return json.loads(self.answer_text)
        except ValueError:
            return None

    @property
    def title(self) -> str:
        return f"#{self.seq} {self.method} {self.path}"


def _api_of(path: str) -> tuple[str, str]:
    for api, prefix, base in MOUNTS:
        if path.startswith(prefix) or path == prefix.rstrip("/"):
            return api, path.removeprefix(base)
    raise SessionError(f"{path}: not a path of either API (freefin /api/v1/public, Kaspi /api)")


def _started(entry: dict[str, Any]) -> float:
    text = str(entry.get("startedDateTime", "")).replace("Z", "+00:00")
    try:
        return datetime.fromisoformat(text).timestamp()
    except ValueError as exc:
        raise SessionError(f"bad startedDateTime {text!r}") from exc


def read(path: str | Path) -> list[Recorded]:
    """The exchanges of a HAR file, ordered as their requests came (``_seq``, else start)."""
    try:
        doc = json.loads(Path(path).read_text(encoding="utf-8"))
        entries = doc["log"]["entries"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SessionError(f"{path}: not a HAR file ({exc})") from exc
    found = []
    for n, entry in enumerate(entries, 1):
        try:
            request, response = entry["request"], entry["response"]
            url = urlsplit(request["url"])
            api, sub = _api_of(url.path)
            content = response.get("content", {})
            post = request.get("postData")
            found.append(
                Recorded(
                    seq=int(entry.get("_seq", n)),
                    api=api,
                    started=_started(entry),
                    method=request["method"].upper(),
                    path=sub,
                    query=[(q["name"], q["value"]) for q in request.get("queryString", [])],
                    headers={h["name"].lower(): h["value"] for h in request.get("headers", [])},
                    body=post["text"].encode() if post and "text" in post else None,
                    status=int(response["status"]),
                    answer_text=content.get("text"),
                    events=list(content.get("_events", [])),
                    stream=str(content.get("mimeType", "")).startswith("text/event-stream"),
                    by_proxy=entry.get("_answeredBy") in NOT_THE_API,
                    seconds=float(entry.get("time", 0)) / 1000,
                )
            )
        except (KeyError, TypeError, ValueError) as exc:
            if isinstance(exc, SessionError):
                raise
            raise SessionError(f"{path}: entry {n} is not a HAR entry ({exc!r})") from exc
    found.sort(key=lambda r: (r.seq, r.started))
    if not found:
        raise SessionError(f"{path}: no exchange recorded")
    return found
