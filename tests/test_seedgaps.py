"""The spec-gap report on the real seed documents, and on copies broken one way each."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import yaml

from harness import seedgaps
from paysim.cli import main


def by_kind(findings: list[seedgaps.SeedGap], kind: str) -> list[seedgaps.SeedGap]:
    return [f for f in findings if f.kind == kind]


@pytest.fixture(scope="module")
def kaspi() -> list[seedgaps.SeedGap]:
    return seedgaps.analyse("kaspi")


@pytest.fixture(scope="module")
def freefin() -> list[seedgaps.SeedGap]:
    return seedgaps.analyse("freefin")


@pytest.fixture()
def specs(tmp_path: Path) -> Path:
    """A copy of specs/ to break."""
    shutil.copytree(seedgaps.SPECS, tmp_path / "specs")
    return tmp_path / "specs"


def test_simulate_failed_contradicts_invoice_status(kaspi: list[seedgaps.SeedGap]) -> None:
    (finding,) = by_kind(kaspi, "enum_mismatch")
    assert finding.where == "POST /v1/sandbox/invoices/{id}/simulate"
    assert "['failed']" in finding.detail and "Invoice.status" in finding.detail
    assert [r.entry for r in finding.resolutions] == ["failed_invoices"]
    assert "canceled" in finding.resolutions[0].excerpt


def test_kaspi_responses_without_schema_are_settled_per_operation(
    kaspi: list[seedgaps.SeedGap],
) -> None:
    found = {(f.where, f.detail.split(" ")[0]): f for f in by_kind(kaspi, "no_response_schema")}
    me = found[("GET /v1/me", "200")]
    assert me.resolutions[0].file == "kaspi.supplement.yaml"
    assert me.resolutions[0].entry == "operations.[GET /v1/me].responses.200"
    not_found = found[("GET /v1/invoices/{id}", "404")]
    assert not_found.resolutions[0].entry == "global_responses.404"
    conflict = found[("POST /v1/invoices", "409")]
    assert {r.entry for r in conflict.resolutions} == {
        "components.schemas.ErrorEnvelope",
        "operations.[POST /v1/invoices].error_codes.409",
    }
    assert len(found) > 25  # most Kaspi operations have no response schema


def test_kaspi_other_kinds(kaspi: list[seedgaps.SeedGap]) -> None:
    kinds = {f.kind for f in kaspi}
    assert {
        "no_operation_id",
        "no_request_schema",
        "loose_request_schema",
        "type_mismatch",
        "undescribed_events",
        "missing_links",
        "security_errors",
        "partial_errors",
    } <= kinds
    loose = {f.where: f for f in by_kind(kaspi, "loose_request_schema")}
    assert "phone_number: pattern" in loose["POST /v1/invoices"].detail
    events = by_kind(kaspi, "undescribed_events")[0]
    assert "invoice.status_changed" in events.detail
    assert "events.kinds" in [r.entry for r in events.resolutions]
    links = {f.where: f for f in by_kind(kaspi, "missing_links")}
    assert links["GET /v1/invoices/{id}"].resolutions[0].file == "kaspi.links.yaml"
    test = links["POST /v1/webhooks/{id}/test"].resolutions[0]
    assert test.entry.endswith("links.TestCreatedWebhook")
    bodies = {f.where: f for f in by_kind(kaspi, "no_request_schema")}
    refunds = bodies["POST /v1/refunds"]
    assert refunds.resolutions[0].entry == "operations.[POST /v1/refunds].requestBody"
    cancel = bodies["POST /v1/invoices/{id}/cancel"]
    assert cancel.resolutions[0].entry == "operations.[POST /v1/invoices/{id}/cancel].no_body"
    security = by_kind(kaspi, "security_errors")
    assert [f.detail.split(" ")[0] for f in security] == ["401"]  # Kaspi never answers 403


def test_freefin_findings(freefin: list[seedgaps.SeedGap]) -> None:
    assert not by_kind(freefin, "no_operation_id") and not by_kind(freefin, "enum_mismatch")
    stream = by_kind(freefin, "undescribed_stream")[0]
    assert stream.where.startswith("GET /api/v1/public/events")
    assert [r.entry for r in stream.resolutions] == ["sse", "events.body"]
    partial = {f.where: f for f in by_kind(freefin, "partial_errors")}
    assert "documented on 1 of 8" in partial["429 responses"].detail
    assert partial["429 responses"].resolutions[0].entry == "global_responses.429"
    events = by_kind(freefin, "undescribed_events")[0]
    assert "payment.refunded" in events.detail and events.resolved


def test_removing_the_supplement_entry_leaves_the_finding_open(specs: Path) -> None:
    path = specs / "kaspi.supplement.yaml"
    data = yaml.safe_load(path.read_text())
    del data["failed_invoices"]
    path.write_text(yaml.safe_dump(data, allow_unicode=True))
    (finding,) = by_kind(seedgaps.analyse("kaspi", specs), "enum_mismatch")
    assert not finding.resolved


def test_agreeing_enums_are_no_finding(specs: Path) -> None:
    path = specs / "kaspi.openapi.json"
    doc = json.loads(path.read_text())
    doc["components"]["schemas"]["Invoice"]["properties"]["status"]["enum"].append("failed")
    path.write_text(json.dumps(doc))
    assert by_kind(seedgaps.analyse("kaspi", specs), "enum_mismatch") == []


def test_a_link_missing_from_the_overlay_is_open(specs: Path) -> None:
    path = specs / "freefin.links.yaml"
    data = yaml.safe_load(path.read_text())
    del data["paths"]["/api/v1/public/payouts"]
    path.write_text(yaml.safe_dump(data))
    links = {f.where: f for f in by_kind(seedgaps.analyse("freefin", specs), "missing_links")}
    assert not links["GET /api/v1/public/payouts/{id} (getPayout)"].resolved
    assert links["GET /api/v1/public/payments/{id} (getPayment)"].resolved


def test_documented_errors_everywhere_are_no_finding(specs: Path) -> None:
    path = specs / "freefin.openapi.yaml"
    doc = yaml.safe_load(path.read_text())
    for item in doc["paths"].values():
        for op in item.values():
            op["responses"]["429"] = {"$ref": "#/components/responses/RateLimited"}
    path.write_text(yaml.safe_dump(doc, allow_unicode=True))
    partial = {f.where for f in by_kind(seedgaps.analyse("freefin", specs), "partial_errors")}
    assert "429 responses" not in partial


def test_gaps_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["gaps", "--json", "--api", "kaspi"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["counts"]["kaspi"]["enum_mismatch"] == 1
    assert {f["api"] for f in data["findings"]} == {"kaspi"}
    assert main(["gaps", "--excerpts"]) == 0
    text = capsys.readouterr().out
    assert "== freefin" in text and "== kaspi" in text and "settled by" in text
    assert "failed_invoices" in text
    # Every finding of the shipped documents is settled: the gate holds on them.
    assert main(["gaps", "--fail-on-open"]) == 0


def test_fail_on_open_breaks_when_an_entry_goes(specs: Path) -> None:
    path = specs / "kaspi.supplement.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("    no_body: true\n", "", 1), encoding="utf-8")
    assert main(["gaps", "--api", "kaspi", "--fail-on-open", "--specs", str(specs)]) == 1
    links = specs / "kaspi.links.yaml"
    text = links.read_text(encoding="utf-8")
    links.write_text(text[: text.index("  /v1/webhooks:")], encoding="utf-8")
    open_ = [f for f in seedgaps.analyse("kaspi", specs) if not f.resolutions]
    assert {f.kind for f in open_} == {"no_request_schema", "missing_links"}
