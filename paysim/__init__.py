"""paysim's command line: the one place that wires the harness, the load tests and the
bundled simulator together (``paysim serve|conform|load|report|gaps``)."""
