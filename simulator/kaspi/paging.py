"""The list envelope every Kaspi list answers with: ``{"items", "pagination"}``."""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from simulator.core.runtime import Runtime
from simulator.core.store import Store
from simulator.kaspi.money import validation_error

MAX_PAGE_SIZE = 100
MAX_PAGE = 1_000_000


def _int_arg(args: dict[str, str], name: str, default: int, low: int, high: int) -> int:
    """An integer query argument, clamped into [low, high] (as the API pages leniently)."""
    raw = args.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"-?[0-9]{1,1000}", raw):  # int() would also take "1_0", " 1", "１"
        raise validation_error(name, "must be an integer")
    value = int(raw)
    return min(max(value, low), high)


def bounds(args: dict[str, str]) -> tuple[int, int]:
    """(page, page_size) from the query, clamped: 1 <= page <= 10^6, 1 <= page_size <= 100."""
    return (
        _int_arg(args, "page", 1, 1, MAX_PAGE),
        _int_arg(args, "page_size", 20, 1, MAX_PAGE_SIZE),
    )


def envelope(
    items: Sequence[Mapping[str, Any]], page: int, size: int, total: int
) -> dict[str, Any]:
    return {
        "items": items,
        "pagination": {
            "page": page,
            "page_size": size,
            "total": total,
            "total_pages": math.ceil(total / size) if total else 0,
        },
    }


def equal_filters(
    store: Store, args: dict[str, str], names: Iterable[str]
) -> tuple[list[str], list[Any]]:
    where, params = [], []
    for name in names:
        if args.get(name):
            where.append(f"{store.field(name)}=?")
            params.append(args[name])
    return where, params


def page(
    rt: Runtime,
    kind: str,
    owner: str,
    args: dict[str, str],
    where: list[str],
    params: list[Any],
    render: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One page of ``owner``'s objects of ``kind``, newest first."""
    number, size = bounds(args)
    clause = " AND ".join(where)
    with rt.store.read() as tx:
        total = tx.count(kind, owner, clause, tuple(params))
        docs = tx.list(kind, owner, clause, tuple(params), limit=size, offset=(number - 1) * size)
    show = render or strip
    return envelope([show(d) for d in docs], number, size, total)


def strip(doc: Mapping[str, Any]) -> dict[str, Any]:
    """The object without its private (``_``-prefixed) fields."""
    return {k: v for k, v in doc.items() if not k.startswith("_")}
