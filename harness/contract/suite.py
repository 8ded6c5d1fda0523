"""Open a contract run for one API of a target: its contract, schema, credentials and record."""

from __future__ import annotations

import copy

import schemathesis

from harness.apis import FACTS
from harness.contract import auth, checks, hooks, triage  # noqa: F401 - registers checks, hooks
from harness.contract.context import RUN_MARKER, RunContext, register, token_of
from harness.contract.loader import (
    chaining_contract,
    contract_copy,
    never_applicable,
    schemathesis_config,
)
from harness.contract.record import Report
from harness.level import SUPPLEMENT, Level
from harness.target import Target


def base_url(target: Target, api: str) -> str:
    """Where the API's paths live on the target."""
    url: str = getattr(target, FACTS[api].url_setting)
    return url


def open_run(
    target: Target, api: str, record: Report, profile: str = "default"
) -> tuple[schemathesis.BaseSchema, RunContext]:
    """The Schemathesis schema of ``api`` at the target's contract level, tied to its run."""
    api_profile = FACTS[api]
    entry, headers_a, headers_b = auth.credentials(target, api)
    url = base_url(target, api)

    def config(positive_only: bool = False) -> schemathesis.Config:
        return schemathesis_config(
            base_url=url,
            scheme=api_profile.security_scheme,
            credentials=entry,
            profile=profile,
            positive_only=positive_only,
        )

    def strict_factory() -> schemathesis.BaseSchema:
        return schemathesis.openapi.from_dict(contract_copy(api, Level.STRICT), config=config())

    def chaining_factory() -> schemathesis.BaseSchema:
        raw = copy.deepcopy(chaining_contract(api))
        raw[RUN_MARKER] = token_of(run)
        return schemathesis.openapi.from_dict(raw, config=config(positive_only=True))

    record.secrets.update(auth.secret_placeholders(target))
    level = target.level
    record.levels[api] = level
    run = RunContext(
        profile=api_profile,
        level=level,
        base_url=url,
        auth_headers=headers_a,
        other_merchant_headers=headers_b,
        signing_secret=auth.signing_secret(target, api),
        report=record,
        strict_factory=strict_factory,
        chaining_factory=None if level.binds(SUPPLEMENT) else chaining_factory,
    )
    raw = contract_copy(api, level)
    record.not_applicable[api] = never_applicable(raw)
    register(raw, run)
    return schemathesis.openapi.from_dict(raw, config=config()), run
