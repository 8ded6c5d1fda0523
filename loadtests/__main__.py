"""``python -m loadtests``: run a load profile headless (see ``loadtests/run.py``)."""

from loadtests.run import main

raise SystemExit(main())
