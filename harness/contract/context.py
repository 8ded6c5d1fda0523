"""The state of one contract run for one API, found from any Schemathesis case of it.

Checks and hooks are registered with Schemathesis process-wide; they find the run they belong
to through the case's schema, and leave every other schema alone.
"""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from harness.apis import ApiFacts
from harness.leftovers import Allowance
from harness.level import Level

if TYPE_CHECKING:
    from schemathesis import BaseSchema, Case

    from harness.contract.record import Report


@dataclasses.dataclass
class RunContext:
    """One API under test: its profile, level, credentials and what the run has seen."""

    profile: ApiFacts
    level: Level
    base_url: str
    auth_headers: dict[str, str]
    other_merchant_headers: dict[str, str]
    signing_secret: str
    report: Report
    # Builds the Schemathesis schema of the strict contract (for telling spec gaps apart).
    strict_factory: Callable[[], BaseSchema]
    # Builds the schema of the spec level's cases by the supplement's request rules (stateful
    # run, test_operation_positive); None at strict, where the run's own schema has them.
    chaining_factory: Callable[[], BaseSchema] | None = None
    # Statuses observed per (kind, id), in order: the state-machine check compares with them.
    seen_statuses: dict[tuple[str, str], list[str]] = dataclasses.field(default_factory=dict)
    # URLs already read with the other merchant's key (each is probed once).
    probed: set[str] = dataclasses.field(default_factory=set)
    # Per operation: whether the target accepts its minimal example (spec-gap classifier).
    minimal_accepted: dict[str, bool] = dataclasses.field(default_factory=dict)
    # Per operation that makes what the seed cannot delete: how many more it may make.
    allowances: dict[tuple[str, str], Allowance] = dataclasses.field(default_factory=dict)
    lock: threading.Lock = dataclasses.field(default_factory=threading.Lock)

    _strict: BaseSchema | None = None

    @property
    def api(self) -> str:
        return self.profile.name

    def strict_schema(self) -> BaseSchema:
        """The strict contract as a Schemathesis schema, built on first use."""
        if self._strict is None:
            self._strict = self.strict_factory()
        return self._strict


# The document of each run carries this extension with the run's token, so clones of the schema
# (filters, state machines) still lead back to the run.
RUN_MARKER = "x-paysim-contract-run"
_RUNS: dict[str, RunContext] = {}


def register(raw_schema: dict[str, Any], ctx: RunContext) -> None:
    """Mark a document as belonging to a run; build the Schemathesis schema from it after."""
    token = f"{ctx.api}-{len(_RUNS) + 1}"
    raw_schema[RUN_MARKER] = token
    _RUNS[token] = ctx


def token_of(ctx: RunContext) -> str:
    """The marker of a run, for further documents that belong to it."""
    return next(token for token, run in _RUNS.items() if run is ctx)


def run_of(case: Case) -> RunContext | None:
    """The run a case belongs to, or None for schemas that are not the contract suite's."""
    raw = getattr(case.operation.schema, "raw_schema", None)
    token = raw.get(RUN_MARKER) if isinstance(raw, dict) else None
    return _RUNS.get(token) if token else None


def run_of_schema(schema: BaseSchema) -> RunContext:
    """The run a schema of the suite belongs to."""
    return _RUNS[schema.raw_schema[RUN_MARKER]]


def documents_status(case: Case, status: int) -> bool:
    """Whether the case's operation, in the document the run uses, lists ``status``."""
    responses = case.operation.definition.raw.get("responses") or {}
    return str(status) in responses or f"{str(status)[0]}XX" in responses


def operation_key(case: Case) -> tuple[str, str]:
    """(METHOD, path template) of a case's operation."""
    return case.operation.method.upper(), case.operation.path
