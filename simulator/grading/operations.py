"""Each API's operations as its seed document declares them, and what a request breaks of them.

A request is matched to its seed path template by the end of its path (the prefix a server
mounts the API under does not matter), then judged field by field: the body against the
operation's requestBody schema, query, path and header parameters against theirs. Each problem
names its field, so that a rule can take the ones it is about (money: the amount fields).
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from typing import Any

import jsonschema

from simulator.core import spec

DOCUMENTS = {"freefin": "freefin.openapi.yaml", "kaspi": "kaspi.openapi.json"}
METHODS = ("get", "post", "put", "patch", "delete")
MONEY_FIELDS = re.compile(r"(^|_)amount$")  # amount, refund_amount; never amount_refunded
KASPI_MAX_DECIMALS = 2  # supplement: requests take a JSON number with at most two decimals
NEAR_MISS = "is no field of the seed; did you mean"  # an unknown field one typo from a known one
NEAR_CUTOFF = 0.8  # difflib's ratio above which two field names are one typo apart


@dataclass(frozen=True)
class Problem:
    field: str  # "body.amount", "query.page", "header.Idempotency-Key", "body"
    message: str

    @property
    def money(self) -> bool:
        place, _, name = self.field.partition(".")
        return place == "body" and bool(MONEY_FIELDS.search(name.rsplit(".", 1)[-1]))

    @property
    def near_miss(self) -> bool:
        """An unknown field the seed allows, whose name is one typo from a field it declares."""
        return self.message.startswith(NEAR_MISS)

    def to_dict(self) -> dict[str, Any]:
        return {
            "field": self.field,
            "message": self.message,
            "money": self.money,
            "near_miss": self.near_miss,
        }


@dataclass(frozen=True)
class Operation:
    api: str
    method: str
    template: str
    op: dict[str, Any]

    @property
    def name(self) -> str:
        return f"{self.method.upper()} {self.template}"

    @property
    def single_object(self) -> bool:
        """A read of one object by its id: what a status poll is."""
        return self.method == "get" and self.template.endswith("}")

    def problems(
        self, body: bytes, query: Mapping[str, str], headers: Mapping[str, str], path: str
    ) -> list[Problem]:
        found = self._parameters(query, headers, path)
        content = (self.op.get("requestBody") or {}).get("content", {})
        schema = (content.get("application/json") or {}).get("schema")
        if schema is None or (not body.strip() and not self.op["requestBody"].get("required")):
            return found
        try:
            document = json.loads(body)
        except ValueError:
            return [*found, Problem("body", "is not JSON")]
        for error in _validator(self.api, self.method, self.template).iter_errors(document):
            where = ".".join(str(p) for p in error.absolute_path)
            message = error.message
            if error.validator == "required" and "'" in message:
                where = ".".join(filter(None, [where, message.split("'")[1]]))
                message = "is required"
            found.append(Problem("body" + ("." + where if where else ""), message))
        if self.api == "kaspi" and isinstance(document, dict):
            found += _kaspi_decimals(document)
        return found + near_misses(schema, document, "body")

    def response_problems(self, status: int, content_type: str, body: bytes) -> list[Problem]:
        """What an answer breaks of the seed: a status the seed declares, whose JSON body does
        not hold to the schema it gives. An undeclared status is not judged (the seed need not
        list every error)."""
        responses = self.op.get("responses", {})
        declared = responses.get(str(status)) or responses.get(f"{status // 100}XX")
        declared = declared or responses.get("default")
        content = (declared or {}).get("content") or {}
        schema = (content.get("application/json") or {}).get("schema")
        if schema is None:
            return []
        if "json" not in content_type:
            return [Problem("response.body", f"is {content_type or 'untyped'}, not JSON")]
        try:
            document = json.loads(body)
        except ValueError:
            return [Problem("response.body", "is not JSON")]
        found = []
        for error in _response_validator(self.api, self.method, self.template, status).iter_errors(
            document
        ):
            where = ".".join(str(p) for p in error.absolute_path)
            found.append(Problem("response" + ("." + where if where else ""), error.message))
        return found

    def _parameters(
        self, query: Mapping[str, str], headers: Mapping[str, str], path: str
    ) -> list[Problem]:
        found = []
        values = {"query": query, "header": headers, "path": _path_values(self.template, path)}
        for param in self.op.get("parameters", []):
            place, name = param.get("in"), param.get("name")
            given = values.get(place, {})
            value = _lookup(given, name, place == "header")
            if value is None:
                if param.get("required") and place != "path":
                    found.append(Problem(f"{place}.{name}", "is required"))
                continue
            message = _parameter_problem(param.get("schema") or {}, value)
            if message:
                found.append(Problem(f"{place}.{name}", message))
        return found


def _lookup(values: Mapping[str, str], name: str, fold: bool) -> str | None:
    if not fold:
        return values.get(name)
    return next((v for k, v in values.items() if k.lower() == name.lower()), None)


def _path_values(template: str, path: str) -> dict[str, str]:
    match = _template_re(template).search(path)
    return match.groupdict() if match else {}


def _parameter_problem(schema: dict[str, Any], value: str) -> str | None:
    kind = schema.get("type")
    if kind == "integer" and not re.fullmatch(r"-?\d+", value):
        return f"{value!r} is not an integer"
    if kind == "boolean" and value not in ("true", "false"):
        return f"{value!r} is not true or false"
    if "enum" in schema and value not in [str(v) for v in schema["enum"]]:
        return f"{value!r} is not one of {schema['enum']}"
    if "maxLength" in schema and len(value) > schema["maxLength"]:
        return f"is longer than {schema['maxLength']} characters"
    if "pattern" in schema and not re.search(schema["pattern"], value):
        return f"does not match {schema['pattern']}"
    if schema.get("format") == "uuid" and not re.fullmatch(
        r"[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}", value
    ):
        return f"{value!r} is not a UUID"
    return None


def _kaspi_decimals(document: dict[str, Any]) -> list[Problem]:
    found = []
    for name, value in document.items():
        decimal = MONEY_FIELDS.search(name) and isinstance(value, float)
        if decimal and round(value, KASPI_MAX_DECIMALS) != value:
            found.append(Problem(f"body.{name}", f"{value!r} has more than two decimals"))
    return found


def near_misses(schema: Any, document: Any, where: str) -> list[Problem]:
    """Fields of ``document`` its schema does not declare (and allows) whose names are one typo
    from one it does (``order_Id`` for ``order_id``): the value is silently lost."""
    if not isinstance(schema, dict) or not isinstance(document, dict):
        return []
    declared = schema.get("properties") or {}
    found = []
    for name, value in document.items():
        if name in declared:
            found += near_misses(declared[name], value, f"{where}.{name}")
            continue
        folded = {known.lower().replace("-", "_"): known for known in declared}
        close = folded.get(name.lower().replace("-", "_")) or next(
            iter(difflib.get_close_matches(name, list(declared), n=1, cutoff=NEAR_CUTOFF)), None
        )
        if close:
            found.append(Problem(f"{where}.{name}", f"{NEAR_MISS} {close}?"))
    return found


@cache
def _template_re(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    pattern = "".join(f"(?P<{p[1:-1]}>[^/]+)" if p.startswith("{") else re.escape(p) for p in parts)
    return re.compile(f"{pattern}/?$")


@cache
def _validator(api: str, method: str, template: str) -> jsonschema.Draft4Validator:
    op = spec.load(DOCUMENTS[api])["paths"][template][method]
    schema = op["requestBody"]["content"]["application/json"]["schema"]
    return jsonschema.Draft4Validator(schema)


@cache
def _response_validator(
    api: str, method: str, template: str, status: int
) -> jsonschema.Draft4Validator:
    responses = spec.load(DOCUMENTS[api])["paths"][template][method]["responses"]
    declared = responses.get(str(status)) or responses.get(f"{status // 100}XX")
    declared = declared or responses.get("default")
    return jsonschema.Draft4Validator(declared["content"]["application/json"]["schema"])


@cache
def _operations(api: str) -> tuple[Operation, ...]:
    paths = spec.load(DOCUMENTS[api])["paths"]
    found = [
        Operation(api, method, template, op)
        for template, ops in paths.items()
        for method, op in ops.items()
        if method in METHODS and isinstance(op, dict)
    ]
    # a literal segment wins over a parameter: /v1/invoices/status/check before /{id}
    return tuple(sorted(found, key=lambda o: (o.template.count("{"), -len(o.template))))


def match(api: str, method: str, path: str) -> Operation | None:
    """The seed operation a request is for (by the end of its path), or None."""
    method = method.lower()
    for operation in _operations(api):
        if operation.method == method and _template_re(operation.template).search(path):
            return operation
    return None


# The operations that create an object: each must carry an Idempotency-Key.
CREATES = {
    "freefin": frozenset(
        {
            "POST /api/v1/public/payments",
            "POST /api/v1/public/payouts",
            "POST /api/v1/public/payments/{id}/refund",
        }
    ),
    "kaspi": frozenset(
        {"POST /v1/invoices", "POST /v1/qr", "POST /v1/invoices/{id}/refund", "POST /v1/refunds"}
    ),
}
STREAMS = {"freefin": "GET /api/v1/public/events"}


def single_reads(api: str) -> frozenset[str]:
    """The reads of one object by its id (what a status poll sends)."""
    return frozenset(o.name for o in _operations(api) if o.single_object)


def create_paths() -> list[str]:
    """Path regexes (by the end of the path) of every API's create operations."""
    return sorted(
        _template_re(name.split(" ", 1)[1]).pattern for names in CREATES.values() for name in names
    )
