"""One JUnit XML for the whole run: contract, scenarios and load thresholds as test cases.

Suites, in order:

- ``contract.<api>``: a case per operation x check (``contract-junit.xml`` of the contract
  suite); ``contract.<api>.spec_gaps``: the spec gaps observed at the spec level, as passed
  cases with a ``spec_gap`` property (observations: a skip means "not run", and nothing else);
- ``contract.<api>.tests``: the contract suite's own pytest tests (probes, stateful run);
- ``scenarios.<api>.<topic>``: a case per scenario;
- ``load.<profile>``: a case per threshold (broken: a failure; not measured and gating: an
  error, for the run cannot pass on it; not measured and not gating: skipped);
- ``other``: anything else pytest reported (collection errors).

A test's ``proves`` (the seed promises it claims) and ``not_exercised`` (why it did not run)
are properties of its case; the root's properties give the coverage map's figures per API
(``seed_promises.<api>``: proved of total, failed, not exercised).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable
from pathlib import Path
from typing import Any

from harness.report.results import CONTRACT_JUNIT, RunResults


def _suite(parent: ET.Element, name: str) -> ET.Element:
    return ET.SubElement(parent, "testsuite", name=name)


def _finish(suite: ET.Element) -> None:
    cases = suite.findall("testcase")
    suite.set("tests", str(len(cases)))
    for tag, attr in (("failure", "failures"), ("error", "errors"), ("skipped", "skipped")):
        suite.set(attr, str(sum(1 for c in cases if c.find(tag) is not None)))
    suite.set("time", f"{sum(float(c.get('time') or 0) for c in cases):.3f}")


def _contract_suites(root: ET.Element, directory: Path, redact: Callable[[Any], Any]) -> None:
    path = directory / CONTRACT_JUNIT
    if not path.exists():
        return
    for suite in ET.parse(path).getroot().iter("testsuite"):
        for node in suite.iter():
            if node.text:
                node.text = redact(node.text)
            for key, value in node.attrib.items():
                node.set(key, redact(value))
        root.append(suite)


def build_junit(
    results: RunResults,
    directory: Path,
    redact: Callable[[Any], Any] = lambda v: v,
    covered: dict[str, Any] | None = None,
) -> ET.ElementTree:
    """The merged JUnit XML of a report directory's results (``covered``: the coverage map)."""
    root = ET.Element("testsuites", name="paysim")
    if covered:
        props = ET.SubElement(root, "properties")
        for api, data in covered.items():
            ET.SubElement(
                props,
                "property",
                name=f"seed_promises.{api}",
                value=f"proved {data['proved']} of {data['total']} ({data['percent']}%), "
                f"failed {data['failed']}, not exercised {data['not_exercised']}",
            )
    _contract_suites(root, directory, redact)
    for name, cases in results.suites().items():
        label = {
            "contract": f"{name.replace(' ', '.')}.tests",
            "scenarios": name.replace(" ", ".").replace("/", "."),
        }.get(cases[0].kind, name)
        suite = _suite(root, label)
        for case in cases:
            node = ET.SubElement(
                suite, "testcase", classname=label, name=case.name, time=f"{case.seconds:.3f}"
            )
            if case.properties:
                props = ET.SubElement(node, "properties")
                for key, value in case.properties.items():
                    ET.SubElement(props, "property", name=key, value=redact(value))
            tag = {"failed": "failure", "error": "error", "skipped": "skipped"}.get(case.outcome)
            if tag:
                child = ET.SubElement(node, tag, message=redact(case.message[:500]))
                child.text = redact(case.text)
    if results.load is not None:
        run = results.load
        suite = _suite(root, f"load.{run.profile}")
        for check in run.checks:
            node = ET.SubElement(
                suite,
                "testcase",
                classname=f"load.{run.profile}",
                name=f"{check['what']} {check['limit']}",
                time="0",
            )
            text = f"limit {check['limit']}, observed {check['observed']}"
            if check.get("held") is False:
                ET.SubElement(node, "failure", message=f"threshold broken: {text}").text = text
            elif check.get("held") is None and check.get("gating", True):
                # Too few samples to judge a threshold that gates the run: the run cannot pass.
                ET.SubElement(node, "error", message=f"not measured: {text}").text = text
            elif check.get("held") is None:
                ET.SubElement(node, "skipped", message=f"not measured, not gating: {text}")
            else:
                ET.SubElement(node, "system-out").text = text
        suite.set("time", str(run.observed.get("duration_s", 0)))
    for suite in root.findall("testsuite"):
        seconds = suite.get("time")
        _finish(suite)
        if (
            seconds
            and suite.get("name", "").startswith(("contract.", "load."))
            and (not suite.get("name", "").endswith(".tests"))
        ):
            suite.set("time", seconds)  # wall time of the run, not a sum
    for attr in ("tests", "failures", "errors", "skipped"):
        root.set(attr, str(sum(int(s.get(attr) or 0) for s in root.findall("testsuite"))))
    ET.indent(root)
    return ET.ElementTree(root)
