"""Independent Werkzeug implementation of the Arzan Pay Kaspi Pay API (seed-only).

Start with ``python -m tests.foreign.kaspi --port 0 [--bug NAME]...`` or :func:`start`.
"""

from .accounts import CREDENTIALS
from .app import PREFIX, start
from .bugs import BUGS

__all__ = ["BUGS", "CREDENTIALS", "PREFIX", "start"]
