"""Fixed merchants, terminals, API keys and the SBP bank directory of the foreign freefin server."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Merchant:
    """A merchant: id and its rate limit (requests per second, burst size)."""

    id: str
    name: str
    rate: float
    burst: int


@dataclass(frozen=True)
class Terminal:
    """A terminal of a merchant, with its API key and signing secret."""

    id: str
    name: str
    merchant: Merchant
    key: str
    signing_secret: str
    requires_signature: bool = False


M1 = Merchant("3c0b6a1e-52d4-4f7a-9b1e-7d2f00a1c001", "Foreign Books", 50.0, 30)
M2 = Merchant("3c0b6a1e-52d4-4f7a-9b1e-7d2f00a1c002", "Foreign Tea", 50.0, 30)
M3 = Merchant("3c0b6a1e-52d4-4f7a-9b1e-7d2f00a1c003", "Foreign Slow", 1.0, 2)

_TERMINALS = (
    Terminal(
        "8e4d1f60-0b7c-4c2a-a3e5-51c9e0f7d101",
        "books-web",
        M1,
        "sk_test_fbk001_5e3c9a7d21b84f06a1c2",
        "whsec_fbk001_0c7e61b2f94d",
    ),
    Terminal(
        "8e4d1f60-0b7c-4c2a-a3e5-51c9e0f7d102",
        "books-app",
        M1,
        "sk_test_fbk002_b71f02e6c35a49d88e10",
        "whsec_fbk002_7a1d5c0e93b2",
    ),
    Terminal(
        "8e4d1f60-0b7c-4c2a-a3e5-51c9e0f7d103",
        "books-signed",
        M1,
        "sk_test_fbk003_d4a8e2c6019f4b73b5e7",
        "whsec_fbk003_e25b8f1a6c40",
        requires_signature=True,
    ),
    Terminal(
        "8e4d1f60-0b7c-4c2a-a3e5-51c9e0f7d201",
        "tea-web",
        M2,
        "sk_test_ftea01_92c0f7b3a6d14e58c2af",
        "whsec_ftea01_4f90a2d7b1e3",
    ),
    Terminal(
        "8e4d1f60-0b7c-4c2a-a3e5-51c9e0f7d301",
        "slow-web",
        M3,
        "sk_test_fslw01_0a6e3d9c58b74f21d3b4",
        "whsec_fslw01_93c1e7a0d5f2",
    ),
)

TERMINALS: dict[str, Terminal] = {t.key: t for t in _TERMINALS}

CREDENTIALS: dict[str, str] = {
    "freefin_key": _TERMINALS[0].key,
    "freefin_signing_secret": _TERMINALS[0].signing_secret,
    "freefin_key_2": _TERMINALS[1].key,
    "freefin_signed_key": _TERMINALS[2].key,
    "freefin_signed_secret": _TERMINALS[2].signing_secret,
    "freefin_key_b": _TERMINALS[3].key,
    "freefin_limited_key": _TERMINALS[4].key,
}

BANKS: tuple[tuple[str, str, str], ...] = (
    ("100000000111", "Сбербанк", "Sberbank"),
    ("100000000004", "Т-Банк", "T-Bank"),
    ("100000000005", "Банк ВТБ", "VTB Bank"),
    ("100000000008", "Альфа-Банк", "Alfa-Bank"),
    ("100000000001", "Газпромбанк", "Gazprombank"),
    ("100000000007", "Райффайзенбанк", "Raiffeisenbank"),
    ("100000000010", "Промсвязьбанк", "Promsvyazbank"),
    ("100000000012", "Росбанк", "Rosbank"),
    ("100000000013", "Совкомбанк", "Sovcombank"),
    ("100000000015", "Банк Открытие", "Otkritie Bank"),
    ("100000000016", "Почта Банк", "Pochta Bank"),
    ("100000000017", "МТС-Банк", "MTS Bank"),
    ("100000000018", "ОТП Банк", "OTP Bank"),
    ("100000000020", "Россельхозбанк", "Rosselkhozbank"),
    ("100000000025", "Московский кредитный банк", "Credit Bank of Moscow"),
    ("100000000026", "Банк Уралсиб", "Bank Uralsib"),
    ("100000000027", "Кредит Европа Банк", "Credit Europe Bank"),
    ("100000000029", "Банк Санкт-Петербург", "Bank Saint Petersburg"),
    ("100000000006", "Ак Барс Банк", "Ak Bars Bank"),
    ("100000000014", "Банк Русский Стандарт", "Russian Standard Bank"),
    ("100000000024", "Хоум Кредит Банк", "Home Credit Bank"),
    ("100000000032", "Ренессанс Кредит", "Renaissance Credit"),
    ("100000000041", "БКС Банк", "BCS Bank"),
    ("100000000049", "Банк Зенит", "Bank Zenit"),
    ("100000000050", "Банк Левобережный", "Bank Levoberezhny"),
    ("100000000095", "Абсолют Банк", "Absolut Bank"),
    ("100000000150", "Яндекс Банк", "Yandex Bank"),
    ("100000000259", "Вайлдберриз Банк", "Wildberries Bank"),
    ("100000000273", "Озон Банк", "Ozon Bank"),
    ("100000000286", "Банк ДОМ.РФ", "DOM.RF Bank"),
)

BANK_IDS: frozenset[str] = frozenset(member_id for member_id, _, _ in BANKS)


def bank_items(short_ids: bool = False) -> list[dict[str, str]]:
    """Return the directory as listSBPBanks items; ``short_ids`` cuts member_id to 10 digits."""
    return [
        {"member_id": member_id[2:] if short_ids else member_id, "name": name, "name_en": name_en}
        for member_id, name, name_en in BANKS
    ]
