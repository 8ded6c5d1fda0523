"""pytest plugin: collect scenario YAML files and run each scenario as a test item.

A YAML file is a scenario file when it lies in the bundled suites (:mod:`paysim.documents`), in
a folder named by the ``scenario_dirs`` ini option (``scenarios/`` of the rootdir by default) or
in a folder given with ``--scenarios DIR``, which is collected as well.

Why not Tavern: it breaks on pytest 9.1/9.2 (it imports a private pytest module), cannot sign
the exact raw body with HMAC without custom Python hooks, and has no concurrent steps. This runner
is small and does what the suites need.

Items are ``pytest.Function`` objects whose function takes the session ``target`` fixture
(harness.pytest_plugin), so scenarios and the contract suite share one Target and one bundled
simulator; the webhook receiver is a session fixture too, cleared per scenario.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Generator, Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

import paysim.documents as documents
from harness.promises import Why, not_exercised
from harness.scenarios.loader import Scenario, ScenarioFormatError, claims, load_file
from harness.scenarios.receiver import WebhookReceiver
from harness.scenarios.runner import Departure, ScenarioFailure, ScenarioSkip, run_scenario
from harness.scenarios.summary import Result, Summary
from harness.target import Target

SUMMARY_KEY = pytest.StashKey[Summary]()


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("paysim-scenarios", "paysim scenario suites")
    group.addoption(
        "--scenario-report",
        dest="scenario_report",
        default=None,
        help="directory for scenario-summary.md/.json [env PAYSIM_SCENARIO_REPORT]",
    )
    group.addoption(
        "--scenarios",
        dest="scenario_folders",
        action="append",
        default=[],
        metavar="DIR",
        help="a folder of scenarios of your own, collected and validated as the bundled ones "
        "(repeatable)",
    )
    parser.addini(
        "scenario_dirs",
        type="linelist",
        default=["scenarios"],
        help="folders (relative to rootdir) whose *.yaml files are scenarios",
    )


def pytest_configure(config: pytest.Config) -> None:
    config.stash[SUMMARY_KEY] = Summary()
    for folder in user_folders(config):
        if str(folder) not in config.args:
            config.args.append(str(folder))
    for api in ("freefin", "kaspi"):
        config.addinivalue_line("markers", f"{api}: scenarios of the {api} API")


def user_folders(config: pytest.Config) -> list[Path]:
    """The folders given with ``--scenarios``; one that is not a folder is a usage error."""
    folders = [Path(d).resolve() for d in config.getoption("scenario_folders", default=[])]
    for folder in folders:
        if not folder.is_dir():
            raise pytest.UsageError(f"--scenarios {folder}: not a folder")
    return folders


def _scenario_roots(config: pytest.Config) -> list[Path]:
    ini = [(config.rootpath / d).resolve() for d in config.getini("scenario_dirs")]
    return [documents.SCENARIOS, *ini, *user_folders(config)]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    resolved = file_path.resolve()
    if not any(resolved.is_relative_to(root) for root in _scenario_roots(parent.config)):
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


@pytest.fixture(scope="session")
def scenario_receiver(target: Target) -> Iterator[WebhookReceiver]:
    """The session's webhook receiver, verifying with the target's webhook secret.

    On the bundled simulator (ours alone) the scenarios start from the seed: whatever suites ran
    before may have left queued outcomes or a backlog of deliveries to unreachable URLs.
    """
    if target.bundled and target.control_url:
        requests.post(
            f"{target.control_url}/reset",
            headers={"X-Control-Token": target.control_token} if target.control_token else {},
            timeout=10,
        ).raise_for_status()
    receiver = WebhookReceiver(
        target.webhook_secret, target.webhook_public_url, target.webhook_listen
    )
    for api in target.apis:
        hooks = target.profile(api).webhooks
        if hooks.get("signature_header"):
            receiver.use_signature(hooks["signature_header"], hooks.get("signature_prefix", ""))
        if hooks.get("event_id_header"):
            receiver.use_event_id_header(hooks["event_id_header"])
    try:
        receiver.start()
    except OSError as exc:
        pytest.exit(
            f"paysim: bad configuration: the webhook receiver cannot listen on "
            f"{target.webhook_listen}: {exc}",
            returncode=4,
        )
    try:
        yield receiver
    finally:
        receiver.close()


class ScenarioFile(pytest.File):
    """One YAML file: one item per document, every document validated first."""

    def collect(self) -> Iterable[pytest.Item]:
        try:
            scenarios = load_file(self.path)
        except ScenarioFormatError as exc:
            raise self.CollectError(str(exc)) from None
        for scenario in scenarios:
            yield ScenarioItem.from_parent(
                self, name=scenario.name, callobj=_make_call(scenario), scenario=scenario
            )


def _make_call(scenario: Scenario) -> Any:
    def run(
        target: Target, scenario_receiver: WebhookReceiver, request: pytest.FixtureRequest
    ) -> None:
        try:
            request.node.departures = run_scenario(scenario, target, scenario_receiver)
        except ScenarioSkip as exc:
            # Reported at the scenario, not at this line of the plugin.
            raise not_exercised(exc.why, str(exc)) from None
        if any(d.unproved for d in request.node.departures):
            # A seed-backed step did not run: what the scenario proves was not all exercised.
            request.node.user_properties.append(("not_exercised", Why.TARGET.name))

    return run


class ScenarioItem(pytest.Function):
    """A scenario run as a test; failures render as the step, curl, expected and received."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
        self.api = scenario.api
        self.proves = claims(scenario)
        self.departures: list[Departure] = []
        for tag in scenario.tags:
            # Tags are free-form; register them so --strict-markers accepts them.
            self.config.addinivalue_line("markers", f"{tag}: scenario tag")
            self.add_marker(tag)
        self.add_marker(scenario.api)

    def reportinfo(self) -> tuple[Path, int | None, str]:
        return self.path, self.scenario.line, f"scenario: {self.scenario.name}"

    def repr_failure(self, excinfo: pytest.ExceptionInfo[BaseException]) -> Any:  # type: ignore[override]
        if isinstance(excinfo.value, ScenarioFailure):
            return excinfo.value.render()
        return super().repr_failure(excinfo)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, pytest.TestReport]:
    report = yield
    if isinstance(item, ScenarioItem):
        _record(item, call, report)
    return report


