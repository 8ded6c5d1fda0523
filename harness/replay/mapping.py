"""What a replay re-makes: the ids earlier answers created, the Idempotency-Keys, the
credentials (and so the signatures) of the new target."""

from __future__ import annotations

import re
import uuid
from typing import Any

from harness.target import Target, bundled_credentials

# The target's credentials a recorded one may stand for, per API, in the order they are handed
# to credentials the recording does not name; each with the setting holding its signing secret.
ROLES = {
    "freefin": (
        ("freefin_key", "freefin_signing_secret"),
        ("freefin_key_2", ""),
        ("freefin_signed_key", "freefin_signed_secret"),
        ("freefin_key_b", ""),
        ("freefin_limited_key", ""),
    ),
    "kaspi": (
        ("kaspi_key", ""),
        ("kaspi_key_b", ""),
        ("kaspi_key_unconnected", ""),
        ("kaspi_limited_key", ""),
    ),
}
SHORTEST_ID = 6  # a shorter value is not taken for an id (it would be found everywhere)


class Ids:
    """Recorded id -> the id the new target made in its place, learnt from parallel answers."""

    def __init__(self) -> None:
        self.known: dict[str, str] = {}
        self._pattern: re.Pattern[str] | None = None

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
        self._pattern = None

    def apply(self, text: str) -> str:
        """``text`` with every recorded id replaced by its new one."""
        if not self.known:
            return text
        if self._pattern is None:
            names = sorted(self.known, key=len, reverse=True)
            self._pattern = re.compile("|".join(re.escape(n) for n in names))
        return self._pattern.sub(lambda m: self.known[m.group(0)], text)

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
    """Whether a credential masked as the reports mask it (head…tail) may be ``key``."""
    head, sep, tail = masked.removeprefix("Bearer ").partition("…")
    return bool(sep and head and tail and key.startswith(head) and key.endswith(tail))


class Credentials:
    """Recorded (masked) credential -> the target's (key, signing secret). A recorded credential
    of the bundled simulator's stands for the target's credential of the same role; any other
    takes the next role not taken."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self.bundled = bundled_credentials()
        self.chosen: dict[str, tuple[str, str]] = {}

    def __call__(self, api: str, recorded: str) -> tuple[str, str] | None:
        if recorded in self.chosen:
            return self.chosen[recorded]
        roles = ROLES[api]
        taken = set(self.chosen.values())
        role = next(
            (r for r in roles if _masked_matches(recorded, self.bundled.get(r[0], ""))), None
        )
        if role is None:
            role = next(
                (r for r in roles if getattr(self.target, r[0]) and self._pair(r) not in taken),
                None,
            )
        if role is None or not getattr(self.target, role[0]):
            return None
        self.chosen[recorded] = self._pair(role)
        return self.chosen[recorded]

    def _pair(self, role: tuple[str, str]) -> tuple[str, str]:
        key, secret = role
        return getattr(self.target, key), getattr(self.target, secret) if secret else ""
