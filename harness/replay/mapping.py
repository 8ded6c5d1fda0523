"""What a replay re-makes: the ids earlier answers created, the Idempotency-Keys, the
credentials (and so the signatures) of the new target."""

from __future__ import annotations

import re
import uuid
from typing import Any

from harness.scenarios.http import CREDENTIALS
from harness.target import Target, bundled_credentials

SHORTEST_ID = 6  # a shorter value is not taken for an id (it would be found everywhere)
TOKEN = re.compile(rf"[A-Za-z0-9_-]{{{SHORTEST_ID},}}")  # what an id may be: letters, digits, _ -


class Ids:
    """Recorded id -> the id the new target made in its place, learnt from parallel answers."""

    def __init__(self) -> None:
        self.known: dict[str, str] = {}

    def learn(self, recorded: Any, replayed: Any, key: str = "") -> None:
        """Walk both answers side by side; an ``id`` or ``*_id`` string that differs is mapped."""
        if isinstance(recorded, dict) and isinstance(replayed, dict):
            for name, value in recorded.items():
                if name in replayed:
                    self.learn(value, replayed[name], name)
        elif isinstance(recorded, list) and isinstance(replayed, list):
            for a, b in zip(recorded, replayed, strict=False):
                self.learn(a, b, key)
        elif (
            isinstance(recorded, str)
            and isinstance(replayed, str)
            and (key == "id" or key.endswith("_id"))
            and recorded != replayed
            and len(recorded) >= SHORTEST_ID
            and recorded not in self.known
        ):
            self.add(recorded, replayed)

    def add(self, recorded: str, replayed: str) -> None:
        self.known[recorded] = replayed

    def apply(self, text: str) -> str:
        """``text`` with every recorded id (a whole token of it) replaced by its new one."""
        if not self.known:
            return text
        return TOKEN.sub(lambda m: self.known.get(m.group(0), m.group(0)), text)

    def value(self, recorded: Any) -> Any:
        """A recorded value as the new target would say it (an id mapped)."""
        return self.known.get(recorded, recorded) if isinstance(recorded, str) else recorded


class Keys:
    """One new Idempotency-Key per recorded one, so that a recorded retry stays a retry."""

    def __init__(self) -> None:
        self.issued: dict[str, str] = {}

    def __call__(self, recorded: str) -> str:
        return self.issued.setdefault(recorded, str(uuid.uuid4()))


def _masked_matches(masked: str, key: str) -> bool:
    """Whether a credential masked as the reports mask it (``head#digest…tail``) may be
    ``key``."""
    head, sep, tail = masked.removeprefix("Bearer ").partition("…")
    head = head.partition("#")[0]
    return bool(sep and head and tail and key.startswith(head) and key.endswith(tail))


class Credentials:
    """Recorded (masked) credential -> the role it plays (the scenarios' names: ``key_a``,
    ``key_2``, ...) and the target's key and signing secret of that role. A recorded credential
    of the bundled simulator's plays the role it has there; any other the next role not
    taken."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.bundled = bundled_credentials()
        self.chosen: dict[str, str] = {}

    def role(self, api: str, recorded: str) -> str:
        if recorded not in self.chosen:
            roles = CREDENTIALS[api]
            known = (
                r
                for r, (key, _s) in roles.items()
                if _masked_matches(recorded, self.bundled.get(key, ""))
            )
            taken = set(self.chosen.values())
            free = (r for r in roles if r not in taken)
            self.chosen[recorded] = next(known, None) or next(free, "key_a")
        return self.chosen[recorded]

    def __call__(self, api: str, recorded: str) -> tuple[str, str] | None:
        key_field, secret_field = CREDENTIALS[api][self.role(api, recorded)]
        key = getattr(self.target, key_field)
        if not key:
            return None
        return key, (getattr(self.target, secret_field) if secret_field else "") or ""
