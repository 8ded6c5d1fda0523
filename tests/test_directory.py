"""The CSV directories the APIs list: one mapping per row, keyed by the header's fields."""

from __future__ import annotations

from pathlib import Path

from simulator.core.directory import load
from simulator.freefin.banks import BANKS


def test_each_row_is_a_mapping_of_the_header(tmp_path: Path) -> None:
    csv = tmp_path / "units.csv"
    csv.write_text('code,name\nKG,"kilogram, metric"\nPC,piece\n', encoding="utf-8")
    assert load(csv) == (
        {"code": "KG", "name": "kilogram, metric"},
        {"code": "PC", "name": "piece"},
    )


def test_the_bundled_banks_are_read_whole() -> None:
    assert len(BANKS) == 30 and all(bank["member_id"] and bank["name"] for bank in BANKS)
