"""The run report from small fixture result files: merged JUnit XML, JSON summary, HTML."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

from harness.report import build_report
from harness.report.charts import nice_max, x_step
from harness.report.results import read_history

SECRET = "sk_test_partner_S3cr3tValue99"
CURL = (
    "curl -X POST -H 'Authorization: Bearer ${PAYSIM_FREEFIN_KEY}' http://t/api/v1/public/payments"
)

PYTEST_JUNIT = f"""<?xml version="1.0" encoding="utf-8"?>
<testsuites name="pytest tests"><testsuite name="pytest" tests="4">
<testcase classname="harness.contract.test_contract_freefin" name="test_idempotent_replay"
 time="0.5"/>
<testcase classname="scenarios.freefin.refunds.yaml" name="a pending payment cannot be refunded"
 time="0.2"><failure message="scenario failed">scenario 'a pending payment cannot be refunded' \
(scenarios/freefin/refunds.yaml) failed at step 3 (refund a pending payment)
  - status: expected 409, got 201
request:
  curl -sS -X POST http://t/api/v1/public/payments/p1/refund -H 'Authorization: Bearer {SECRET}'
received:
  HTTP 201 {{"Content-Type": "application/json"}}
  {{"id": "r1", "status": "succeeded"}}</failure></testcase>
<testcase classname="scenarios.freefin.refunds.yaml" name="a full refund" time="0.1"/>
<testcase classname="scenarios.kaspi.lifecycle.yaml" name="an invoice is paid" time="0.1">
<skipped message="kaspi is not under test"/></testcase>
</testsuite></testsuites>
"""

CONTRACT = {
    "apis": {
        "freefin": {
            "level": "spec",
            "requests": 40,
            "server_errors": 0,
            "wall_time_s": 1.5,
            "failed_checks": ["status_code_conformance"],
            "not_applicable": {"use_after_free": "no DELETE operation: nothing is ever freed"},
            "results": [
                {
                    "operation": "GET /api/v1/public/payments/{id}",
                    "check": "not_a_server_error",
                    "passed": 9,
                    "failed": 0,
                    "failures": [],
                },
                {
                    "operation": "POST /api/v1/public/payments",
                    "check": "status_code_conformance",
                    "passed": 5,
                    "failed": 2,
                    "failures": [
                        {
                            "title": "Undocumented HTTP status code",
                            "message": "Received: 418\nDocumented: 201, 400\n"
                            'answer: 418 {"teapot": true}',
                            "curl": CURL,
                        }
                    ],
                },
            ],
            "spec_gaps": [
                {
                    "api": "freefin",
                    "operation": "POST /api/v1/public/payments/{id}/refund",
                    "check": "status_code_conformance",
                    "observed": "400 Undocumented status code",
                    "entry_path": "paths./x.post.responses.400",
                    "entry": "...",
                }
            ],
        }
    },
    "failed": True,
}

CONTRACT_JUNIT = """<?xml version='1.0' encoding='utf-8'?>
<testsuites name="paysim contract"><testsuite name="contract.freefin" tests="2" failures="1"
 time="1.5">