def _record(item: ScenarioItem, call: pytest.CallInfo[None], report: pytest.TestReport) -> None:
    # One result per scenario: its call, or the setup that failed or skipped it.
    if report.when == "call" or (report.when == "setup" and not report.passed):
        detail = ""
        if report.skipped and isinstance(report.longrepr, tuple):
            detail = str(report.longrepr[2]).removeprefix("Skipped: ")
        elif report.failed and call.excinfo is not None:
            exc = call.excinfo.value
            detail = (
                f"{exc.step_label}: {exc.problems[0]}"
                if isinstance(exc, ScenarioFailure)
                else str(exc).splitlines()[0]
                if str(exc)
                else type(exc).__name__
            )
        item.config.stash[SUMMARY_KEY].results.append(
            Result(
                file=item.path.relative_to(item.config.rootpath).as_posix()
                if item.path.is_relative_to(item.config.rootpath)
                else str(item.path),
                name=item.scenario.name,
                api=item.scenario.api,
                outcome=report.outcome,
                seconds=round(report.duration, 3),
                detail=detail,
                departures=[dataclasses.asdict(d) for d in item.departures],
            )
        )


def pytest_terminal_summary(
    terminalreporter: pytest.TerminalReporter, exitstatus: int, config: pytest.Config
) -> None:
    summary = config.stash[SUMMARY_KEY]
    if not summary.results:
        return
    terminalreporter.section("paysim scenario summary")
    terminalreporter.write_line(summary.render())
    directory = config.getoption("scenario_report") or os.environ.get("PAYSIM_SCENARIO_REPORT")
    if directory:
        summary.write(Path(directory))
        terminalreporter.write_line(f"full summary: {Path(directory) / 'scenario-summary.md'}")
