"""The shape of an API's facts: what the judges (contract, scenarios, grading) know of an API
beyond its OpenAPI document. Each API states its own in ``harness/apis/<api>.py``.

Everything there is taken from the seed or from the API's documented semantics (the seed
documents' prose), never from one implementation.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

from harness import signing
from harness.apis.documents import DocumentFiles


def iso(moment: datetime) -> str:
    """A timestamp as both APIs write one: UTC, milliseconds, ``Z``."""
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


@dataclasses.dataclass(frozen=True)
class ObjectRef:
    """Where a response to an operation carries an object that has a status.

    ``pointer`` is a JSON pointer into the body ("" for the body itself); the object's id is at
    ``id_field`` inside it, or, when ``id_from_path`` is set, the operation's ``{id}`` parameter.
    """

    kind: str
    pointer: str = ""
    id_field: str = "id"
    id_from_path: bool = False


@dataclasses.dataclass(frozen=True)
class WebhookFormat:
    """How one API's webhooks look on the wire (its supplement's ``events.webhooks``)."""

    api: str
    signature_header: str
    event_id_header: str
    event_header: str
    kind_field: str
    object_field: str
    kinds: tuple[str, ...]
    # The first event of an object and a later one that ends it (kinds).
    first_and_final: tuple[str, str]
    # The refund event (whose double application doubles a total) and its amount field.
    refund: tuple[str, str]
    # Where the supplement says in what order events come (its pointer).
    ordering_source: str
    extra_headers: dict[str, str] = dataclasses.field(default_factory=dict)
    prefix: str = signing.PREFIX
    timeout_s: float = 5.0

    def source(self, what: str) -> str:
        return f"supplement#/events/webhooks/{what}"


@dataclasses.dataclass(frozen=True)
class ApiFacts:
    """One API's facts beyond its OpenAPI document, as every judge asks them."""

    name: str
    # The Target setting whose URL the API's paths are under.
    url_setting: str
    # The header that carries a key, and what comes before the key in it.
    key_header: tuple[str, str]
    # The credentials a scenario names (``key_a``, ``signed``, ...): the Target field of the
    # key, and of its signing secret when requests with it are signed.
    credentials: Mapping[str, tuple[str, str | None]]
    # A cheap read every credential may make: the preflight's probe of each key.
    probe: str
    # The path of its server-sent event stream (None: it has none).
    event_stream: str | None
    # The header of a signed request (None: the API signs no request).
    signature_header: str | None
    webhook_signature_header: str
    webhook_event_id_header: str
    # Reads the supplement: the webhooks' format, with the event kinds it names.
    webhooks: Callable[[], WebhookFormat]
    # An object as an event of ``kind`` carries it (kind, id, when), and a new id of one.
    event_object: Callable[[str, str, datetime], dict[str, Any]]
    new_id: Callable[[str], str]
    # Its seed, supplement and links (harness/apis/documents.py).
    documents: DocumentFiles
    security_scheme: str
    # Statuses that the spec's global statements allow on every operation (security scheme,
    # rate limits), with the component that describes them.
    global_statuses: Mapping[str, dict[str, Any]]
    error_schema_ref: str
    # Statuses a shared parameter's description promises wherever it is used:
    # {parameter $ref: {status: response}}.
    parameter_statuses: Mapping[str, Mapping[str, dict[str, Any]]]
    # Statuses that each kind of object may move through: {kind: {from: {to, ...}}}.
    transitions: Mapping[str, Mapping[str, frozenset[str]]]
    # (METHOD, path) -> objects with a status in its successful responses.
    objects: Mapping[tuple[str, str], tuple[ObjectRef, ...]]
    # Operations that create an object and honour Idempotency-Key: (METHOD, path) -> pointer
    # of the created object's id in the body.
    idempotent_creates: Mapping[tuple[str, str], str]
    # Reads of one object by id, probed with another merchant's key.
    object_reads: frozenset[tuple[str, str]]
    # (METHOD, path) of a cancel or a refund -> (kind, statuses the object may be in for it).
    preconditions: Mapping[tuple[str, str], tuple[str, frozenset[str]]]
    # Fields that hold money, and the format they must have.
    money_fields: frozenset[str]
    amount_check: Callable[[Any], bool]
    amount_format: str
    # The error envelope: a function that returns a problem description or None.
    envelope_problem: Callable[[Any], str | None]
    # Read of the parent object by id, used after refunds: path template with {id}.
    parent_read: str
    # Where stateful chains start: the operations that create an object from nothing.
    roots: frozenset[tuple[str, str]] = frozenset()
    # Constraints on shared parameters that the supplement states in prose only, applied at
    # the strict level as `components.parameters` (the supplement's own structured entries of
    # the same name win): {parameter name: schema changes}.
    strict_parameters: Mapping[str, dict[str, Any]] = dataclasses.field(default_factory=dict)

    def key_fields(self) -> tuple[str, ...]:
        """The Target fields of this API's keys, merchant A's first."""
        return tuple(key for key, _secret in self.credentials.values())

    def key_headers(self, key: str) -> dict[str, str]:
        """The header that carries ``key``."""
        name, prefix = self.key_header
        return {name: prefix + key}


def graph(edges: Mapping[str, set[str]]) -> dict[str, frozenset[str]]:
    return {state: frozenset(targets) for state, targets in edges.items()}


def reachable(graph: Mapping[str, frozenset[str]], start: str, end: str) -> bool:
    """Whether ``end`` can follow ``start`` along the graph (unobserved steps allowed)."""
    seen, todo = {start}, [start]
    while todo:
        for nxt in graph.get(todo.pop(), frozenset()):
            if nxt == end:
                return True
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return start == end
