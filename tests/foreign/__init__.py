"""Foreign (independently written) API implementations used to test the harness."""
