#!/usr/bin/env python3
"""An outcome hook for a target that has test endpoints of its own.

paysim drives outcomes it cannot reach through the API (a payment that succeeds, an invoice
that gets paid) through a hook. This one translates paysim's request into calls of a target's
own test endpoints; copy it and change ``ROUTES`` for yours.

    paysim conform --target-url http://127.0.0.1:8000 \\
        --outcome-hook "python examples/hooks/test_endpoints.py --base http://127.0.0.1:8000"

The contract (README, "Outcome hooks"): one JSON object on stdin, ``{"api", "object", "id",
"outcome", "delay_ms"}``; ``id`` null means the next object of that kind created. Exit 0 when
done; exit 69 with a reason on the last line when the target cannot reach that outcome (the
scenario is then skipped, not failed); any other exit is a failure.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any

UNREACHABLE = 69  # sysexits EX_UNAVAILABLE: "I cannot reach this outcome"

# (api, object, id given?) -> (path template, body template). Values in {braces} come from the
# request: {id}, {object}, {outcome}, {delay_ms}.
NOW = {"status": "{outcome}"}
PLAN = {"object": "{object}", "status": "{outcome}", "after_ms": "{delay_ms}"}
ROUTES: dict[tuple[str, str, bool], tuple[str, dict[str, Any]]] = {
    ("freefin", "payment", True): ("/testing/v1/payments/{id}/status", NOW),
    ("freefin", "payout", True): ("/testing/v1/payouts/{id}/status", NOW),
    ("freefin", "payment", False): ("/testing/v1/plans", PLAN),
    ("freefin", "payout", False): ("/testing/v1/plans", PLAN),
    ("kaspi", "invoice", True): ("/testing/invoices/{id}/status", NOW),
    ("kaspi", "invoice", False): ("/testing/plans", PLAN),
    ("kaspi", "qr", False): ("/testing/plans", PLAN),
}


def _fill(template: Any, request: dict[str, Any]) -> Any:
    if isinstance(template, dict):
        return {k: _fill(v, request) for k, v in template.items()}
    if isinstance(template, str) and template.startswith("{") and template.endswith("}"):
        value = request.get(template[1:-1])
        return 0 if value is None and template == "{delay_ms}" else value
    return template


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base", required=True, help="the target's root URL")
    args = parser.parse_args(argv)
    request = json.load(sys.stdin)
    key = (request["api"], request["object"], request.get("id") is not None)
    route = ROUTES.get(key)
    if route is None:
        print(f"no test endpoint for {request['api']} {request['object']}", flush=True)
        return UNREACHABLE
    path = route[0].format(id=request.get("id"))
    body = json.dumps(_fill(route[1], request)).encode()
    call = urllib.request.Request(
        args.base.rstrip("/") + path,
        data=body,
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(call, timeout=20) as answer:
            answer.read()
    except urllib.error.HTTPError as exc:
        said = exc.read().decode(errors="replace")[:300]
        if exc.code == 422:  # the target's way of saying "not a status I can reach"
            print(f"the target cannot reach {request['outcome']}: {said}", flush=True)
            return UNREACHABLE
        print(f"POST {path} answered {exc.code}: {said}", file=sys.stderr, flush=True)
        return 1
    except OSError as exc:
        print(f"POST {path}: {exc}", file=sys.stderr, flush=True)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
