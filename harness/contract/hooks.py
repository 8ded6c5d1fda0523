"""The Schemathesis hooks that record a contract run into its report: every request
(``after_call``) and every check's outcome (``after_validate``), tied to their run by the case's
schema."""

from __future__ import annotations

import schemathesis

from harness.contract.context import documents_status, run_of


@schemathesis.hook
def after_call(
    context: schemathesis.HookContext, case: schemathesis.Case, response: schemathesis.Response
) -> None:
    """Count the suite's requests and the server errors among them (a 5xx the operation
    documents, such as Kaspi's 502 for a refused invoice, is an answer, not an error)."""
    run = run_of(case)
    if run is None:
        return
    run.report.requests[run.api] += 1
    run.report.statuses[(run.api, case.operation.label)][str(response.status_code)] += 1
    if response.status_code >= 500 and not documents_status(case, response.status_code):
        run.report.server_errors[run.api] += 1


@schemathesis.hook
def after_validate(
    context: schemathesis.HookContext,
    case: schemathesis.Case,
    response: schemathesis.Response,
    results: list[schemathesis.CheckResult],
) -> None:
    """Record each check's outcome against the operation it ran on."""
    run = run_of(case)
    if run is None:
        return
    curl = answer = ""
    for result in results:
        if result.failure is not None and not curl:
            curl = case.as_curl_command(headers=dict(response.request.headers))
            body = (response.content or b"")[:300].decode("utf-8", "replace")
            answer = f"{response.status_code} {body}"
        run.report.add_result(
            run.api, case.operation.label, result.name, result.failure, curl, answer
        )