<testcase classname="contract.freefin.not_a_server_error" name="GET /api/v1/public/payments/{id}"/>
<testcase classname="contract.freefin.status_code_conformance" name="POST /api/v1/public/payments">
<failure message="2 failed of 7">Undocumented HTTP status code</failure></testcase>
</testsuite></testsuites>
"""

THRESHOLDS = {
    "profile": "smoke",
    "passed": False,
    "observed": {
        "requests": 120,
        "failures": 3,
        "rps": 14.2,
        "p50": 3,
        "p95": 40,
        "p99": 90,
        "duration_s": 8.1,
        "replays": 4,
        "duplicates": 0,
    },
    "checks": [
        {"what": "error rate", "limit": "<= 1.00%", "observed": "2.50%", "held": False},
        {"what": "throughput (req/s)", "limit": ">= 5", "observed": "14.2", "held": True},
        {
            "what": "GET kaspi /v1/me p95",
            "limit": "<= 500 ms",
            "observed": "no requests",
            "held": None,
            "gating": False,
        },
        {
            "what": "duplicates created",
            "limit": "<= 0",
            "observed": "0; too few: 0 replays",
            "held": None,
            "gating": True,
        },
    ],
}

HISTORY_HEAD = (
    "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,"
    "98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,"
    "Total Median Response Time,Total Average Response Time,"
    "Total Min Response Time,Total Max Response Time,Total Average Content Size"
)
STATS_HEAD = (
    "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
    "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,"
    "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
)


def write_fixture_run(directory: Path) -> Path:
    """A finished run's result files, as conform and load leave them; returns the directory."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "pytest-junit.xml").write_text(PYTEST_JUNIT, encoding="utf-8")
    (directory / "contract-summary.json").write_text(json.dumps(CONTRACT), encoding="utf-8")
    (directory / "contract-junit.xml").write_text(CONTRACT_JUNIT, encoding="utf-8")
    (directory / "run.json").write_text(
        json.dumps(
            {
                "command": "conform",
                "target": "http://t",
                "api": "both",
                "exit_code": 1,
                "wall_time_s": 12.5,
            }
        ),
        encoding="utf-8",
    )
    load = directory / "load"
    load.mkdir(exist_ok=True)
    (load / "thresholds.json").write_text(json.dumps(THRESHOLDS), encoding="utf-8")
    rows = [
        HISTORY_HEAD,
        "1000,0,,Aggregated,0,0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,0,0,0,0,0,0,0",
    ]
    for t in range(1, 9):
        rows.append(
            f"{1000 + t},{min(t * 3, 10)},,Aggregated,{t * 2}.0,{0.5 if t == 5 else 0},"
            f"{3 + t},0,0,0,0,{20 + t * 3},0,{40 + t * 5},0,0,0,{t * 15},{t // 5},"
            "0,0,0,0,0"
        )
        rows.append(
            f"{1000 + t},{min(t * 3, 10)},POST,freefin /payments,1,0,3,0,0,0,0,9,0,9,"
            "0,0,0,1,0,0,0,0,0,0"
        )
    (load / "stats_stats_history.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    (load / "stats_stats.csv").write_text(
        STATS_HEAD + "\nPOST,freefin /payments,120,3,3,5.0,1,95.5,900,14.2,0.3,3,4,5,6,20,40,60,"
        "90,95,95,95\n",
        encoding="utf-8",
    )
    (load / "stats_failures.csv").write_text(
        "Method,Name,Error,Occurrences,First Seen,Last Seen\n"
        "POST,freefin /payments,HTTPError('429'),3,0,0\n",
        encoding="utf-8",
    )
    return directory


GAPS = [
    {
        "api": "kaspi",
        "kind": "enum_mismatch",
        "where": "POST /v1/sandbox/invoices/{id}/simulate",
        "detail": "request status accepts ['failed'] but Invoice.status has only [...]",
        "resolutions": [
            {
                "file": "kaspi.supplement.yaml",
                "entry": "failed_invoices",
                "excerpt": "decision: ...",
            }
        ],
        "note": "",
        "resolved": True,
    },
    {
        "api": "kaspi",
        "kind": "missing_links",
        "where": "POST /v1/webhooks/{id}/test",
        "detail": "no link from POST /v1/webhooks",
        "resolutions": [],
        "note": "",
        "resolved": False,
    },
]


def test_merged_junit_has_contract_scenarios_and_load_thresholds(tmp_path: Path) -> None:
    build_report(write_fixture_run(tmp_path), gaps=GAPS)
    root = ET.parse(tmp_path / "junit.xml").getroot()
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {
        "contract.freefin",
        "contract.freefin.tests",
        "scenarios.freefin.refunds",
        "scenarios.kaspi.lifecycle",
        "load.smoke",
    }
    load = suites["load.smoke"]
    assert (load.get("tests"), load.get("failures"), load.get("skipped")) == ("4", "1", "1")
    # A gating threshold not measured is an error: the run cannot pass on it; not a skip.
    assert load.get("errors") == "1"
    unmeasured = load.find("testcase/error")
    assert unmeasured is not None and "not measured" in (unmeasured.get("message") or "")
    broken = load.find("testcase/failure")
    assert broken is not None and "observed 2.50%" in (broken.get("message") or "")
    assert suites["scenarios.freefin.refunds"].get("failures") == "1"
    assert suites["contract.freefin"].get("time") == "1.5"  # the run's wall time, kept
    assert root.get("failures") == "3" and root.get("tests") == "10"


