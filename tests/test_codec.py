"""The JSON writer: orjson's output where it can, the standard library's where it cannot."""

from __future__ import annotations

import json

from simulator.core import codec
from simulator.core.clock import iso


def test_compact_utf8_text() -> None:
    value = {"a": 1, "b": [1.5, None, True], "name": "Алматы ☕"}
    assert codec.dumps(value) == '{"a":1,"b":[1.5,null,true],"name":"Алматы ☕"}'
    assert codec.dumpb(value) == codec.dumps(value).encode("utf-8")


def test_integers_beyond_64_bits_keep_every_digit() -> None:
    big = 10**30 + 7  # orjson refuses it; the strict parser admits it inside metadata
    assert json.loads(codec.dumps({"n": big}))["n"] == big
    assert json.loads(codec.dumpb([big]))[0] == big


def test_iso_renders_milliseconds_and_carries_the_second() -> None:
    assert iso(0) == "1970-01-01T00:00:00.000Z"
    assert iso(1733000000.9999) == "2024-11-30T20:53:20.999Z"
    assert iso(1733000001.0) == "2024-11-30T20:53:21.000Z"
    assert iso(1733000000.5) == "2024-11-30T20:53:20.500Z"  # back to an earlier second
    assert iso(4102444800.001) == "2100-01-01T00:00:00.001Z"
