"""Make an object reach a status, for the probes that need one (a paid payment to refund).

The bundled simulator is driven through its control API; other targets through the
``outcome_hook`` the partner supplies (an http(s) URL that gets a JSON POST). Without either,
the probe is skipped with the reason, never passed silently.
"""

from __future__ import annotations

import json
import subprocess

import pytest
import requests

from harness.target import Target


def drive(target: Target, api: str, obj: str, obj_id: str, status: str) -> None:
    """Move ``obj`` ``obj_id`` of ``api`` to ``status`` on the target, or skip the test."""
    payload = {"api": api, "object": obj, "id": obj_id, "outcome": status}
    if target.control_url:
        # The control API's /transition takes {api, object, id, status} and nothing else.
        transition = {"api": api, "object": obj, "id": obj_id, "status": status}
        resp = requests.post(f"{target.control_url}/transition", json=transition, timeout=10)
        assert resp.ok, f"control API refused the transition: {resp.status_code} {resp.text}"
    elif target.outcome_hook and target.outcome_hook.startswith(("http://", "https://")):
        resp = requests.post(target.outcome_hook, json=payload, timeout=30)
        assert resp.ok, f"outcome hook failed: {resp.status_code} {resp.text}"
    elif target.outcome_hook:
        subprocess.run(
            target.outcome_hook,
            shell=True,
            input=json.dumps(payload),
            text=True,
            check=True,
            timeout=60,
        )
    else:
        pytest.skip(f"cannot make a {api} {obj} {status} on this target: set --outcome-hook")
