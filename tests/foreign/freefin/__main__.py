"""Run the foreign freefin server: ``python -m tests.foreign.freefin --port 0 [--bug NAME]``."""

from .server import main

raise SystemExit(main())
