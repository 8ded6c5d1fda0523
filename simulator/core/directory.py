"""Directories the APIs list (SBP banks, units of measure): CSV files beside the package that
reads them, one row per entry with a header naming the fields."""

from __future__ import annotations

import csv
from pathlib import Path


def load(path: Path) -> tuple[dict[str, str], ...]:
    """Each row of the CSV file at ``path`` as a mapping of its header's fields."""
    with path.open(encoding="utf-8", newline="") as rows:
        return tuple(dict(row) for row in csv.DictReader(rows))
