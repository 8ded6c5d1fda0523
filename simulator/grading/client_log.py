"""Client grading: every API request a client sends, kept per credential, and the integration
rules (``client_rules``) judged over them (``GET /_sim/clients/report``; on with
``--grade-clients``).

The log lives in its own table, which ``/_sim/reset`` leaves alone: a partner's suite may reset
between tests and still want one report at the end (``DELETE /_sim/clients/report``, or a reset
with ``{"client_log": true}``, clears it). A request whose credential the server refused (401)
is only counted, per API: whoever tries thousands of keys grows no log. The log is pruned as
``core/retention.py`` says.

Each row also keeps the answer the request got (``answered``), secrets masked and cut at
``ANSWER_KEPT`` bytes, so that one merchant's session can be exported as HAR (``session``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

import orjson

from simulator.core import retention
from simulator.core.store import Store, Tx
from simulator.grading import exam, operations

BODY_KEPT = 2000
ANSWER_KEPT = 16 * 1024  # bytes of an answer kept in its row; a longer one is cut, and says so
SECRET_FIELD = "secret"  # Kaspi shows a webhook endpoint's signing secret once, in its answer
KEPT_HEADERS = ("content-type", "idempotency-key", "x-freefin-signature", "last-event-id")
UNKNOWN_OPERATION = "no operation of the seed has this method and path"


@dataclass(frozen=True)
class Entry:
    seq: int
    api: str
    client: str
    operation: str
    method: str
    url: str
    headers: dict[str, str]
    body: str
    body_hash: str
    idempotency_key: str | None
    status: int
    retry_after: float | None
    error_code: str | None
    error_message: str | None
    problems: list[dict[str, Any]]
    at: float
    response_problems: list[dict[str, Any]] | None  # None: the answer was not judged
    exam: str | None = None  # the exam's situation this request met

    def header(self, name: str) -> str | None:
        return next((v for k, v in self.headers.items() if k.lower() == name.lower()), None)

    def evidence(self) -> dict[str, Any]:
        return {
            "method": self.method,
            "url": self.url,
            "headers": self.headers,
            "body": self.body,
            "status": self.status,
            "at": self.at,
            "error": self.error_code,
            "message": self.error_message,
            "problems": self.problems,
            **({"response_problems": self.response_problems} if self.response_problems else {}),
            **({"exam": self.exam} if self.exam else {}),
        }


COLUMNS = (
    "seq, api, client, operation, method, url, headers, body, body_hash, idempotency_key, "
    "status, retry_after, error_code, error_message, problems, at, response_problems, exam"
)
ANSWER_COLUMNS = "answer, answer_size, answer_type, answer_fault, took"


@dataclass(frozen=True)
class Answered:
    """What a logged request was answered: the body as kept (None: none kept, such as an event
    stream's, or a row from before answers were kept), its whole size in bytes, its
    Content-Type, whether a fault answered in the API's place, and the seconds it took."""

    text: str | None
    size: int | None
    content_type: str
    fault: bool
    took: float | None

    @property
    def cut(self) -> bool:
        """Whether the body kept is shorter than the one sent."""
        return self.text is not None and (self.size or 0) > ANSWER_KEPT


def answered(
    body: bytes | None, content_type: str, fault: bool = False, took: float | None = None
) -> Answered:
    """An answer as a row keeps it: secrets masked (before the cut, which would leave the JSON
    unreadable), then at most ``ANSWER_KEPT`` bytes."""
    if body is None:
        return Answered(None, None, content_type, fault, took)
    kept = without_secrets(body)[:ANSWER_KEPT].decode("utf-8", "replace")
    return Answered(_text(kept), len(body), content_type, fault, took)


def record(
    tx: Tx,
    *,
    api: str,
    client: str,
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    status: int,
    retry_after: float | None,
    error: tuple[str, str] | None,
    at: float,
    body_judged: bool = True,
    response_problems: list[operations.Problem] | None = None,
    situation: str | None = None,
    answer: Answered | None = None,
) -> None:
    """One request and its answer, with the seed operation it is for and what it breaks of it
    (``body_judged``: false for a body too large to hold; ``response_problems``: what the answer
    breaks of the seed, where it was judged; ``situation``: the exam's, if it met one;
    ``answer``: the answer as kept, made by ``answered``)."""
    if status == 401:  # a credential the server refused: counted, not kept
        tx.execute(
            "INSERT INTO client_refused (api, requests) VALUES (?, 1) ON CONFLICT (api) "
            "DO UPDATE SET requests = client_refused.requests + 1",
            (api,),
        )
        return
    operation = operations.match(api, method, path)
    if operation is None:
        name, problems = "", [operations.Problem("path", UNKNOWN_OPERATION)]
    else:
        judged_body = body if body_judged else b""
        name, problems = operation.name, operation.problems(judged_body, query, headers, path)
        if not body_judged:
            problems = [p for p in problems if p.field.split(".")[0] != "body"]
    kept = {k: v for k, v in headers.items() if k.lower() in KEPT_HEADERS}
    url = path + ("?" + urlencode(list(query.items())) if query else "")
    key = next((v for k, v in headers.items() if k.lower() == "idempotency-key"), None)
    tx.execute(
        "INSERT INTO client_requests (api, client, operation, method, url, headers, body, "
        "body_hash, idempotency_key, status, retry_after, error_code, error_message, problems, "
        f"at, response_problems, exam, {ANSWER_COLUMNS}) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (
            api,
            client,
            name,
            _text(method.upper()),
            _text(url),
            json.dumps(kept),
            _text(body[:BODY_KEPT].decode("utf-8", "replace")),
            hashlib.sha256(body).hexdigest(),
            None if key is None else _text(key),
            status,
            retry_after,
            _text(error[0]) if error else None,
            _text(error[1]) if error else None,
            json.dumps([p.to_dict() for p in problems], ensure_ascii=False),
            at,
            None
            if response_problems is None
            else json.dumps([p.to_dict() for p in response_problems], ensure_ascii=False),
            situation,
            *_answer_row(answer),
        ),
    )


