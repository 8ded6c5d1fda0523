"""paysim load profiles: Locust personas for both APIs, named shapes and a threshold gate.

- ``locustfile.py``: the Locust entry point (personas of ``freefin.py`` and ``kaspi.py``, the
  shape of ``shapes.py``, the gate of ``gate.py`` judging ``thresholds.yaml``).
- ``run.py``: ``run_profile()``: headless runs into a run folder, single process,
  ``--processes`` or master and workers (``paysim load``; ``python -m loadtests`` runs it).
- ``capacity.py``, ``soak.py``: the capacity probe and the soak run behind the figures.

Only ``run.py``, ``shapes.py`` and ``thresholds.py`` may be imported outside a Locust process;
the rest imports Locust, which patches the standard library with gevent.
"""
