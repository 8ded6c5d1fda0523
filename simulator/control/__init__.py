"""The control API under /_sim: test-only levers, kept apart from the simulated APIs."""
