"""Independent freefin Public API server, written from the seed OpenAPI document alone.

Used to prove that the contract harness passes a clean implementation and catches broken
ones (see ``BUGS``). Start it with ``start()`` or ``python -m tests.foreign.freefin``.
"""

from .bugs import BUGS
from .directory import CREDENTIALS
from .server import FreefinServer, start

__all__ = ["BUGS", "CREDENTIALS", "FreefinServer", "start"]
