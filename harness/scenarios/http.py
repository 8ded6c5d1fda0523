"""Send one scenario request: credentials and freefin signing from the target, curl for reports.

Credentials are named the same way in every scenario (``key_a``, ``key_2``, ``key_b``,
``signed``, ``limited``, ``unconnected``, ``none`` or ``{literal: ...}``) and resolved against
the target's settings, so a suite runs unchanged on the simulator and on a partner's server.
"""

from __future__ import annotations

import dataclasses
import json
import shlex
import urllib.parse
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from harness import patience
from harness.apis import FACTS
from harness.signing import PREFIX, sign
from harness.target import Target

# credential name -> (Target field of the key, Target field of its signing secret), per API
CREDENTIALS: dict[str, dict[str, tuple[str, str | None]]] = {
    api: dict(facts.credentials) for api, facts in FACTS.items()
}
_SECRET_HEADERS = {"authorization", "x-api-key"}


class CredentialMissing(Exception):
    """The target has no value for a credential the scenario needs (the scenario is skipped)."""


def credential(target: Target, api: str, name: str) -> tuple[str, str | None]:
    """The key and (when known) signing secret of a named credential."""
    fields = CREDENTIALS[api].get(name)
    if fields is None:
        raise ValueError(f"{api} has no credential {name!r} (known: {sorted(CREDENTIALS[api])})")
    key = getattr(target, fields[0])
    if not key:
        raise CredentialMissing(f"the target has no {fields[0]} (--{fields[0].replace('_', '-')})")
    return key, (getattr(target, fields[1]) or None) if fields[1] else None


def auth_headers(api: str, key: str) -> dict[str, str]:
    """The header that carries a key in each API."""
    return FACTS[api].key_headers(key)


@dataclasses.dataclass
class Exchange:
    """One request sent and what came back (status 0 when no response)."""

    method: str
    url: str
    headers: dict[str, str]
    body: bytes
    status: int = 0
    response_headers: dict[str, str] = dataclasses.field(default_factory=dict)
    text: str = ""
    error: str = ""

    @property
    def json(self) -> Any:
        """The parsed response body (None when not JSON)."""
        try:
            return json.loads(self.text) if self.text else None
        except ValueError:
            return None

    def curl(self) -> str:
        """The request as a curl command line (keys shortened)."""
        parts = ["curl", "-sS", "-X", self.method, shlex.quote(self.url)]
        for name, value in self.headers.items():
            if name.lower() in _SECRET_HEADERS and len(value) > 16:
                value = value[:16] + "…"
            parts += ["-H", shlex.quote(f"{name}: {value}")]
        if self.body:
            parts += ["--data-binary", shlex.quote(self.body.decode("utf-8", "replace"))]
        return " ".join(parts)

    def received(self) -> str:
        """What came back, for failure reports."""
        if self.error:
            return f"no response: {self.error}"
        shown = {
            k: v
            for k, v in self.response_headers.items()
            if k.lower() in ("content-type", "retry-after", "location")
            or k.lower().startswith("x-")
        }
        text = self.text if len(self.text) <= 1500 else self.text[:1500] + "…"
        return f"HTTP {self.status} {json.dumps(shown)}\n{text}"


def json_bytes(value: Any) -> bytes:
    """Compact UTF-8 JSON, the bytes that are sent and signed."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def new_session() -> requests.Session:
    """A session whose pool fits the largest concurrent repeat."""
    session = requests.Session()
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=200)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return session


def build(target: Target, api: str, spec: dict[str, Any]) -> Exchange:
    """Turn a rendered ``request:`` block into an unsent Exchange."""
    base = getattr(target, FACTS[api].url_setting)
    url = base + spec["path"]
    if spec.get("query"):
        url += "?" + urllib.parse.urlencode(spec["query"], doseq=True)
    if "raw" in spec:
        body = str(spec["raw"]).encode()
    elif "json" in spec:
        body = json_bytes(spec["json"])
    else:
        body = b""
    headers: dict[str, str] = {}
    if body:
        headers["Content-Type"] = "application/json"
    auth = spec.get("auth", "key_a")
    secret: str | None = None
    if isinstance(auth, dict):
        headers.update(auth_headers(api, auth["literal"]))
    elif auth != "none":
        key, secret = credential(target, api, auth)
        headers.update(auth_headers(api, key))
    sign_spec = spec.get("sign", auth == "signed")
    signature_header = FACTS[api].signature_header
    if signature_header and sign_spec is not False:
        opts = sign_spec if isinstance(sign_spec, dict) else {}
        use = opts.get("secret", secret)
        if not use:
            raise CredentialMissing(f"no signing secret known for credential {auth!r}")
        over = opts["over"].encode() if "over" in opts else body
        headers[signature_header] = sign(
            over, use, prefix=opts.get("prefix", PREFIX), upper=opts.get("upper", False)
        )
    headers.update({k: str(v) for k, v in (spec.get("headers") or {}).items()})
    return Exchange(method=spec["method"], url=url, headers=headers, body=body)


def unsent(exchange: Exchange) -> Exchange:
    """The same request, not yet sent."""
    return Exchange(exchange.method, exchange.url, dict(exchange.headers), exchange.body)


def send(
    session: requests.Session, exchange: Exchange, timeout: float = 10.0, patient: bool = True
) -> Exchange:
    """Send it and fill in the response; ``patient``: a 429 with Retry-After is waited out
    and the request sent again (:mod:`harness.patience`)."""
    try:
        resp = patience.patiently(
            lambda: session.request(
                exchange.method,
                exchange.url,
                headers=exchange.headers,
                data=exchange.body or None,
                timeout=timeout,
            ),
            (lambda r: (r.status_code, r.headers)) if patient else (lambda r: (0, {})),
        )
    except requests.RequestException as exc:
        exchange.error = f"{type(exc).__name__}: {exc}"
        return exchange
    exchange.status = resp.status_code
    exchange.response_headers = dict(resp.headers)
    exchange.text = resp.text
    return exchange
