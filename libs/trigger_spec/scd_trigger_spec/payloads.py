"""Reading a delivery's payload from its body: whole, or only the fields a provider reads.

Contract: ``decode_whole(headers, body)`` returns the payload object (JSON, or GitHub's
form-encoded ``payload=``) and its text when that is strict JSON (RFC 8259, UTF-8), else
None; it raises ``BadRequest`` for anything but a JSON object, and for one holding a
lone surrogate escape (naming the field). ``decode_fields(decoder,
headers, body)`` returns only the fields ``decoder`` keeps and the body's text, or None
when the body must be decoded whole; where it answers, the fields equal those of
``decode_whole``'s object. ``headers`` have lower-case names.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import parse_qs

from pydantic_core import from_json
from scd_core.errors import BadRequest

from scd_trigger_spec.providers.shapes import PartialDecoder
from scd_trigger_spec.spec import lone_surrogate

__all__ = ["decode_fields", "decode_whole", "may_hold_nan_or_infinity"]

_FORM = "application/x-www-form-urlencoded"


def _is_form(headers: Mapping[str, str]) -> bool:
    return headers.get("content-type", "").split(";", 1)[0].strip().lower() == _FORM


def _loads(data: bytes | str) -> tuple[Any, str | None]:
    """``json.loads(data)``, in about half the time for the JSON that webhooks carry, and
    ``data`` as text when it is strict JSON (RFC 8259: no NaN or Infinity, UTF-8).

    pydantic-core's parser gives the same value as ``json`` wherever it succeeds (last
    duplicate key wins); what it refuses (NaN and Infinity here, a lone surrogate escape, a
    BOM, UTF-16, very deep nesting) ``json`` decides, so the answer is always ``json``'s,
    except that a lone surrogate escape (``"\\ud800"`` without its pair) is ``BadRequest``
    naming its field: such text is no Unicode string, so nothing downstream (a store, a
    JSON answer, a log) could carry it faithfully.
    """
    try:
        value = from_json(data, allow_inf_nan=False)
    except ValueError:
        value = json.loads(data)
        where = lone_surrogate(value)
        if where is not None:
            raise BadRequest(
                f"payload field '{where}' holds a lone surrogate escape (\\ud800-\\udfff "
                "without its pair): JSON text must be valid Unicode"
            ) from None
        return value, None
    try:
        return value, data if isinstance(data, str) else data.decode("utf-8")
    except UnicodeDecodeError:
        return value, None


def decode_whole(headers: Mapping[str, str], body: bytes) -> tuple[dict[str, Any], str | None]:
    """The payload object, parsed once, and its strict JSON text if it has one;
    ``BadRequest`` for anything but a JSON object."""
    try:
        if _is_form(headers):
            form = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100)
            if "payload" not in form:
                raise BadRequest("form-encoded body has no 'payload' field")
            payload, text = _loads(form["payload"][0])
        else:
            payload, text = _loads(body)
    except (ValueError, RecursionError) as exc:
        raise BadRequest("body is not valid JSON") from exc
    if not isinstance(payload, dict):
        raise BadRequest("body is not a JSON object")
    return payload, text


def decode_fields(
    decoder: PartialDecoder, headers: Mapping[str, str], body: bytes
) -> tuple[dict[str, Any], str] | None:
    """The fields ``decoder`` keeps and the body's text, or None when the body must be
    decoded whole: a form, text that is not UTF-8 or not strict JSON (NaN, Infinity: the
    partial decoder would take them), anything the decoder refuses."""
    if _is_form(headers) or may_hold_nan_or_infinity(body):
        return None
    try:
        return decoder.decode(body), body.decode("utf-8")
    except ValueError:  # UnicodeDecodeError and pydantic's ValidationError among them
        return None


# (token, its first byte): looked for with bytes.find of one byte, which is memchr, where
# ``b"NaN" in body`` took as long as the partial decode itself
_NON_STANDARD = ((b"NaN", b"N"), (b"Infinity", b"I"))
_LOOKS = 64


def may_hold_nan_or_infinity(body: bytes) -> bool:
    """False only when ``body`` holds neither ``NaN`` nor ``Infinity`` (JSON has no such
    tokens; Python's ``json`` writes them); after ``_LOOKS`` near misses it says True."""
    looks = 0
    for token, first in _NON_STANDARD:
        at = body.find(first)
        while at != -1:
            looks += 1
            if looks > _LOOKS or body.startswith(token, at):
                return True
            at = body.find(first, at + 1)
    return False
