"""A Kaspi test client whose every response is checked against the seed spec and the supplement.

The contract: the seed's documented statuses and bodies, the supplement's per-operation
response schemas and error codes, its global responses (the envelope on every 4xx/5xx), and
Retry-After on 429.
"""

from __future__ import annotations

import copy
import json
import re
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml
from flask.testing import FlaskClient

SPECS = Path(__file__).resolve().parent.parent / "specs"
PREFIX = "/api"
KEY_A = "kp_test_almaty_7Hc2Vn9Qx4Lz1Bw8"
KEY_B = "kp_test_astana_3Mf8Rt1Kw6Py0Dq5"
KEY_OFF = "kp_test_shymkent_5Qa1Ze7Xc3Vb9Nm2"  # Kaspi not connected
KEY_SLOW = "kp_test_slowkz_8Yt4Gh2Jk6Lp0Rs3"  # rate limit 1/s, burst 3
MERCHANT_A = "m_almaty_coffee"
PHONE = "77011234567"

_formats = jsonschema.FormatChecker(formats=())


@_formats.checks("date-time", raises=ValueError)
def _date_time(value: object) -> bool:
    if isinstance(value, str):
        if not re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$", value):
            raise ValueError("not RFC 3339")
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    return True


def _openapi_to_jsonschema(node: Any) -> Any:
    """OpenAPI 3.0 ``nullable`` as JSON Schema (draft 4 knows no ``nullable``)."""
    if isinstance(node, list):
        return [_openapi_to_jsonschema(v) for v in node]
    if not isinstance(node, dict):
        return node
    out = {k: _openapi_to_jsonschema(v) for k, v in node.items() if k != "nullable"}
    if node.get("nullable"):
        if "type" in out:
            out["type"] = [out["type"], "null"]
        if "enum" in out:
            out["enum"] = [*out["enum"], None]
    return out


@cache
def documents() -> tuple[dict[str, Any], dict[str, Any]]:
    """(seed, supplement), the supplement's references into the seed made local and both
    sharing one ``components.schemas``."""
    seed = json.loads((SPECS / "kaspi.openapi.json").read_text(encoding="utf-8"))
    text = (SPECS / "kaspi.supplement.yaml").read_text(encoding="utf-8")
    supplement = yaml.safe_load(text.replace("kaspi.openapi.json#/", "#/"))
    clash = set(seed["components"]["schemas"]) & set(supplement["components"]["schemas"])
    assert not clash, f"supplement schemas shadow the seed's: {clash}"
    return seed, supplement


@cache
def _schemas() -> dict[str, Any]:
    seed, supplement = documents()
    return {**seed["components"]["schemas"], **supplement["components"]["schemas"]}


def _inline(node: Any, depth: int = 0) -> Any:
    assert depth < 30, "reference cycle"
    if isinstance(node, dict):
        if "$ref" in node:
            name = node["$ref"].rsplit("/", 1)[-1]
            return _inline(copy.deepcopy(_schemas()[name]), depth + 1)
        return {k: _inline(v, depth) for k, v in node.items()}
    if isinstance(node, list):
        return [_inline(v, depth) for v in node]
    return node


@cache
def validator(ref: str) -> jsonschema.Draft4Validator:
    """A validator of the schema named by ``ref`` (``#/components/schemas/X`` or ``X``)."""
    schema = _openapi_to_jsonschema(_inline({"$ref": ref}))
    return jsonschema.Draft4Validator(schema, format_checker=_formats)


@cache
def _operations() -> list[tuple[re.Pattern[str], str, str]]:
    seed, _ = documents()
    out = []
    for path, item in seed["paths"].items():
        pattern = re.compile("^" + PREFIX + re.sub(r"\{[^/]+\}", "[^/]+", path) + "$")
        for method in item:
            out.append((pattern, method.upper(), path))
    out.sort(key=lambda item: item[0].pattern.count("[^/]+"))  # literal paths first
    return out


def check(method: str, path: str, status: int, body: bytes, headers: Any) -> None:
    """Raise AssertionError when a response breaks the seed or the supplement."""
    seed, supplement = documents()
    for pattern, op_method, found in _operations():
        if op_method == method.upper() and pattern.match(path):
            template = found
            break
    else:
        assert status in (404, 405), f"{method} {path}: no such operation, yet {status}"
        validator("ErrorEnvelope").validate(json.loads(body))
        return
    key = f"{method.upper()} {template}"
    seed_op = seed["paths"][template][method.lower()]
    extra = supplement["operations"].get(key, {})
    documented = (
        set(seed_op["responses"])
        | set(extra.get("responses", {}))
        | set(extra.get("error_codes", {}))
        | set(supplement["global_responses"])
    )
    assert str(status) in documented, f"{key}: undocumented status {status}"
    assert headers.get("Content-Type", "").startswith("application/json"), headers
    data = json.loads(body)
    seed_response = seed_op["responses"].get(str(status), {})
    content = seed_response.get("content", {}).get("application/json")
    if content:
        jsonschema.Draft4Validator(
            _openapi_to_jsonschema(_inline(content["schema"])),
            format_checker=_formats,
        ).validate(data)
    ref = extra.get("responses", {}).get(str(status), {}).get("$ref")
    if ref:
        validator(ref).validate(data)
    if status >= 400:
        validator("ErrorEnvelope").validate(data)
        codes = extra.get("error_codes", {}).get(str(status))
        if codes is not None and status not in (401, 404, 405, 413, 429):
            assert data["error"] in codes, f"{key}: {status} {data['error']} not in {codes}"
    if status == 429:
        assert int(headers.get("Retry-After", "0")) >= 1, "429 without Retry-After"


class KaspiClient:
    """Flask test client for the Kaspi API: X-API-Key of merchant A unless told otherwise."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def request(self, method: str, path: str, key: str | None = KEY_A, **kwargs: Any) -> Any:
        headers = dict(kwargs.pop("headers", {}) or {})
        if key is not None:
            headers.setdefault("X-API-Key", key)
        resp = self.client.open(PREFIX + path, method=method, headers=headers, **kwargs)
        check(method, PREFIX + path.split("?")[0], resp.status_code, resp.get_data(), resp.headers)
        return resp

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def invoice(
        self, key: str = KEY_A, headers: dict[str, str] | None = None, **fields: Any
    ) -> dict[str, Any]:
        """A created invoice (201 expected)."""
        body = {"amount": 10000, "phone_number": PHONE, "is_sandbox": True, **fields}
        resp = self.post("/v1/invoices", key=key, json=body, headers=headers)
        assert resp.status_code == 201, resp.json
        created: dict[str, Any] = resp.json
        return created
