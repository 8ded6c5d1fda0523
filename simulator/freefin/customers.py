"""Customer details of a paid payment, from Faker's ru_RU locale, reproducible from a seed."""

from __future__ import annotations

import hashlib
import random
import threading

from faker import Faker

from simulator.freefin.banks import BANKS
from simulator.freefin.models import Customer

_faker = Faker("ru_RU")
_lock = threading.Lock()
CARD_BRANDS = ("visa", "mastercard", "mir")
_BINS = {"visa": "411111", "mastercard": "555555", "mir": "220220"}


def _seed(text: str) -> int:
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big")


def customer(payment_id: str, method: str, seed: int = 0) -> Customer:
    """The customer fields a payment shows once paid; the same for the same id and seed."""
    rnd = random.Random(_seed(f"{seed}:{payment_id}"))
    kind = method if method != "any" else rnd.choice(("cards", "sbp"))
    with _lock:
        _faker.seed_instance(_seed(f"{seed}:{payment_id}:faker"))
        holder = f"{_faker.first_name_male()} {_faker.last_name_male()}"
        phone = _faker.numerify("9#########")
    if kind in ("sbp", "sberpay"):
        bank = "Сбербанк" if kind == "sberpay" else rnd.choice(BANKS[:12])["name"]
        return {
            "customer_phone_mask": f"+7•••••••{phone[-4:-2]}-{phone[-2:]}",
            "customer_payer_bank": bank,
        }
    brand = rnd.choice(CARD_BRANDS)
    last4 = f"{rnd.randrange(10000):04d}"
    return {
        "customer_card_brand": brand,
        "customer_card_mask": f"{_BINS[brand]}******{last4}",
        "customer_card_holder": holder.upper(),
    }


def rrn(payment_id: str, seed: int = 0) -> str:
    return f"{_seed(f'{seed}:{payment_id}:rrn') % 10**12:012d}"
