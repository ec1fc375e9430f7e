"""Text that every encoder can write: lone surrogates shown as U+FFFD.

A JSON escape such as ``"\\ud800"`` decodes to a Python string no UTF-8 encoder will
write. The trigger refuses such deliveries at the door, but a record stored by an
earlier release may hold one; whatever serves a record (the API, the dashboard, the
CLI) passes it through :func:`valid_unicode` so one such record cannot fail a page.

Contract: ``valid_unicode(value)`` returns ``value`` with every lone surrogate in
every string (dict keys and values, list and tuple items, nested) replaced by
U+FFFD; anything else is returned as it is. Strings without one are returned
unchanged (the same object), so the common case costs one regex scan.
"""

from __future__ import annotations

import re
from typing import Any, TypeVar

__all__ = ["REPLACEMENT", "valid_unicode"]

REPLACEMENT = "\ufffd"
_SURROGATE = re.compile("[\ud800-\udfff]")
T = TypeVar("T")


def valid_unicode(value: T) -> T:
    """``value`` with lone surrogates replaced by U+FFFD; see the module docstring."""
    return _clean(value)  # type: ignore[no-any-return]


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return _SURROGATE.sub(REPLACEMENT, value) if _SURROGATE.search(value) else value
    if isinstance(value, dict):
        return {_clean(key): _clean(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_clean(item) for item in value]
    if isinstance(value, tuple):
        return tuple(_clean(item) for item in value)
    return value
