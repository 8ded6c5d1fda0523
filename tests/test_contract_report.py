"""The contract run's record: secrets never shown, curl commands that run, the operation x check
matrix, JUnit XML with a case per operation and check, spec gaps apart."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.contract.record import Report, SpecGap


class _Failure:
    title = "Status moved outside the documented state machine"
    message = "cancel of a cancelled payment was accepted"


def _report() -> Report:
    report = Report(secrets={"sk_test_abc": "${PAYSIM_FREEFIN_KEY}"})
    report.levels["freefin"] = "spec"
    report.requests["freefin"] = 3
    report.add_result("freefin", "GET /p/{id}", "not_a_server_error", None, "")
    report.add_result(
        "freefin",
        "POST /p/{id}/cancel",
        "status_follows_state_machine",
        _Failure(),
        "curl -X POST -H 'Authorization: Bearer sk_test_abc' http://127.0.0.1:1/p/1/cancel",
        answer='200 {"id": "1", "secret": "whsec_shown_once"}',
    )
    report.add_gap(
        SpecGap(
            "freefin",
            "POST /p/{id}/refund",
            "status_code_conformance",
            "400 Undocumented status code",
            "paths./p/{id}/refund.post.400",
            "paths: {}",
        )
    )
    return report


def test_secrets_are_masked_and_curl_expands_them() -> None:
    report = _report()
    text = report.render(full=True) + json.dumps(report.to_json())
    assert "sk_test_abc" not in text
    assert "whsec_shown_once" not in text
    curl = report.to_json()["apis"]["freefin"]["results"][1]["failures"][0]["curl"]
    # Double quotes: the shell puts the key back from the environment.
    assert '-H "Authorization: Bearer ${PAYSIM_FREEFIN_KEY}"' in curl


def test_matrix_marks_failures_and_unapplied_checks() -> None:
    lines = _report().matrix("freefin")
    assert lines[0] == "| operation | not_a_server_error | status_follows_state_machine |"
    assert lines[2] == "| GET /p/{id} | pass 1 | – |"
    assert lines[3] == "| POST /p/{id}/cancel | – | **FAIL** 1/1 |"


def test_files_and_junit(tmp_path: Path) -> None:
    report = _report()
    assert report.failed and report.failed_checks("freefin") == {"status_follows_state_machine"}
    report.write(tmp_path)
    summary = (tmp_path / "contract-summary.md").read_text("utf-8")
    assert "### Spec gaps" in summary and "GAP POST /p/{id}/refund" in summary
    suites = ET.parse(tmp_path / "contract-junit.xml").getroot().findall("testsuite")
    suite = suites[0]
    assert (suite.get("tests"), suite.get("failures"), suite.get("skipped")) == ("2", "1", "0")
    # A spec gap observed is an observation in a suite of its own, never a skip.
    gaps = next(s for s in suites if s.get("name", "").endswith(".spec_gaps"))
    assert (gaps.get("tests"), gaps.get("failures"), gaps.get("skipped")) == ("1", "0", "0")
    gap = gaps.find("testcase")
    assert gap is not None and gap.find("skipped") is None
    assert {p.get("name") for p in gap.iter("property")} == {"spec_gap", "settled_by"}
    failure = suite.find("testcase/failure")
    assert failure is not None and "reproduce: curl" in (failure.text or "")


def test_never_applicable_checks_are_na_not_passes() -> None:
    report = _report()
    report.add_result("freefin", "GET /p/{id}", "use_after_free", None, "")
    report.not_applicable["freefin"] = {"use_after_free": "no DELETE operation"}
    lines = report.matrix("freefin")
    assert lines[0].split(" | ")[-1] == "use_after_free |"
    assert lines[2] == "| GET /p/{id} | pass 1 | – | n/a |"
    assert lines[3] == "| POST /p/{id}/cancel | – | **FAIL** 1/1 | n/a |"
    assert "n/a use_after_free: no DELETE operation" in report.render(full=True)
    assert report.to_json()["apis"]["freefin"]["not_applicable"] == {
        "use_after_free": "no DELETE operation"
    }


def test_never_applicable_follows_the_document() -> None:
    from harness.contract.loader import never_applicable

    doc = {
        "paths": {
            "/x/{id}": {
                "delete": {"responses": {}},
                "get": {"parameters": [{"name": "X-Req", "in": "header", "required": True}]},
            }
        }
    }
    assert set(never_applicable(doc)) == {"object_level_authorization"}
    assert set(never_applicable({"paths": {"/x": {"get": {}}}})) == {
        "use_after_free",
        "missing_required_header",
        "object_level_authorization",
    }
