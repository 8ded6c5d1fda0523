"""Grading a partner's own integration: its webhook handler (and, through the same findings
and report, its API client)."""
