"""The exam's cut of an event stream: it ends right after the first event, whether that event
came in a chunk of its own or with others."""

from __future__ import annotations

from simulator.grading.exam import cut_after_first_event

FIRST = "id: 7\nevent: payment.created\ndata: {}\n\n"
SECOND = "id: 8\nevent: payment.succeeded\ndata: {}\n\n"


def test_the_cut_comes_after_the_first_event_of_a_chunk_holding_several() -> None:
    sent = list(cut_after_first_event(iter([": connected\n\n", "", FIRST + SECOND, ": ping\n\n"])))
    assert "".join(sent) == ": connected\n\n" + FIRST


def test_the_cut_keeps_bytes_as_bytes() -> None:
    sent = list(cut_after_first_event(iter([b": connected\n\n", (FIRST + SECOND).encode()])))
    assert sent == [b": connected\n\n", FIRST.encode()]
