"""The coverage map of a finished run: each promise of each tested seed proved, failed, or not
exercised with the reason, from the run's tests (their ``proves`` and ``not_exercised``
properties), the contract suite's answers per operation and status, and the claims of every
collected test (``claims.json``).

A promise is *proved* when a test that claims it passed having run all of itself, or when the
contract suite saw its operation answer its status with no check failing there; *failed* when
one of those failed; else *not exercised*, with the first reason among its tests' (a category
of :class:`harness.promises.Why`), *not selected in this run* when tests claim it but none ran,
or *covered by no check*.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.promises import Why, catalogue

PROVED, FAILED, NOT_EXERCISED = "proved", "failed", "not exercised"


def _contract_evidence(data: dict[str, Any], method: str, path: str, status: str) -> str | None:
    """``failed`` / ``proved`` by the contract suite for one operation's status, or None."""
    label = f"{method} {path}"
    seen = (data.get("statuses") or {}).get(label, {}).get(status, 0)
    if not seen:
        return None
    failing = [r for r in data.get("results", []) if r["operation"] == label and r["failed"]]
    return FAILED if failing else PROVED


def _entry(
    promise: Any, cases: list[Any], contract: dict[str, Any] | None, claimed: list[str]
) -> dict[str, Any]:
    outcomes: list[tuple[str, str, str]] = []  # (outcome, by, why)
    if promise.kind == "operation" and contract is not None:
        method, path, status = promise.id.split(" ")
        found = _contract_evidence(contract, method, path, status)
        if found:
            outcomes.append((found, "contract suite", ""))
    for case in cases:
        why = case.properties.get("not_exercised", "")
        if case.failed:
            outcomes.append((FAILED, case.name, ""))
        elif case.outcome == "skipped" or why:
            outcomes.append((NOT_EXERCISED, case.name, why or Why.TARGET.name))
        else:
            outcomes.append((PROVED, case.name, ""))
    status = next((o for o in (FAILED, PROVED) if any(x[0] == o for x in outcomes)), None)
    why = ""
    if status is None:
        status = NOT_EXERCISED
        reasons = [x[2] for x in outcomes if x[2]]
        if reasons:
            why = reasons[0]
        elif claimed or (promise.kind == "operation" and contract is None):
            why = Why.NOT_SELECTED.name
        else:
            why = Why.NO_CHECK.name
    return {
        "id": promise.id,
        "kind": promise.kind,
        "pointer": promise.pointer,
        "says": promise.says,
        "status": status,
        "why": why,
        "by": sorted({x[1] for x in outcomes if x[0] == status}),
    }


def build(
    apis: list[str],
    cases: list[Any],
    contract: dict[str, Any],
    claims: dict[str, dict[str, list[str]]],
) -> dict[str, Any]:
    """The coverage map per API: totals, counts of the reasons, and one entry per promise."""
    out: dict[str, Any] = {}
    for api in apis:
        mine = [c for c in cases if c.api == api and c.properties.get("proves")]
        entries = []
        for promise in catalogue(api).values():
            provers = [c for c in mine if promise.id in c.properties["proves"].split(";")]
            claimed = claims.get(api, {}).get(promise.id, [])
            entries.append(_entry(promise, provers, contract.get(api), claimed))
        counts = Counter(e["status"] for e in entries)
        reasons = Counter(e["why"] for e in entries if e["status"] == NOT_EXERCISED)
        total = len(entries)
        out[api] = {
            "total": total,
            "proved": counts[PROVED],
            "failed": counts[FAILED],
            "not_exercised": counts[NOT_EXERCISED],
            "percent": round(100 * counts[PROVED] / total, 1) if total else 0.0,
            "reasons": {Why[name].value: n for name, n in reasons.most_common()},
            "entries": entries,
        }
    return out


def line(coverage: dict[str, Any]) -> str:
    """One console line: ``seed promises proved: freefin 48 of 52 (92.3%), ...; 3 need ...``."""
    if not coverage:
        return ""
    parts = [
        f"{api} {c['proved']} of {c['total']} ({c['percent']}%)" for api, c in coverage.items()
    ]
    failed = sum(c["failed"] for c in coverage.values())
    reasons: Counter[str] = Counter()
    for c in coverage.values():
        reasons.update(c["reasons"])
    tail = [f"{failed} failed"] if failed else []
    tail += [f"{n} {why}" for why, n in reasons.most_common()]
    return "seed promises proved: " + ", ".join(parts) + ("; " + "; ".join(tail) if tail else "")


def shortfall(coverage: dict[str, Any], required: dict[str, float]) -> list[str]:
    """What falls short of ``--require-coverage`` (api or ``*`` -> percent), one line each."""
    short = []
    for api, data in coverage.items():
        want = required.get(api, required.get("*"))
        if want is not None and data["percent"] < want:
            short.append(
                f"{api}: proved {data['percent']}% of the seed's promises, "
                f"--require-coverage asks {want:g}%"
            )
    return short
