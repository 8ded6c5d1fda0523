"""The SBP bank directory: thirty large NSPK participants and their 12-digit member ids."""

from __future__ import annotations

BANKS: tuple[tuple[str, str, str], ...] = (
    ("100000000111", "Сбербанк", "Sberbank"),
    ("100000000005", "Банк ВТБ", "VTB Bank"),
    ("100000000004", "Т-Банк", "T-Bank"),
    ("100000000008", "Альфа-Банк", "Alfa-Bank"),
    ("100000000001", "Газпромбанк", "Gazprombank"),
    ("100000000007", "Райффайзенбанк", "Raiffeisenbank"),
    ("100000000015", "Банк Открытие", "Otkritie Bank"),
    ("100000000020", "Россельхозбанк", "Rosselkhozbank"),
    ("100000000013", "Совкомбанк", "Sovcombank"),
    ("100000000016", "Почта Банк", "Pochta Bank"),
    ("100000000010", "Промсвязьбанк", "Promsvyazbank"),
    ("100000000012", "Росбанк", "Rosbank"),
    ("100000000017", "МТС Банк", "MTS Bank"),
    ("100000000024", "Хоум Кредит Банк", "Home Credit Bank"),
    ("100000000006", "Ак Барс Банк", "Ak Bars Bank"),
    ("100000000026", "Банк Уралсиб", "Uralsib Bank"),
    ("100000000029", "Банк Санкт-Петербург", "Bank Saint Petersburg"),
    ("100000000014", "Банк Русский Стандарт", "Russian Standard Bank"),
    ("100000000022", "ЮMoney", "YooMoney"),
    ("100000000018", "ОТП Банк", "OTP Bank"),
    ("100000000032", "Ренессанс Кредит", "Renaissance Credit"),
    ("100000000273", "Озон Банк", "Ozon Bank"),
    ("100000000150", "Яндекс Банк", "Yandex Bank"),
    ("100000000025", "Московский Кредитный Банк", "Credit Bank of Moscow"),
    ("100000000082", "Банк ДОМ.РФ", "DOM.RF Bank"),
    ("100000000027", "Кредит Европа Банк", "Credit Europe Bank"),
    ("100000000047", "Абсолют Банк", "Absolut Bank"),
    ("100000000177", "Новикомбанк", "Novikombank"),
    ("100000000259", "Вайлдберриз Банк", "Wildberries Bank"),
    ("100000000284", "Точка", "Tochka"),
)

BY_ID = {member_id: name for member_id, name, _ in BANKS}


def directory() -> list[dict[str, str]]:
    return [{"member_id": m, "name": n, "name_en": e} for m, n, e in BANKS]
