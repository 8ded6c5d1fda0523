"""The seed file: merchants, terminals, keys, limits and defaults, validated when loaded."""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from paysim.documents import DEFAULT_SEED

_RATE = {
    "type": "object",
    "required": ["rate", "burst"],
    "properties": {
        "rate": {"type": "number", "exclusiveMinimum": 0},
        "burst": {"type": "number", "minimum": 1},
    },
}
_OUTCOME = {
    "type": "object",
    "required": ["outcome"],
    "properties": {"outcome": {"type": "string"}, "delay_ms": {"type": "integer", "minimum": 0}},
}

_TERMINAL = {
    "type": "object",
    "required": ["id", "name", "key", "signing_secret"],
    "properties": {
        "key": {"type": "string", "pattern": r"^sk_test_[A-Za-z0-9]{6}_\S+$"},
        "signing_secret": {"type": "string", "minLength": 8},
        "require_signature": {"type": "boolean"},
        "webhook_url": {"type": ["string", "null"]},
        "default_outcome": _OUTCOME,
    },
}
_FF_MERCHANT = {
    "type": "object",
    "required": ["id", "name", "terminals"],
    "properties": {
        "id": {"type": "string"},
        "name": {"type": "string"},
        "rate_limit": _RATE,
        "terminals": {"type": "array", "minItems": 1, "items": _TERMINAL},
    },
}
_KASPI_MERCHANT = {
    "type": "object",
    "required": ["id", "name", "api_key"],
    "properties": {
        "api_key": {"type": "string", "minLength": 8},
        "kaspi_connected": {"type": "boolean"},
        "rate_limit": _RATE,
        "default_outcome": _OUTCOME,
    },
}


def _merchants(item: dict[str, Any]) -> dict[str, Any]:
    return {
        "type": "object",
        "required": ["merchants"],
        "properties": {"merchants": {"type": "array", "items": item}},
    }


SEED_SCHEMA: dict[str, Any] = {
    "type": "object",
    "required": ["freefin", "kaspi"],
    "properties": {
        "freefin": _merchants(_FF_MERCHANT),
        "kaspi": _merchants(_KASPI_MERCHANT),
        "defaults": {"type": "object", "properties": {"rate_limit": _RATE}},
        "webhooks": {
            "type": "object",
            "properties": {
                "retry_schedule": {
                    "type": "array",
                    "minItems": 1,
                    "items": {"type": "number", "minimum": 0},
                },
                "timeout_s": {"type": "number", "exclusiveMinimum": 0},
            },
        },
    },
}


def load_seed(path: str | Path | None = None) -> dict[str, Any]:
    """Read and validate a seed file; raise ValueError naming the file and the bad key.

    The numbers in force live in the bundled seed alone: a file of your own takes its
    ``defaults`` and ``webhooks`` (each key it leaves out) from there, and a merchant without a
    ``rate_limit`` takes the default one."""
    data = _read(Path(path or DEFAULT_SEED))
    bundled = data if path is None or Path(path) == DEFAULT_SEED else _read(DEFAULT_SEED)
    for section in ("defaults", "webhooks"):
        data[section] = {**bundled[section], **(data.get(section) or {})}
    for api in ("freefin", "kaspi"):
        for merchant in data[api]["merchants"]:
            merchant.setdefault("rate_limit", dict(data["defaults"]["rate_limit"]))
    return data


@cache
def bundled_webhooks() -> dict[str, Any]:
    """The bundled seed's webhook settings (read once): the retry schedule and timeout in force
    where nothing else says."""
    return dict(_read(DEFAULT_SEED)["webhooks"])


def _read(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        jsonschema.validate(data, SEED_SCHEMA)
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"{path}: {exc}") from exc
    except jsonschema.ValidationError as exc:
        where = "/".join(str(p) for p in exc.absolute_path) or "(top)"
        raise ValueError(f"{path}: at {where}: {exc.message}") from exc
    return dict(data)
