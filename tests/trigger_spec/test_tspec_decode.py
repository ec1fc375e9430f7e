"""accept's fast JSON decoding answers exactly what ``json.loads`` answers, and hands on the
body's text only where it is strict JSON that any JSON reader (SQLite's included) accepts."""

from __future__ import annotations

import json
import math
import sqlite3
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from scd_core.errors import BadRequest
from scd_trigger_spec.payloads import _loads
from scd_trigger_spec.spec import lone_surrogate

_JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _json_answer(data: bytes | str) -> Any:
    """json's answer, except that a lone surrogate escape is refused (not Unicode text)."""
    try:
        value = json.loads(data)
    except (ValueError, RecursionError) as exc:
        return type(exc)
    return BadRequest if lone_surrogate(value) is not None else value


def _our_answer(data: bytes | str) -> Any:
    try:
        return _loads(data)[0]
    except (ValueError, RecursionError, BadRequest) as exc:
        return type(exc)


def _same(ours: Any, theirs: Any) -> bool:
    if isinstance(theirs, type):  # json refused it: so must we, with json's error
        return ours is theirs
    return json.dumps(ours, sort_keys=True) == json.dumps(theirs, sort_keys=True)


@given(_JSON, st.booleans())
def test_decoding_valid_json_gives_the_value_json_gives(value: Any, ascii_only: bool) -> None:
    text = json.dumps({"v": value}, ensure_ascii=ascii_only)
    value_read, text_read = _loads(text.encode("utf-8"))
    assert _same(value_read, json.loads(text))
    assert text_read == text  # strict JSON: the text is handed on as it came


def _strict_where_handed_on(data: bytes | str) -> None:
    try:
        value, text = _loads(data)
    except (ValueError, RecursionError, BadRequest):
        return
    if text is None:
        return
    assert _same(json.loads(text), value)
    with sqlite3.connect(":memory:") as db:
        assert db.execute("SELECT json_valid(?)", (text,)).fetchone()[0] == 1


@given(st.binary(max_size=64))
def test_text_handed_on_is_strict_json_of_the_same_value(data: bytes) -> None:
    _strict_where_handed_on(data)


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
    _strict_where_handed_on(data)


def test_non_finite_numbers_decode_as_json_decodes_them() -> None:
    value, text = _loads(b'{"a": NaN, "b": Infinity, "c": 1e400}')
    assert math.isnan(value["a"])
    assert value["b"] == value["c"] == math.inf
    assert text is None  # not JSON a strict reader accepts: never stored as it came


@pytest.mark.parametrize(
    ("data", "field"),
    [
        (b'{"x": "\\ud800"}', "x"),
        (b'{"head_commit": {"message": "x\\ud800y"}}', "head_commit.message"),
        (b'{"ref": "refs/heads/\\udfff"}', "ref"),
        (b'{"commits": [{"added": ["ok", "\\udc00"]}]}', "commits[0].added[1]"),
    ],
)
def test_a_lone_surrogate_escape_is_refused_naming_its_field(data: bytes, field: str) -> None:
    with pytest.raises(BadRequest) as caught:
        _loads(data)
    assert f"payload field '{field}' holds a lone surrogate escape" in str(caught.value)


def test_a_surrogate_pair_escape_is_one_character_and_accepted() -> None:
    value, text = _loads(b'{"x": "\\ud83d\\ude00"}')
    assert value == {"x": "\U0001f600"}
    assert text is not None
