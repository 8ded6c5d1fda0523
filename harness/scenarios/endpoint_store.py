"""Webhook endpoints the harness made on a target, kept between runs.

Kaspi's API caps a merchant's webhook endpoints (20 on the bundled simulator) and has no way to
delete one, so a target that every run gives a new endpoint runs out: its webhook scenarios can
no longer set one up. When the receiver's address is the same from run to run (a fixed
``--webhook-listen`` port, or ``--webhook-public-url``), the endpoint made by an earlier run
still reaches it, and is used again: its id, its path on the receiver and its signing secret are
kept here, in ``$PAYSIM_STATE_DIR`` (default ``~/.cache/paysim``), file mode 0600, keyed by a
digest of the target's URL and key (the key itself is not written). With a receiver on a port
chosen per run nothing is kept: an old endpoint could not reach it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
from pathlib import Path
from typing import Any

FILE = "kaspi-endpoints.json"


def folder() -> Path:
    given = os.environ.get("PAYSIM_STATE_DIR")
    if given:
        return Path(given)
    cache = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(cache) / "paysim"


def key_of(base_url: str, api_key: str) -> str:
    return hashlib.sha256(f"{base_url.rstrip('/')}\n{api_key}".encode()).hexdigest()[:32]


def _read(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def recall(base_url: str, api_key: str) -> dict[str, Any] | None:
    """The endpoint kept for this target and key: ``{"id", "token", "secret", "url"}``."""
    found = _read(folder() / FILE).get(key_of(base_url, api_key))
    return found if isinstance(found, dict) else None


def keep(base_url: str, api_key: str, endpoint: dict[str, Any]) -> None:
    """Keep ``endpoint`` for this target and key (a failure to write is not the run's)."""
    path = folder() / FILE
    with contextlib.suppress(OSError):
        path.parent.mkdir(parents=True, exist_ok=True)
        data = _read(path)
        data[key_of(base_url, api_key)] = {k: endpoint[k] for k in ("id", "token", "secret", "url")}
        tmp = path.with_suffix(".tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(data, fh, indent=1, sort_keys=True)
        os.replace(tmp, path)
