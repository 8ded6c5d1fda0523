"""The SBP bank directory: thirty large NSPK participants and their 12-digit member ids
(banks.csv)."""

from __future__ import annotations

from pathlib import Path

from simulator.core import directory

BANKS = directory.load(Path(__file__).with_name("banks.csv"))
BY_ID = {bank["member_id"]: bank["name"] for bank in BANKS}


def listing() -> list[dict[str, str]]:
    return [dict(bank) for bank in BANKS]
