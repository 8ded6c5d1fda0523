"""Property-based contract suite (Schemathesis) for the freefin and Kaspi APIs.

Layers, each in a module of its own:

- :mod:`apis`: what the suite knows of each API (files, auth scheme, money format, state
  machines, which operations create, read, cancel, refund);
- :mod:`loader`: the contract a run holds the target to (``spec`` or ``strict``) and the
  Schemathesis schema built from it for a target;
- :mod:`auth`: credentials per scheme and request signing over the exact bytes sent;
- :mod:`transport`: calls that wait on ``Retry-After`` instead of failing;
- :mod:`checks`: the payment checks, registered with ``@schemathesis.check``;
- :mod:`gaps`: tells spec gaps from implementation failures;
- :mod:`report`: the run's record and its summary (operation x check, curl per failure);
- :mod:`plugin`: the pytest plugin (options, fixtures, summary, JUnit properties);
- ``test_contract_freefin.py`` / ``test_contract_kaspi.py``: the suites themselves.
"""
