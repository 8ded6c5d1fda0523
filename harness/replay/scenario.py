"""``paysim scenario from-har``: a recorded session as a YAML scenario the scenario runner runs
like the bundled ones.

Each exchange is a step: its request (the credential by role, a freefin signature made again,
each Idempotency-Key a fresh ``{{ $unique }}`` shared by its retries, an id an earlier answer
made a saved value), its status and the seed's fields of its answer (required enums, numbers
and booleans; the session's ids) as assertions from the seed answer that documents them
(``seed: METHOD /path STATUS``), an error code from the supplement's entry. An answer the
recording proxy made itself is sent again, not asserted.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import yaml

from harness.profile import ApiProfile
from harness.replay.diff import error_code, seed_fields
from harness.replay.mapping import SHORTEST_ID, Credentials
from harness.replay.session import Recorded
from harness.scenarios import provenance
from harness.scenarios.loader import load_text
from harness.target import make_target


def _seed_answer(api: str, method: str, template: str | None, status: int) -> str | None:
    """``seed: METHOD /path STATUS`` when the seed documents that answer."""
    if template is None:
        return None
    origin = f"seed: {method} {template} {status}"
    try:
        provenance.parse(origin, api)
    except ValueError:
        return None
    return origin


def _documented(api: str, origin: str) -> set[str]:
    return provenance.answer_fields(api, origin) or set()


def _leaves(body: Any, path: str = "") -> list[tuple[str, str, Any]]:
    """(dotted path, last name, value) of each scalar in ``body`` (objects only, no lists)."""
    found = []
    if isinstance(body, dict):
        for name, value in body.items():
            here = f"{path}.{name}" if path else name
            if isinstance(value, dict):
                found += _leaves(value, here)
            elif not isinstance(value, list):
                found.append((here, name, value))
    return found


class _Writer:
    def __init__(self, exchanges: list[Recorded], recorded: ApiProfile) -> None:
        self.exchanges, self.recorded = exchanges, recorded
        self.api = exchanges[0].api
        self.keys: dict[str, str] = {}
        self.saved: dict[str, str] = {}  # recorded id -> variable
        self.roles = Credentials(make_target({"target_url": "http://127.0.0.1:1"}))
        self.later = [self._sent_text(e) for e in exchanges]

    @staticmethod
    def _sent_text(rec: Recorded) -> str:
        query = " ".join(v for _k, v in rec.query)
        return f"{rec.path} {query} {(rec.body or b'').decode('utf-8', 'replace')}"

    def _ids(self, text: str) -> str:
        for old in sorted(self.saved, key=len, reverse=True):
            text = text.replace(old, "{{ " + self.saved[old] + " }}")
        return text

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self._ids(value)
        if isinstance(value, dict):
            return {k: self._value(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self._value(v) for v in value]
        return value

    def step(self, n: int, rec: Recorded) -> dict[str, Any]:
        request: dict[str, Any] = {"method": rec.method, "path": self._ids(rec.path)}
        credential = rec.headers.get("authorization" if self.api == "freefin" else "x-api-key")
        if credential is None:
            request["auth"] = "none"
        else:
            role = self.roles.role(self.api, credential)
            if role != "key_a":
                request["auth"] = role
        headers = {}
        if "idempotency-key" in rec.headers:
            key = rec.headers["idempotency-key"]
            self.keys.setdefault(key, f"key{len(self.keys) + 1}")
            headers["Idempotency-Key"] = "{{ " + self.keys[key] + " }}"
        if "last-event-id" in rec.headers:
            headers["Last-Event-ID"] = rec.headers["last-event-id"]
        if headers:
            request["headers"] = headers
        if rec.query:
            request["query"] = {k: self._ids(v) for k, v in rec.query}
        if rec.body:
            try:
                request["json"] = self._value(json.loads(rec.body))
            except ValueError:
                request["raw"] = self._ids(rec.body.decode("utf-8", "replace"))
        if self.api == "freefin":
            request["sign"] = "x-freefin-signature" in rec.headers
        step: dict[str, Any] = {
            "name": f"#{rec.seq} {rec.method} {request['path']}",
            "request": request,
        }
        if rec.by_proxy or rec.stream:
            return step  # not the API's answer, or a stream: sent again, not asserted
        template = provenance.seed_template(self.api, rec.method, rec.path)
        origin = _seed_answer(self.api, rec.method, template, rec.status)
        code = error_code(rec.answer, self.recorded)
        expects: list[dict[str, Any]] = []
        if origin is not None:
            expects.append({"from": origin, "status": rec.status})
        else:
            expects.append(
                {"from": f"http: the status {rec.status} the session got", "status": rec.status}
            )
        if code is not None:
            entry = f"/error_codes/{code}"
            try:
                provenance.parse(f"supplement#{entry}", self.api)
            except ValueError:
                pass
            else:
                where = "error.code" if self.api == "freefin" else "error"
                expects.append(
                    {"from": f"supplement#{entry}", "body": {where: "{{ $code." + code + " }}"}}
                )
        if origin is not None and rec.status < 400:
            body = self._body_expect(origin, rec.answer)
            if body:
                expects.append({"from": origin, "body": body})
            save = self._save(n, origin, rec.answer)
            if save:
                step["save"] = {"from": origin, **save}
        step["expect"] = expects if len(expects) > 1 else expects[0]
        return step

    def _body_expect(self, origin: str, answer: Any) -> dict[str, Any]:
        fields, required = seed_fields(self.api)
        documented = _documented(self.api, origin)
        body = {}
        for path, name, value in _leaves(answer):
            if path.split(".")[0] not in documented:
                continue
            if isinstance(value, str) and value in self.saved:
                body[path] = "{{ " + self.saved[value] + " }}"
            elif name in fields and (name in required or name == "status"):  # the state
                body[path] = value
        return body

    def _save(self, n: int, origin: str, answer: Any) -> dict[str, str]:
        """The ids of this answer that a later request sends: saved, named after their path."""
        documented = _documented(self.api, origin)
        save = {}
        for path, name, value in _leaves(answer):
            if not (name == "id" or name.endswith("_id")) or not isinstance(value, str):
                continue
            if value in self.saved or len(value) < SHORTEST_ID:
                continue
            if path.split(".")[0] not in documented:
                continue
            if any(value in text for text in self.later[n + 1 :]):
                var = re.sub(r"\W", "_", path) + f"_{n + 1}"
                self.saved[value] = var
                save[var] = path
        return save


def from_har(exchanges: list[Recorded], name: str, recorded: ApiProfile | None = None) -> str:
    """The session as one scenario document (YAML), validated by the scenario loader."""
    apis = {e.api for e in exchanges}
    if len(apis) != 1:
        raise ValueError(f"a scenario speaks one API; this session speaks {sorted(apis)}")
    writer = _Writer(exchanges, recorded or ApiProfile())
    steps = [writer.step(n, rec) for n, rec in enumerate(exchanges)]
    doc = {
        "name": name,
        "api": writer.api,
        "description": "a recorded session, sent again as it was",
        "tags": ["recorded"],
        "vars": {var: "{{ $unique }}" for var in writer.keys.values()},
        "steps": steps,
    }
    if not doc["vars"]:
        del doc["vars"]
    text = yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
    load_text(text, Path(f"{name}.yaml"))  # a ScenarioFormatError says what is wrong
    return text
