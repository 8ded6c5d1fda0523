"""Top-level pytest configuration: the harness's plugins, for the suites and the project's tests."""

pytest_plugins = ["harness.pytest_plugin", "harness.contract.plugin", "harness.scenarios.plugin"]
