"""Rules and the named defects that break them, one seam per rule.

Each API writes its rules as the methods of one ``Rules`` class, each method the rule as the
seed states it. A defect is a subclass that overrides the one method it breaks, declared with
its name and description::

    class CancelAnyStatus(FreefinRules, defect="freefin.cancel_any_status",
                          description="a payment in any status can be cancelled"):
        def cancelable(self, status: str) -> bool:
            return True

The domain asks ``defects.rules(FreefinRules)`` for the rules in force: the clean class, or,
when defects are switched on, a class with their overrides in front of it (a defect that
should add to another's change calls ``super()``). They exist to show that every check of the
harness fails against a broken implementation; the control API and ``--defect`` switch them.
"""

from __future__ import annotations

import threading
from typing import Any, ClassVar, TypeVar


class Rules:
    """The base of an API's rules; subclasses declared with ``defect=`` are its defects."""

    defect: ClassVar[str | None] = None
    description: ClassVar[str] = ""

    def __init_subclass__(
        cls, defect: str | None = None, description: str = "", **kwargs: Any
    ) -> None:
        super().__init_subclass__(**kwargs)
        cls.defect = defect
        cls.description = description
        if defect and not description:
            raise TypeError(f"defect {defect} needs a description")


R = TypeVar("R", bound=Rules)


def breakages(base: type[Rules]) -> list[type[Rules]]:
    """Every defect declared on ``base`` or below it, in declaration order."""
    found: list[type[Rules]] = []
    stack = list(reversed(base.__subclasses__()))
    while stack:
        cls = stack.pop()
        if cls.defect:
            found.append(cls)
        stack.extend(reversed(cls.__subclasses__()))
    return found


class Defects:
    def __init__(self) -> None:
        self.catalog: dict[str, str] = {}
        self._breakage: dict[str, type[Rules]] = {}
        self._active: set[str] = set()
        self._composed: dict[type[Rules], Rules] = {}
        self._lock = threading.Lock()

    def register(self, base: type[Rules]) -> None:
        """Catalogue every defect declared against ``base`` (its module must be imported)."""
        for cls in breakages(base):
            assert cls.defect is not None
            self.catalog[cls.defect] = cls.description
            self._breakage[cls.defect] = cls
        with self._lock:
            self._composed.clear()

    def enable(self, *names: str) -> None:
        unknown = [n for n in names if n not in self.catalog]
        if unknown:
            raise KeyError(f"unknown defects: {', '.join(unknown)}")
        with self._lock:
            self._active.update(names)
            self._composed.clear()

    def disable(self, *names: str) -> None:
        with self._lock:
            self._active.difference_update(names or set(self._active))
            self._composed.clear()

    @property
    def active(self) -> list[str]:
        return sorted(self._active)

    def rules(self, clean: type[R]) -> R:
        """``clean``'s rules with the overrides of its active defects in front."""
        rules = self._composed.get(clean)  # asked several times a request: no lock once made
        if rules is not None:
            return rules  # type: ignore[return-value]
        with self._lock:
            rules = self._composed.get(clean)
            if rules is None:
                broken = tuple(
                    self._breakage[name]
                    for name in sorted(self._active)
                    if issubclass(self._breakage[name], clean)
                )
                cls = type(f"Broken{clean.__name__}", (*broken, clean), {}) if broken else clean
                rules = self._composed[clean] = cls()
        return rules  # type: ignore[return-value]
