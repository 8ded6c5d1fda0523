"""Fixed merchants and their API keys (keyed by the harness's option names)."""

from __future__ import annotations

from dataclasses import dataclass

CREDENTIALS: dict[str, str] = {
    "kaspi_key": "ak_live_7e4e28ff94f28a0d26a6a7060548bf80",
    "kaspi_key_b": "ak_live_ed21cba54a75387c61a1cbbc3dc5bf7b",
    "kaspi_key_unconnected": "ak_live_771292e359aad89a43459f76ce52feb2",
    "kaspi_limited_key": "ak_live_f22008bdc602721c567fb5999da5e7b2",
}


@dataclass
class Merchant:
    """A merchant, its Kaspi connection and its token bucket."""

    id: str
    name: str
    key: str
    connected: bool
    rate: float
    burst: float
    tokens: float = 0.0
    stamp: float = 0.0


def default_merchants() -> dict[str, Merchant]:
    """Build the four merchants, keyed by API key."""
    specs = [
        ("kaspi_key", "org_a1", "ТОО Альфа Маркет", True, 50.0, 30.0),
        ("kaspi_key_b", "org_b2", "ТОО Бета Сервис", True, 50.0, 30.0),
        ("kaspi_key_unconnected", "org_c3", "ИП Гамма", False, 50.0, 30.0),
        ("kaspi_limited_key", "org_d4", "ТОО Дельта Лимит", True, 1.0, 2.0),
    ]
    merchants = {}
    for option, mid, name, connected, rate, burst in specs:
        key = CREDENTIALS[option]
        merchants[key] = Merchant(mid, name, key, connected, rate, burst, tokens=burst)
    return merchants
