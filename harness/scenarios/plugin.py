"""pytest plugin: collect ``scenarios/**/*.yaml`` and run each scenario as a test item.

Why not Tavern: it breaks on pytest 9.1/9.2 (it imports a private pytest module), cannot sign
the exact raw body with HMAC without custom Python hooks, and has no concurrent steps. This runner
is small and does what the suites need.

Items are ``pytest.Function`` objects whose function takes the session ``target`` fixture
(harness.pytest_plugin), so scenarios and the contract suite share one Target and one bundled
simulator; the webhook receiver is a session fixture too, cleared per scenario.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

import pytest

from harness.scenarios.loader import Scenario, ScenarioFormatError, load_file
from harness.scenarios.receiver import WebhookReceiver
from harness.scenarios.runner import ScenarioFailure, ScenarioSkip, run_scenario
from harness.target import Target


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addini("scenario_dirs", type="linelist", default=["scenarios"],
                  help="folders (relative to rootdir) whose *.yaml files are scenarios")


def pytest_configure(config: pytest.Config) -> None:
    for api in ("freefin", "kaspi"):
        config.addinivalue_line("markers", f"{api}: scenarios of the {api} API")


def _scenario_roots(config: pytest.Config) -> list[Path]:
    return [(config.rootpath / d).resolve() for d in config.getini("scenario_dirs")]


def pytest_collect_file(file_path: Path, parent: pytest.Collector) -> pytest.Collector | None:
    if file_path.suffix not in (".yaml", ".yml"):
        return None
    resolved = file_path.resolve()
    if not any(resolved.is_relative_to(root) for root in _scenario_roots(parent.config)):
        return None
    return ScenarioFile.from_parent(parent, path=file_path)


@pytest.fixture(scope="session")
def scenario_receiver(target: Target) -> Iterator[WebhookReceiver]:
    """The session's webhook receiver, verifying with the target's webhook secret."""
    with WebhookReceiver(target.webhook_secret, target.webhook_public_url) as receiver:
        yield receiver


class ScenarioFile(pytest.File):
    """One YAML file: one item per document, every document validated first."""

    def collect(self) -> Iterable[pytest.Item]:
        try:
            scenarios = load_file(self.path)
        except ScenarioFormatError as exc:
            raise self.CollectError(str(exc)) from None
        for scenario in scenarios:
            yield ScenarioItem.from_parent(self, name=scenario.name,
                                           callobj=_make_call(scenario), scenario=scenario)


def _make_call(scenario: Scenario) -> Any:
    def run(target: Target, scenario_receiver: WebhookReceiver) -> None:
        try:
            run_scenario(scenario, target, scenario_receiver)
        except ScenarioSkip as exc:
            # Reported at the scenario, not at this line of the plugin.
            raise pytest.skip.Exception(str(exc), _use_item_location=True) from None

    return run


class ScenarioItem(pytest.Function):
    """A scenario run as a test; failures render as the step, curl, expected and received."""

    def __init__(self, *, scenario: Scenario, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.scenario = scenario
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
