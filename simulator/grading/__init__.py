"""Client grading: the requests a client sent, judged against the integration rules."""
