"""accept's fast JSON decoding answers exactly what ``json.loads`` answers."""

from __future__ import annotations

import json
import math
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scd_trigger_spec.accept import _loads

_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _json_answer(data: bytes | str) -> Any:
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as exc:
        return type(exc)


def _our_answer(data: bytes | str) -> Any:
    try:
        return _loads(data)
    except (ValueError, RecursionError) as exc:
        return type(exc)


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(theirs, type):  # json refused it: so must we, with json's error
        return ours is theirs
    return json.dumps(ours, sort_keys=True) == json.dumps(theirs, sort_keys=True)


@given(_JSON, st.booleans())
def test_decoding_valid_json_gives_the_value_json_gives(value: Any, ascii_only: bool) -> None:
    text = json.dumps({"v": value}, ensure_ascii=ascii_only)
    assert _same(_loads(text.encode("utf-8")), json.loads(text))


@given(st.binary(max_size=64))
def test_decoding_any_bytes_answers_or_fails_as_json_does(data: bytes) -> None:
    assert _same(_our_answer(data), _json_answer(data))


@pytest.mark.parametrize(
    "data",
    [
        b'{"a": 1, "a": 2}',
        b'{"x": "\\ud800"}',
        b'\xef\xbb\xbf{"bom": true}',
        '{"utf16": 1}'.encode("utf-16"),
        b'{"n": ' + b"1" * 5000 + b"}",
        b'{"deep": ' + b"[" * 500 + b"]" * 500 + b"}",
        b'{"deep": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
        b'{"a": 1,}',
        b'{"a": "\xff"}',
    ],
)
def test_edge_inputs_decode_or_fail_as_json_does(data: bytes) -> None:
    assert _same(_our_answer(data), _json_answer(data))


def test_non_finite_numbers_decode_as_json_decodes_them() -> None:
    value = _loads(b'{"a": NaN, "b": Infinity, "c": 1e400}')
    assert math.isnan(value["a"])
    assert value["b"] == value["c"] == math.inf