def test_summary_names_each_failure_with_curl_and_response(tmp_path: Path) -> None:
    summary = build_report(
        write_fixture_run(tmp_path), gaps=GAPS, secrets={SECRET: "${PAYSIM_FREEFIN_KEY}"}
    )
    assert summary == json.loads((tmp_path / "summary.json").read_text())
    assert summary["verdict"] == "failed" and summary["exit_code"] == 1
    by_suite = {f["suite"]: f for f in summary["failures"]}
    contract = by_suite["contract freefin"]
    assert contract["curl"] == CURL
    assert contract["response"] == '418 {"teapot": true}'
    assert contract["message"] == "Received: 418\nDocumented: 201, 400"
    scenario = by_suite["scenarios freefin/refunds"]
    assert scenario["title"] == "failed at step 3 (refund a pending payment)"
    assert scenario["message"] == "- status: expected 409, got 201"
    assert scenario["curl"].startswith("curl -sS -X POST http://t/api/v1/public/payments/p1")
    assert scenario["response"].startswith("HTTP 201")
    assert by_suite["load smoke"]["message"] == "limit <= 1.00%, observed 2.50%"
    rows = {r["suite"]: r for r in summary["suites"]}
    # A spec gap observed is an observation, never a skip: skipped means "not run".
    assert (
        rows["contract freefin checks"]["passed"],
        rows["contract freefin checks"]["failed"],
        rows["contract freefin checks"]["skipped"],
        rows["contract freefin checks"]["observations"],
    ) == (1, 1, 0, 1)
    assert summary["counts"]["contract checks"] == {"passed": 1, "failed": 1, "skipped": 0}
    assert summary["counts"]["scenarios"]["skipped"] == 1
    assert rows["load smoke"]["failed"] == 1 and rows["scenarios kaspi/lifecycle"]["skipped"] == 1
    assert summary["scenarios"]["scenarios freefin/refunds"][0]["outcome"] == "failed"
    assert len(summary["spec_gaps"]["observed"]) == 1
    assert summary["load"]["history"][1]["rps"] == 2.0
    # The secret the target was given never reaches a report file.
    for name in ("summary.json", "junit.xml", "report.html"):
        text = (tmp_path / name).read_text()
        assert SECRET not in text, name
    assert "${PAYSIM_FREEFIN_KEY}" in (tmp_path / "summary.json").read_text()


def test_passing_run_is_passed(tmp_path: Path) -> None:
    (tmp_path / "pytest-junit.xml").write_text(
        '<testsuites><testsuite name="pytest"><testcase classname="scenarios.freefin.refunds.yaml"'
        ' name="ok" time="0.1"/></testsuite></testsuites>'
    )
    summary = build_report(tmp_path)
    assert summary["verdict"] == "passed" and summary["failures"] == []
    assert summary["load"] is None
    assert "every check held" in (tmp_path / "report.html").read_text()


def test_html_is_self_contained_with_matrix_charts_and_gaps(tmp_path: Path) -> None:
    build_report(write_fixture_run(tmp_path), gaps=GAPS)
    html = (tmp_path / "report.html").read_text()
    # Nothing to fetch: no scripts, stylesheets, images or fonts from elsewhere.
    assert not re.search(r"<(script|link|img|iframe)\b", html)
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html)
    assert "@import" not in html and "url(" not in html
    assert html.count("<svg") == 2 and "Throughput over time" in html
    assert "polyline" in html
    assert 'class="cell fail"' in html and "✗ 2/7" in html
    assert "failed_invoices" in html and 'class="badge open"' in html
    assert "HTTPError(&#39;429&#39;)" in html  # escaped, not raw
    assert "GET kaspi /v1/me p95" in html
    # A check nothing in the contract can trigger shows n/a, with its reason, not a pass.
    assert 'title="use_after_free: no DELETE operation: nothing is ever freed">n/a<' in html
    assert "n/a <b>use_after_free</b>" in html


def test_history_reads_aggregated_rows_with_gaps(tmp_path: Path) -> None:
    write_fixture_run(tmp_path)
    history = read_history(tmp_path / "load" / "stats_stats_history.csv")
    assert [row["t"] for row in history] == [float(t) for t in range(9)]
    assert history[0]["p95"] is None and history[8]["p99"] == 80.0


def test_chart_axes_are_round() -> None:
    assert [nice_max(v) for v in (0, 0.7, 3, 37, 49, 120)] == [1, 1, 5, 50, 50, 200]
    assert [x_step(v) for v in (8, 72, 600)] == [1, 10, 100]
