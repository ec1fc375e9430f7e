"""Payload: an event's JSON object, kept as delivered text and parsed when first read."""

from __future__ import annotations

import copy
import json
import pickle

import pytest
from pydantic import ValidationError
from scd_core.models import Event
from scd_core.payload import Payload

TEXT = '{"ref": "refs/heads/main", "commits": [{"id": "a"}], "n": 1}'
VALUE = json.loads(TEXT)


def event(payload: object) -> Event:
    return Event(provider="github", event_name="push", payload=payload)


def test_a_payload_from_text_reads_as_the_object_the_text_holds() -> None:
    payload = Payload.from_text(TEXT)
    assert payload.text == TEXT
    assert payload["ref"] == "refs/heads/main"
    assert dict(payload) == VALUE
    assert len(payload) == 3
    assert "commits" in payload
    assert "absent" not in payload
    assert payload.get("absent") is None


def test_a_payload_equals_any_mapping_with_the_same_items() -> None:
    from_text, from_value = Payload.from_text(TEXT), Payload(VALUE)
    assert from_text == from_value == VALUE
    assert from_text == VALUE
    assert from_text == Payload.from_text(json.dumps(VALUE, indent=2))  # other text, same value
    assert from_text != Payload({"ref": "other"})
    assert from_text != [("ref", "refs/heads/main")]
    assert from_value.text is None


def test_a_payload_is_read_only_and_unhashable() -> None:
    payload = Payload.from_text(TEXT)
    with pytest.raises(TypeError):
        payload["ref"] = "x"  # type: ignore[index]
    with pytest.raises(TypeError):
        hash(payload)


def test_a_text_that_is_not_an_object_fails_when_first_read() -> None:
    payload = Payload.from_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        len(payload)


def test_an_event_copies_a_mapping_it_is_given() -> None:
    source = {"n": 1}
    made = event(source)
    source["n"] = 2
    assert isinstance(made.payload, Payload)
    assert made.payload == {"n": 1}


def test_an_event_keeps_a_payload_it_is_given_as_is() -> None:
    payload = Payload.from_text(TEXT)
    assert event(payload).payload is payload


@pytest.mark.parametrize("bad", [[1, 2], "text", {1: "not a string key"}])
def test_an_event_refuses_a_payload_that_is_not_an_object_with_string_keys(bad: object) -> None:
    with pytest.raises(ValidationError):
        event(bad)


def test_an_event_serialises_its_payload_as_the_object() -> None:
    made = event(Payload.from_text(TEXT))
    assert made.model_dump()["payload"] == VALUE
    assert json.loads(made.model_dump_json())["payload"] == VALUE
    assert Event.model_validate_json(made.model_dump_json()) == made
    assert event({}).model_dump()["payload"] == {}


def test_the_json_schema_of_a_payload_is_an_object() -> None:
    for mode in ("validation", "serialization"):
        schema = Event.model_json_schema(mode=mode)  # type: ignore[arg-type]
        assert schema["properties"]["payload"]["type"] == "object"


def test_copies_and_pickles_of_a_payload_are_equal_and_independent() -> None:
    payload = Payload.from_text(TEXT)
    deep = copy.deepcopy(payload)
    deep["commits"][0]["id"] = "changed"
    assert payload["commits"][0]["id"] == "a"
    assert copy.copy(payload) == payload
    assert pickle.loads(pickle.dumps(payload)) == payload
