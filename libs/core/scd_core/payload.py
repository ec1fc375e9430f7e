"""``Payload``: an event's raw payload, a JSON object kept as delivered and parsed on first use.

Contract: a ``Payload`` is a read-only ``Mapping[str, Any]``, equal to any mapping
with the same items. ``Payload(value)`` holds a copy of a mapping;
``Payload.from_text(text)`` holds the JSON text of an object, which the caller
vouches is strict JSON (RFC 8259) whose value is an object, and parses it with
``json.loads`` the first time it is read; ``text`` is that text, or None. As a
pydantic field it validates from a ``Payload`` (kept as is) or any mapping with
string keys (copied, as ``dict[str, Any]`` would be), serialises as the dict it
holds, and its JSON schema is an object's.

Why: the trigger decides on a handful of fields, which it reads with a partial
decode, and stores the body as delivered. Building the whole object tree of a
9 KB push only to hold it took a sixth of the trigger's CPU time per webhook
under load, for a value nothing in the trigger reads.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING, Any

from pydantic_core import core_schema

if TYPE_CHECKING:
    from pydantic import GetCoreSchemaHandler

__all__ = ["Payload", "empty_payload"]


class Payload(Mapping[str, Any]):
    """A JSON object's items, from a mapping or from its text (parsed when first read)."""

    __slots__ = ("_text", "_value")

    def __init__(self, value: Mapping[str, Any] | None = None) -> None:
        self._text: str | None = None
        self._value: dict[str, Any] | None = {} if value is None else dict(value)

    @classmethod
    def from_text(cls, text: str) -> Payload:
        """The payload whose JSON text is ``text`` (strict JSON, an object), unparsed."""
        payload = cls.__new__(cls)
        payload._text = text
        payload._value = None
        return payload

    @property
    def text(self) -> str | None:
        """The JSON text it was made from, or None when made from a mapping."""
        return self._text

    def _items(self) -> dict[str, Any]:
        value = self._value
        if value is None:
            parsed = json.loads(self._text or "")
            if not isinstance(parsed, dict):
                raise ValueError("a payload's text must be a JSON object")
            value = self._value = parsed
        return value

    def __getitem__(self, key: str) -> Any:
        return self._items()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._items())

    def __len__(self) -> int:
        return len(self._items())

    def __contains__(self, key: object) -> bool:
        return key in self._items()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, Payload):
            if self._text is not None and self._text == other._text:
                return True
            return self._items() == other._items()
        if isinstance(other, Mapping):
            return self._items() == dict(other.items())
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # equal to dicts, which are unhashable

    def __repr__(self) -> str:
        return f"Payload({self._items()!r})"

    def __reduce__(self) -> tuple[type[Payload], tuple[dict[str, Any]]]:
        return (Payload, (self._items(),))

    @classmethod
    def __get_pydantic_core_schema__(
        cls, source: Any, handler: GetCoreSchemaHandler
    ) -> core_schema.CoreSchema:
        as_dict = core_schema.dict_schema(core_schema.str_schema(), core_schema.any_schema())
        return core_schema.no_info_plain_validator_function(
            _validate,
            json_schema_input_schema=as_dict,
            serialization=core_schema.plain_serializer_function_ser_schema(
                _serialise, return_schema=as_dict
            ),
        )


def empty_payload() -> Payload:
    """A new empty payload, as a pydantic ``default_factory`` (which must take no argument)."""
    return Payload()


def _validate(value: Any) -> Payload:
    if isinstance(value, Payload):
        return value
    if not isinstance(value, Mapping):
        raise ValueError("a payload must be an object")  # pydantic reports a ValueError
    if not all(isinstance(key, str) for key in value):
        raise ValueError("a payload's keys must be strings")
    return Payload(value)


def _serialise(value: Payload) -> dict[str, Any]:
    return value._items()
