"""Realistic request bodies made with Faker: shops in Russia (freefin) and Kazakhstan (Kaspi).

Amounts are integers of minor units for freefin and whole tenge for Kaspi (its spec takes a
number and answers ``"10000.00"``). The scripted outcomes of the simulator ride in freefin's
``metadata`` (``sim_outcome``, ``sim_delay_ms``) and in Kaspi's description (``[sim:paid]``,
``[sim_delay_ms:1200]``); another implementation takes them as plain data.
"""

from __future__ import annotations

import json
import random
import uuid
from typing import Any

from faker import Faker

fake = Faker("ru_RU")

# What a shop's customers do, by share: most pay, some are declined, some walk away.
FREEFIN_OUTCOMES = (("succeeded", 0.80), ("failed:insufficient_funds", 0.10), ("pending", 0.10))
FREEFIN_METHODS = (("sbp", 0.45), ("cards", 0.40), ("any", 0.15))
# Kaspi: a failed payment shows as canceled; a pending one is cancelled by the shop.
KASPI_OUTCOMES = (("paid", 0.80), ("failed", 0.08), ("pending", 0.07), ("canceled", 0.05))
KASPI_CITIES = ((43.238949, 76.889709), (51.128207, 71.430411), (42.341685, 69.590101))


def encode(body: dict[str, Any]) -> bytes:
    """The exact bytes sent (and, for freefin, signed), in one of the forms clients produce.

    Compact UTF-8 (JavaScript, Go), spaced with ``\\u`` escapes (Python's default, PHP): a
    server must check a signature against the bytes it received, whatever their form.
    """
    if random.random() < 0.5:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode()
    return json.dumps(body).encode()


def weighted(choices: tuple[tuple[str, float], ...]) -> str:
    """One value drawn by weight."""
    values, weights = zip(*choices, strict=True)
    return random.choices(values, weights)[0]


def order_id() -> str:
    return f"ORD-{uuid.uuid4().hex[:12].upper()}"


def freefin_payment() -> dict[str, Any]:
    """A checkout: amount 100-25,000 RUB, a method, the customer and the planned outcome."""
    outcome = weighted(FREEFIN_OUTCOMES)
    return {
        "amount": random.randint(100, 25_000) * 100,
        "currency": "RUB",
        "method": weighted(FREEFIN_METHODS),
        "order_id": order_id(),
        "customer_id": f"user-{random.randint(1, 500_000)}",
        "description": f"{fake.word().capitalize()} · {fake.catch_phrase()}"[:120],
        "return_url": f"https://{fake.domain_name()}/orders/done",
        "metadata": {"sim_outcome": outcome, "sim_delay_ms": str(random.randint(300, 2500))},
    }


def freefin_payout(bank_ids: list[str]) -> dict[str, Any]:
    """A payout over SBP to a person's phone (+7 and 10 digits) at a directory bank."""
    return {
        "amount": random.randint(500, 50_000) * 100,
        "currency": "RUB",
        "method": "payouts_sbp",
        "phone": "+79" + "".join(random.choices("0123456789", k=9)),
        "bank_id": random.choice(bank_ids),
        "full_name": fake.name(),
    }


def kaspi_phone() -> str:
    """A Kazakh mobile number as Kaspi takes it: 7 and 10 digits (7 70X ...)."""
    return "770" + random.choice("0125678") + "".join(random.choices("0123456789", k=7))


def kaspi_invoice() -> tuple[dict[str, Any], str]:
    """An invoice body and its planned outcome (a ``[sim:...]`` marker in the description)."""
    outcome = weighted(KASPI_OUTCOMES)
    delay = random.randint(300, 2500)
    body = {
        "amount": random.randint(5, 2_000) * 100,
        "phone_number": kaspi_phone(),
        "description": f"Заказ {fake.word()} [sim:{outcome}] [sim_delay_ms:{delay}]",
        "external_order_id": order_id().lower(),
        "is_sandbox": True,
    }
    return body, outcome


def kaspi_qr() -> dict[str, Any]:
    lat, lon = random.choice(KASPI_CITIES)
    return {
        "amount": random.randint(5, 500) * 100,
        "comment": f"Касса {random.randint(1, 9)} · {fake.word()}",
        "external_order_id": order_id().lower(),
        "is_sandbox": True,
        "latitude": round(lat + random.uniform(-0.05, 0.05), 6),
        "longitude": round(lon + random.uniform(-0.05, 0.05), 6),
    }


def kaspi_subscription() -> dict[str, Any]:
    return {
        "phone_number": kaspi_phone(),
        "amount": random.choice((1_990, 2_990, 4_990, 9_990)),
        "billing_period": weighted((("monthly", 0.8), ("weekly", 0.1), ("yearly", 0.1))),
        "description": f"Абонемент {fake.word()}"[:100],
        "is_sandbox": True,
    }
