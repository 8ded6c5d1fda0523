"""Each API's facts have one home (harness/apis); the contract suite, the scenarios and the
grader ask it, so a fact changed there changes every judge."""

from __future__ import annotations

import dataclasses

import pytest

from harness import preflight, signing
from harness.apis import FACTS, documents
from harness.contract import auth
from harness.grading import events
from harness.scenarios import eventcheck, http, receiver
from harness.target import OPTIONS, make_target
from paysim.documents import APIS

TARGET_FIELDS = {f.name for f in dataclasses.fields(make_target({}, "http://127.0.0.1:1"))}


@pytest.mark.parametrize("api", APIS)
def test_each_api_states_its_documents_and_they_are_there(api: str) -> None:
    facts = FACTS[api]
    found = documents.files(api)
    assert facts.documents == found
    assert all(path.is_file() for path in (found.seed, found.supplement, found.links))
    assert documents.read(found.seed)["openapi"].startswith("3.")


@pytest.mark.parametrize("api", APIS)
def test_each_credential_names_a_secret_setting_of_the_target(api: str) -> None:
    secret = {o.name for o in OPTIONS if o.secret}
    assert FACTS[api].url_setting in TARGET_FIELDS
    for key, signing_secret in FACTS[api].credentials.values():
        assert key in secret and key in TARGET_FIELDS
        assert signing_secret is None or signing_secret in secret


def test_an_unknown_api_has_no_documents() -> None:
    with pytest.raises(ValueError, match="api must be one of"):
        documents.files("paypal")


def test_the_receiver_and_the_grader_know_the_webhooks_the_apis_state() -> None:
    for api, facts in FACTS.items():
        fmt = facts.webhooks()
        assert events.formats()[api] is fmt
        assert (fmt.signature_header, signing.PREFIX) in receiver.SIGNATURES
        assert fmt.event_id_header in receiver.EVENT_ID_HEADERS
        assert fmt.kinds and all("." in kind for kind in fmt.kinds)


def test_a_fact_changed_at_its_home_changes_every_judge(monkeypatch: pytest.MonkeyPatch) -> None:
    target = make_target({"kaspi_key": "k_a_123456", "kaspi_key_b": "k_b_123456"}, "http://x:1")
    before = (http.auth_headers("kaspi", "k"), auth.credentials(target, "kaspi")[1])
    assert before == ({"X-API-Key": "k"}, {"X-API-Key": "k_a_123456"})
    changed = dataclasses.replace(FACTS["kaspi"], key_header=("X-Merchant-Key", "Key "))
    monkeypatch.setitem(FACTS, "kaspi", changed)
    after = (http.auth_headers("kaspi", "k"), auth.credentials(target, "kaspi")[1])
    assert after == ({"X-Merchant-Key": "Key k"}, {"X-Merchant-Key": "Key k_a_123456"})


def test_a_signed_request_uses_the_header_its_api_states(monkeypatch: pytest.MonkeyPatch) -> None:
    target = make_target({}, "http://127.0.0.1:1")
    spec = {"method": "POST", "path": "/v1/invoices", "json": {}, "auth": "key_a", "sign": {}}
    signed = dataclasses.replace(FACTS["kaspi"], signature_header="X-Kaspi-Signature")
    monkeypatch.setitem(FACTS, "kaspi", signed)
    with pytest.raises(http.CredentialMissing, match="no signing secret"):
        http.build(target, "kaspi", spec)  # kaspi keys have no signing secret
    spec["sign"] = {"secret": "s3cret-value"}
    headers = http.build(target, "kaspi", spec).headers
    assert headers["X-Kaspi-Signature"] == signing.sign(b"{}", "s3cret-value")


def test_the_graders_events_are_built_from_the_api_facts(monkeypatch: pytest.MonkeyPatch) -> None:
    fmt = FACTS["kaspi"].webhooks()
    sent = events.event(fmt, "invoice.paid", events.new_object_id(fmt, "invoice.paid"))
    assert sent[fmt.object_field]["status"] == "paid"
    assert sent[fmt.object_field]["id"].startswith("inv_")
    changed = dataclasses.replace(
        FACTS["kaspi"], event_object=lambda kind, i, at: {"id": i}, new_id=lambda kind: "x"
    )
    monkeypatch.setitem(FACTS, "kaspi", changed)
    assert events.event(fmt, "invoice.paid", events.new_object_id(fmt, "k"))[fmt.object_field] == {
        "id": "x"
    }


def test_the_scenarios_find_an_event_kind_where_the_api_keeps_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert eventcheck.kind_of({"event": "invoice.paid"}) == "invoice.paid"
    assert eventcheck.kind_of({}, {"X-Arzan-Event": "invoice.paid"}) == "invoice.paid"
    fmt = dataclasses.replace(FACTS["kaspi"].webhooks(), kind_field="what", event_header="X-What")
    monkeypatch.setitem(FACTS, "kaspi", dataclasses.replace(FACTS["kaspi"], webhooks=lambda: fmt))
    assert eventcheck.kind_of({"event": "invoice.paid"}) is None
    assert eventcheck.kind_of({"what": "invoice.paid"}) == "invoice.paid"
    assert eventcheck.kind_of({}, {"x-what": "invoice.paid"}) == "invoice.paid"


def test_the_preflight_probes_each_key_where_its_api_says(monkeypatch: pytest.MonkeyPatch) -> None:
    target = make_target({"api": "kaspi"}, "http://127.0.0.1:1")
    assert {p[1] for p in preflight.probes(target)} == {"http://127.0.0.1:1/api/v1/me"}
    assert [p[3] for p in preflight.probes(target)] == [
        "--kaspi-key",
        "--kaspi-key-b",
        "--kaspi-key-unconnected",
        "--kaspi-limited-key",
    ]
    monkeypatch.setitem(FACTS, "kaspi", dataclasses.replace(FACTS["kaspi"], probe="/v2/ping"))
    assert {p[1] for p in preflight.probes(target)} == {"http://127.0.0.1:1/api/v2/ping"}
