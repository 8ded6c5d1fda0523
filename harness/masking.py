"""Secrets kept out of everything the harness writes: one masker for reports, curl commands and
grades.

A known secret value is replaced by its placeholder: the environment variable that holds it
(``${PAYSIM_FREEFIN_KEY}``, so that a curl command runs again as written) or ``***``. Values
shorter than :data:`SHORTEST` are left alone: replacing every ``s`` of a report hides nothing
and garbles the rest. A JSON member whose name says it holds a secret (``"signing_secret"``,
``"api_key"``) has its value masked whatever it is: a target hands such values out in answers.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

from harness.target import OPTIONS

SHORTEST = 6
HIDDEN = "***"
_ANSWERED_SECRET = re.compile(
    r'("(?:[a-z_]*secret|[a-z_]*api_key|[a-z_]*token|password)"\s*:\s*)"[^"]*"', re.IGNORECASE
)


def placeholders(settings: Mapping[str, Any]) -> dict[str, str]:
    """Each secret setting's value (``OPTIONS`` marked secret) -> ``${PAYSIM_NAME}``."""
    secret = {opt.name: opt.env for opt in OPTIONS if opt.secret}
    return {
        str(value): "${" + secret[name] + "}"
        for name, value in settings.items()
        if name in secret and value
    }


def hidden(secrets: Iterable[str]) -> dict[str, str]:
    """Each of ``secrets`` -> ``***``, where no variable names it."""
    return dict.fromkeys((s for s in secrets if s), HIDDEN)


class Masker:
    """Replaces secret values by their placeholders, longest first, in text or JSON-like data."""

    def __init__(self, secrets: Mapping[str, str], *, answered: bool = False) -> None:
        pairs = sorted(
            ((v, p) for v, p in secrets.items() if v and len(v) >= SHORTEST),
            key=lambda vp: -len(vp[0]),
        )
        self._lookup = dict(pairs)
        self._pattern = re.compile("|".join(re.escape(v) for v, _p in pairs)) if pairs else None
        self._answered = answered

    def text(self, text: str) -> str:
        """``text`` with every secret replaced (and, with ``answered``, secret JSON members)."""
        if self._pattern is not None:
            text = self._pattern.sub(lambda m: self._lookup[m.group(0)], text)
        return _ANSWERED_SECRET.sub(r'\1"[masked]"', text) if self._answered else text

    def __call__(self, value: Any) -> Any:
        """``value`` with every string in it masked (lists and dicts walked)."""
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, list):
            return [self(v) for v in value]
        if isinstance(value, dict):
            return {k: self(v) for k, v in value.items()}
        return value
