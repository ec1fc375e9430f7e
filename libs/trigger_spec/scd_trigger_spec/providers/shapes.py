"""The fields a provider reads from a payload, and a decoder that builds only those.

A ``Shape`` mirrors the part of a JSON payload a provider's ``parse`` reads: a dict
maps each key read to the shape of its value, ``None`` is a value read whole, and a
one-item list is a list whose items have that shape.

Contract: ``PartialDecoder(shape).decode(body)`` gives what ``json.loads(body)``
would, less every key the shape does not name, the last of duplicate keys
winning as with ``json``. It raises ``ValueError`` for a body that is not a JSON
object, not JSON, nested deeper than the parser goes, or holding a value of
another type than its shape (a string where an object is read; ``null`` is
allowed wherever an object or a list is): the caller then decodes the whole body,
whose readers decide about odd values as they always do. A decoder is built on
first use (pydantic builds a schema for it), not at import.

Why: the trigger decides on a dozen fields of a 9 KB push; the parser still reads
every byte (in Rust), but builds Python objects only for what is read.
"""

from __future__ import annotations

from typing import Any, TypeAlias

from pydantic import TypeAdapter
from typing_extensions import TypedDict

__all__ = ["PartialDecoder", "Shape"]

Shape: TypeAlias = dict[str, "Shape"] | list["Shape"] | None


class PartialDecoder:
    """Decodes a JSON object keeping only what ``shape`` names (see module doc)."""

    def __init__(self, shape: dict[str, Shape]) -> None:
        self.shape = shape
        self._adapter: TypeAdapter[dict[str, Any]] | None = None

    def decode(self, body: bytes) -> dict[str, Any]:
        """The object ``body`` holds, only the shape's keys; ``ValueError`` if it cannot."""
        adapter = self._adapter
        if adapter is None:  # two threads may both build it: the same decoder either way
            adapter = self._adapter = TypeAdapter(_object_type(self.shape, "Payload"))
        return adapter.validate_json(body)


def _object_type(shape: dict[str, Shape], name: str) -> Any:
    fields = {key: _value_type(value, f"{name}_{key}") for key, value in shape.items()}
    return TypedDict(name, fields, total=False)  # type: ignore[operator]


def _value_type(shape: Shape, name: str) -> Any:
    if shape is None:
        return Any
    if isinstance(shape, list):
        kind: Any = list[_value_type(shape[0], f"{name}_item")]  # type: ignore[misc]
    else:
        kind = _object_type(shape, name)
    return kind | None