def _answer_row(answer: Answered | None) -> tuple[Any, ...]:
    if answer is None:
        return (None, None, None, 0, None)
    return (answer.text, answer.size, answer.content_type, int(answer.fault), answer.took)


def _text(value: str) -> str:
    """What a client sent, storable by either engine: PostgreSQL's text takes no NUL, so it is
    kept as the four characters ``\\x00`` (the hash is of the bytes as sent)."""
    return value.replace("\x00", "\\x00")


def masked(credential: str) -> str:
    """A credential as the client report names it, never the key: a digest of all of it, so
    that distinct keys keep distinct names, between its first 8 and last 4 characters where it
    is long enough to keep most of it hidden (``sk_test_#1f0c9a7e42…pR4x``)."""
    credential = credential.removeprefix("Bearer ").strip()
    digest = hashlib.blake2b(credential.encode("utf-8", "surrogatepass"), digest_size=5)
    if len(credential) <= 16:
        return f"#{digest.hexdigest()}"
    return _text(f"{credential[:8]}#{digest.hexdigest()}…{credential[-4:]}")


def without_secrets(body: bytes) -> bytes:
    """A JSON body with each ``secret`` field masked as a credential is (other bodies as they
    are; only a body that names the field is parsed)."""
    if f'"{SECRET_FIELD}"'.encode() not in body:
        return body
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError:
        return body

    def walk(node: Any) -> Any:
        if isinstance(node, dict):
            return {
                k: masked(v) if k == SECRET_FIELD and isinstance(v, str) else walk(v)
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return orjson.dumps(walk(doc))


def error_of(raw: bytes) -> tuple[str, str] | None:
    """(code, message) of either API's error envelope."""
    try:
        body = json.loads(raw)
    except ValueError:
        return None
    if not isinstance(body, dict):
        return None
    error = body.get("error")
    if isinstance(error, dict):
        return str(error.get("code")), str(error.get("message"))
    if isinstance(error, str):
        return error, str(body.get("message"))
    return None


def clear(store: Store) -> None:
    """The log and the exam's progress, gone: the next request of each client starts afresh."""
    with store.tx() as tx:
        tx.execute("DELETE FROM client_requests")
        tx.execute("DELETE FROM client_refused")
    exam.clear(store)


def prune_log(tx: Tx, before: float, rows: int) -> int:
    """Delete the requests made before ``before`` (on the wall clock: moving the simulated clock
    leaves a client's log whole) and all but the newest ``rows``; how many went."""
    return tx.trim("client_requests", age="at", before=before, order="seq", rows=rows)


KEPT = retention.Table("client_requests", prune_log, clock="wall")  # pruned as retention says


def refused(store: Store) -> dict[str, int]:
    """The requests, per API, whose credential the server refused."""
    with store.read() as tx:
        rows = tx.execute("SELECT api, requests FROM client_refused ORDER BY api").fetchall()
    return {row[0]: int(row[1]) for row in rows}


def entries(store: Store, api: str | None = None) -> list[Entry]:
    """The log in the order it came (its JSON columns read by orjson, and the many equal ones,
    such as no problem at all, read once: the report's time is mostly this)."""
    where = " WHERE api=?" if api else ""
    sql = f"SELECT {COLUMNS} FROM client_requests{where} ORDER BY seq"
    with store.read() as tx:
        rows = tx.execute(sql, (api,) if api else ()).fetchall()
    make = _reader()
    return [make(row) for row in rows]


def session(store: Store, api: str, clients: list[str]) -> list[tuple[Entry, Answered]]:
    """The requests of these clients (masked credentials) of one API, in the order they came,
    each with its answer."""
    if not clients:
        return []
    marks = ", ".join("?" for _ in clients)
    sql = (
        f"SELECT {COLUMNS}, {ANSWER_COLUMNS} FROM client_requests "
        f"WHERE api=? AND client IN ({marks}) ORDER BY seq"
    )
    with store.read() as tx:
        rows = tx.execute(sql, (api, *clients)).fetchall()
    make = _reader()
    return [
        (make(row), Answered(row[18], row[19], row[20] or "", bool(row[21]), row[22]))
        for row in rows
    ]


def _reader() -> Callable[[Any], Entry]:
    """A row of ``COLUMNS`` -> its Entry."""
    seen: dict[str, Any] = {}

    def parsed(text: str) -> Any:
        if len(text) > 2:
            return orjson.loads(text)
        if text not in seen:
            seen[text] = orjson.loads(text)
        return seen[text]

    def make(row: Any) -> Entry:
        return Entry(
            seq=row[0],
            api=row[1],
            client=row[2],
            operation=row[3],
            method=row[4],
            url=row[5],
            headers=parsed(row[6]),
            body=row[7],
            body_hash=row[8],
            idempotency_key=row[9],
            status=row[10],
            retry_after=row[11],
            error_code=row[12],
            error_message=row[13],
            problems=parsed(row[14]),
            at=row[15],
            response_problems=None if row[16] is None else parsed(row[16]),
            exam=row[17],
        )

    return make
