"""JSON pointers (RFC 6901) into the seed documents: escapes, indices and YAML's integer keys."""

from __future__ import annotations

import pytest

from harness.pointer import resolve

DOC = {
    "paths": {"/payments/{id}": {"get": {"responses": {200: "ok", "404": "gone"}}}},
    "a~b": ["zero", "one"],
}


def test_escaped_parts_indices_and_integer_keys() -> None:
    assert resolve(DOC, "/paths/~1payments~1{id}/get/responses/200") == "ok"
    assert resolve(DOC, "/paths/~1payments~1{id}/get/responses/404") == "gone"
    assert resolve(DOC, "/a~0b/1") == "one"
    assert resolve(DOC, "") == DOC


@pytest.mark.parametrize("pointer", ["/paths/missing", "/a~0b/2", "/a~0b/x", "/a~1b"])
def test_a_missing_part_is_named(pointer: str) -> None:
    with pytest.raises(KeyError, match="no '"):
        resolve(DOC, pointer)
