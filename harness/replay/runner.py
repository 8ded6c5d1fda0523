"""A recorded session sent again, in order, to another server of the same API: ids the earlier
answers made mapped to the new target's, Idempotency-Keys re-issued one to one, credentials and
signatures the target's own, waits kept or compressed; each answer compared with the recorded
one."""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import urlencode

import requests

from harness import signing
from harness.profile import ApiProfile
from harness.replay.diff import Answer, differences, payload_of, said_events, wanted_events
from harness.replay.mapping import Credentials, Ids, Keys
from harness.replay.session import Recorded
from harness.target import Target

CREDENTIAL = {"freefin": "authorization", "kaspi": "x-api-key"}
SIGNATURE = "x-freefin-signature"
NOT_SENT = frozenset(
    {
        "host",
        "content-length",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "te",
        "upgrade",
        "cookie",
        "x-control-token",
        "accept-encoding",
    }
)
TIMEOUT_S = (5.0, 30.0)
STREAM_WAIT_S = 10.0  # at most this long for a replayed stream to say what the recorded one did


class Unreachable(Exception):
    """The target answered nothing."""


@dataclasses.dataclass
class Outcome:
    """One replayed exchange: what was sent, what came, and what differs."""

    recorded: Recorded
    status: int | None
    seconds: float
    differences: list[str]
    curl: str = ""
    answer: str = ""
    body: Any = None
    note: str = ""  # why the answer was not compared

    @property
    def differs(self) -> bool:
        return bool(self.differences)


@dataclasses.dataclass
class Replay:
    """A replay's settings and what it has learnt so far."""

    target: Target
    recorded_profiles: Callable[[str], ApiProfile] = lambda api: ApiProfile()
    speed: float = 1.0  # 0: no waits
    stream_wait_s: float = STREAM_WAIT_S
    sleep: Callable[[float], None] = time.sleep
    http: requests.Session = dataclasses.field(default_factory=requests.Session)
    ids: Ids = dataclasses.field(default_factory=Ids)
    keys: Keys = dataclasses.field(default_factory=Keys)
    event_ids: dict[str, str] = dataclasses.field(default_factory=dict)

    def __post_init__(self) -> None:
        self.credentials = Credentials(self.target)

    def run(self, session: Iterable[Recorded]) -> list[Outcome]:
        """Every exchange, in order, each after its recorded wait (divided by ``speed``)."""
        outcomes: list[Outcome] = []
        first: float | None = None
        began = time.monotonic()
        for exchange in session:
            first = exchange.started if first is None else first
            if self.speed > 0:
                due = (exchange.started - first) / self.speed
                ahead = due - (time.monotonic() - began)
                if ahead > 0:
                    self.sleep(ahead)
            outcomes.append(self.one(exchange))
        return outcomes

    def one(self, rec: Recorded) -> Outcome:
        """Send one exchange again and compare its answer."""
        url, headers, body = self._request(rec)
        started = time.monotonic()
        try:
            resp = self.http.request(
                rec.method,
                url,
                headers=headers,
                data=body,
                stream=rec.stream,
                timeout=(TIMEOUT_S[0], 2.0) if rec.stream else TIMEOUT_S,
                allow_redirects=False,
            )
        except requests.ConnectionError as exc:
            raise Unreachable(f"{url}: {type(exc).__name__}") from exc
        except requests.RequestException as exc:
            took = time.monotonic() - started
            return Outcome(rec, None, took, [f"no answer: {type(exc).__name__}"], _curl(rec, url))
        events = self._events(resp, rec) if rec.stream else []
        text = "" if rec.stream else resp.text
        took = time.monotonic() - started
        now = Answer(resp.status_code, _json(resp) if not rec.stream else None, events)
        was = Answer(rec.status, rec.answer, rec.events)
        self.ids.learn(was.body, now.body)
        self._learn_events(rec.events, events)
        outcome = Outcome(rec, resp.status_code, took, [], _curl(rec, url, headers, body), text)
        outcome.body = now.body
        if rec.by_proxy:
            outcome.note = "the recorded answer was not the API's (the proxy's or a fault's)"
            return outcome
        outcome.differences = differences(
            rec.api,
            was,
            now,
            self.ids,
            self.recorded_profiles(rec.api),
            self.target.profile(rec.api),
        )
        return outcome

    def _request(self, rec: Recorded) -> tuple[str, dict[str, str], bytes | None]:
        base = self.target.target_url if rec.api == "freefin" else self.target.kaspi_url
        url = base + self.ids.apply(rec.path)
        if rec.query:
            url += "?" + urlencode([(k, self.ids.apply(v)) for k, v in rec.query])
        body = self.ids.apply(rec.body.decode()).encode() if rec.body is not None else None
        headers = {k: v for k, v in rec.headers.items() if k not in NOT_SENT}
        credential = headers.pop(CREDENTIAL[rec.api], None)
        secret = ""
        if credential is not None:
            found = self.credentials(rec.api, credential)
            if found is not None:
                key, secret = found
                headers[CREDENTIAL[rec.api]] = f"Bearer {key}" if rec.api == "freefin" else key
        if "idempotency-key" in headers:
            headers["idempotency-key"] = self.keys(headers["idempotency-key"])
        if SIGNATURE in headers:
            headers[SIGNATURE] = signing.sign(body or b"", secret)
        if "last-event-id" in headers:
            headers["last-event-id"] = self.event_ids.get(
                headers["last-event-id"], headers["last-event-id"]
            )
        return url, headers, body

    def _events(self, resp: requests.Response, rec: Recorded) -> list[dict[str, str]]:
        """The stream's events until it has said every recorded event about this session's
        objects (or ``stream_wait_s`` passed)."""
        wanted = [w for _kind, w in wanted_events(rec.events, self.ids)]
        deadline = time.monotonic() + self.stream_wait_s
        events: list[dict[str, str]] = []
        current: dict[str, str] = {}
        try:
            for line in resp.iter_lines(decode_unicode=True):
                if line == "":
                    if "data" in current or "event" in current:
                        events.append(current)
                    current = {}
                    if all(w in said_events(events) for w in wanted):
                        break
                else:
                    name, _, value = line.partition(":")
                    if name in ("id", "event", "data"):
                        current[name] = value.removeprefix(" ")
                if time.monotonic() > deadline:
                    break
        except requests.RequestException:
            pass  # a read timeout between heartbeats: what came is what is compared
        finally:
            resp.close()
        return events

    def _learn_events(self, recorded: list[dict[str, str]], replayed: list[dict[str, str]]) -> None:
        """A recorded event's id -> the id of the replayed event saying the same."""
        said = said_events(replayed)
        for event in recorded:
            if "id" not in event:
                continue
            said_of = payload_of(event)
            wanted = (self.ids.value(said_of.get("id")), said_of.get("status"))
            if wanted in said:
                self.event_ids.setdefault(event["id"], replayed[said.index(wanted)].get("id", ""))


def _json(resp: requests.Response) -> Any:
    try:
        return resp.json()
    except ValueError:
        return None


def _curl(
    rec: Recorded, url: str, headers: dict[str, str] | None = None, body: bytes | None = None
) -> str:
    parts = [f"curl -X {rec.method} '{url}'"]
    for name, value in (headers or {}).items():
        parts.append(f"-H '{name}: {value}'")
    if body:
        parts.append(
            "--data-binary '" + body.decode("utf-8", "replace").replace("'", "'\\''") + "'"
        )
    return " ".join(parts)
