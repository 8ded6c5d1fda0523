"""Named defects that make the simulator non-conformant in one way each.

They exist to show that every check of the harness fails against a broken implementation.
API packages register their defects; the control API and ``--defect`` switch them on.
"""

from __future__ import annotations

import threading


class Defects:
    def __init__(self) -> None:
        self.catalog: dict[str, str] = {}
        self._active: set[str] = set()
        self._lock = threading.Lock()

    def register(self, name: str, description: str) -> None:
        self.catalog[name] = description

    def enable(self, *names: str) -> None:
        unknown = [n for n in names if n not in self.catalog]
        if unknown:
            raise KeyError(f"unknown defects: {', '.join(unknown)}")
        with self._lock:
            self._active.update(names)

    def disable(self, *names: str) -> None:
        with self._lock:
            self._active.difference_update(names or set(self._active))

    def on(self, name: str) -> bool:
        return name in self._active

    @property
    def active(self) -> list[str]:
        return sorted(self._active)
