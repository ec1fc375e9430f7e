"""Values and GitHub's coercion rules.

Expression values are plain Python data: ``None`` (Null), ``bool`` (Boolean), ``int`` or
``float`` (Number, an IEEE double), ``str`` (String), any ``Mapping`` (Object) and any
non-string ``Sequence`` (Array). Rules follow GitHub Actions (actions/runner and
actions/languageservices): strings convert to numbers as JavaScript's ``Number(s)`` does,
numbers print rounded to 15 decimals in JavaScript's shortest form, string comparison ignores
case, and objects and arrays compare by identity.
"""

from __future__ import annotations

import decimal
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "FilteredArray",
    "equals",
    "greater_than",
    "is_array",
    "is_object",
    "is_primitive",
    "js_number_text",
    "kind_of",
    "less_than",
    "lookup",
    "number_text",
    "strict_equals",
    "to_bool",
    "to_json",
    "to_number",
    "to_text",
    "upper_special",
]

# JavaScript's StrWhiteSpaceChar: what Number() trims and what /\s/ matches.
JS_WHITESPACE = frozenset(
    "\t\n\v\f\r \u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009"
    "\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"
)
_WS = "".join(sorted(JS_WHITESPACE))
_DECIMAL = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_RADIX = {"x": (16, "0123456789abcdefABCDEF"), "o": (8, "01234567"), "b": (2, "01")}


class FilteredArray(list[Any]):
    """The result of a ``*`` filter: a new array whose further indexing maps over its items."""


# Exact-type fast paths first: ABC isinstance checks dominate evaluation time otherwise.
_SCALARS = (str, int, float, bool, type(None))
_NOT_ARRAY = (str, bytes, bytearray, int, float, bool, type(None), dict)


def is_object(value: Any) -> bool:
    if isinstance(value, dict):
        return True
    return not isinstance(value, _SCALARS) and isinstance(value, Mapping)


def is_array(value: Any) -> bool:
    if isinstance(value, (list, tuple)):
        return True
    return not isinstance(value, _NOT_ARRAY) and isinstance(value, Sequence)


def is_primitive(value: Any) -> bool:
    """Null, Boolean, Number or String (anything that is not an Object or Array)."""
    if isinstance(value, _SCALARS):
        return True
    return not (is_object(value) or is_array(value))


def kind_of(value: Any) -> str:
    """The kind name GitHub reports: Null, Boolean, Number, String, Array or Object."""
    if value is None:
        return "Null"
    if isinstance(value, bool):
        return "Boolean"
    if isinstance(value, (int, float)):
        return "Number"
    if isinstance(value, str):
        return "String"
    if is_object(value):
        return "Object"
    if is_array(value):
        return "Array"
    return "String"  # foreign objects read as their text, see to_text


def js_string_to_number(text: str) -> float:
    """JavaScript's ``Number(text)``: trims, '' → 0, hex/octal/binary prefixes, NaN if invalid."""
    s = text.strip(_WS)
    if not s:
        return 0.0
    if s in ("Infinity", "+Infinity"):
        return math.inf
    if s == "-Infinity":
        return -math.inf
    if len(s) > 2 and s[0] == "0" and s[1].lower() in _RADIX:
        base, digits = _RADIX[s[1].lower()]
        if all(c in digits for c in s[2:]):
            return float(int(s[2:], base))
        return math.nan
    if _DECIMAL.fullmatch(s):
        return float(s)
    return math.nan


def to_number(value: Any) -> float:
    """Number conversion: null → 0, booleans → 0/1, strings as ``Number(s)``, others NaN."""
    if value is None:
        return 0.0
    if isinstance(value, bool):
        return 1.0 if value else 0.0
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        return js_string_to_number(value)
    if is_object(value) or is_array(value):
        return math.nan
    return js_string_to_number(str(value))


def js_number_text(x: float) -> str:
    """JavaScript's ``Number.prototype.toString()`` for a double (shortest round-trip digits)."""
    if math.isnan(x):
        return "NaN"
    if math.isinf(x):
        return "Infinity" if x > 0 else "-Infinity"
    if x == 0:
        return "0"
    sign = "-" if x < 0 else ""
    _, digit_tuple, exponent = decimal.Decimal(repr(abs(x))).as_tuple()
    digits = "".join(map(str, digit_tuple)).rstrip("0")
    assert isinstance(exponent, int)
    exponent += len(digit_tuple) - len(digits)
    k = len(digits)
    n = k + exponent  # value = 0.digits × 10^n
    if k <= n <= 21:
        body = digits + "0" * (n - k)
    elif 0 < n <= 21:
        body = digits[:n] + "." + digits[n:]
    elif -6 < n <= 0:
        body = "0." + "0" * (-n) + digits
    else:
        exp = n - 1
        mantissa = digits if k == 1 else digits[0] + "." + digits[1:]
        body = f"{mantissa}e{'+' if exp >= 0 else '-'}{abs(exp)}"
    return sign + body


def number_text(x: float) -> str:
    """GitHub's number → string: 0 → "0", else rounded to 15 decimals, shortest form."""
    x = float(x)
    if x == 0:
        return "0"
    if math.isnan(x) or math.isinf(x) or abs(x) >= 1e21:
        return js_number_text(x)
    # toFixed(15) rounds the exact binary value, ties away from zero.
    with decimal.localcontext() as ctx:
        ctx.prec = 80
        fixed = decimal.Decimal(x).quantize(decimal.Decimal(1).scaleb(-15), decimal.ROUND_HALF_UP)
    return js_number_text(float(fixed))


def to_text(value: Any) -> str:
    """String conversion used by ``render``: null → '', booleans lower case, numbers as GitHub
    prints them, arrays and objects as ``toJSON`` text."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return number_text(value)
    if isinstance(value, str):
        return value
    if is_object(value) or is_array(value):
        return to_json(value)
    return str(value)


def coerce_string(value: Any) -> str:
    """String conversion inside expressions: as ``to_text`` but Object/Array give their kind."""
    if is_object(value):
        return "Object"
    if is_array(value):
        return "Array"
    return to_text(value)


def to_bool(value: Any) -> bool:
    """GitHub truthiness: null, false, 0, NaN and '' are false; everything else is true."""
    if value is None:
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, (int, float)):
        return not (value == 0 or math.isnan(value))
    if isinstance(value, str):
        return len(value) > 0
    if is_object(value) or is_array(value):
        return True
    return len(str(value)) > 0


def upper_special(s: str) -> str:
    """Upper-case for case-insensitive comparison, leaving the dotless ı alone as GitHub does."""
    if "ı" not in s:
        return s.upper()
    return "ı".join(part.upper() for part in s.split("ı"))


def _utf16(s: str) -> bytes:
    # JavaScript and .NET order strings by UTF-16 code units; big-endian bytes preserve that order.
    return s.encode("utf-16-be", "surrogatepass")


def _coerce(left: Any, right: Any) -> tuple[Any, Any]:
    """Bring two values to one kind where GitHub does (numbers win over strings, booleans and
    null become numbers); objects and arrays are never converted."""
    lk, rk = kind_of(left), kind_of(right)
    if lk == rk:
        return left, right
    if lk == "Number" and rk == "String":
        return left, to_number(right)
    if lk == "String" and rk == "Number":
        return to_number(left), right
    if lk in ("Null", "Boolean"):
        return _coerce(to_number(left), right)
    if rk in ("Null", "Boolean"):
        return _coerce(left, to_number(right))
    return left, right


def strict_equals(left: Any, right: Any) -> bool:
    """JavaScript's ``===`` (serverless-cd's habit): no coercion, so values of two kinds
    differ; strings compare case-sensitively; NaN equals nothing; an object or an
    array equals only itself."""
    kind = kind_of(left)
    if kind != kind_of(right):
        return False
    if kind in ("Object", "Array"):
        return left is right
    if kind == "Number":
        return float(left) == float(right)
    return bool(left == right)


def equals(left: Any, right: Any) -> bool:
    """GitHub's ``==``: loose coercion, NaN equals nothing, strings ignore case."""
    lv, rv = _coerce(left, right)
    kind = kind_of(lv)
    if kind != kind_of(rv):
        return False
    if kind == "Null":
        return True
    if kind == "Number":
        return not (math.isnan(lv) or math.isnan(rv)) and float(lv) == float(rv)
    if kind == "String":
        return upper_special(to_text(lv)) == upper_special(to_text(rv))
    if kind == "Boolean":
        return bool(lv == rv)
    return lv is rv


def _order(left: Any, right: Any) -> int | None:
    """-1, 0 or 1 when the values are ordered after coercion; None when incomparable."""
    lv, rv = _coerce(left, right)
    kind = kind_of(lv)
    if kind != kind_of(rv):
        return None
    if kind == "Number":
        a, b = float(lv), float(rv)
        if math.isnan(a) or math.isnan(b):
            return None
        return (a > b) - (a < b)
    if kind == "String":
        x, y = _utf16(upper_special(to_text(lv))), _utf16(upper_special(to_text(rv)))
        return (x > y) - (x < y)
    if kind == "Boolean":
        return int(lv) - int(rv)
    return None


def greater_than(left: Any, right: Any) -> bool:
    return _order(left, right) == 1


def less_than(left: Any, right: Any) -> bool:
    return _order(left, right) == -1


def lookup(obj: Mapping[Any, Any], key: str) -> tuple[bool, Any]:
    """Case-insensitive key lookup; the first key that matches wins. Returns (found, value)."""
    if key in obj:
        return True, obj[key]
    folded = key.lower()
    for k, v in obj.items():
        if str(k).lower() == folded:
            return True, v
    return False, None


def to_json(value: Any) -> str:
    """``toJSON``: JSON with two-space indent, JavaScript number text, NaN/Infinity as null."""
    parts: list[str] = []
    _write_json(value, 0, parts)
    return "".join(parts)


def _write_json(value: Any, level: int, out: list[str]) -> None:
    if value is None:
        out.append("null")
    elif isinstance(value, bool):
        out.append("true" if value else "false")
    elif isinstance(value, (int, float)):
        x = float(value)
        out.append("null" if math.isnan(x) or math.isinf(x) else js_number_text(x))
    elif isinstance(value, str):
        out.append(_json_string(value))
    elif is_object(value) or is_array(value):
        items = list(value.items()) if is_object(value) else list(value)
        if not items:
            out.append("{}" if is_object(value) else "[]")
            return
        inner = "\n" + "  " * (level + 1)
        out.append("{" if is_object(value) else "[")
        for i, item in enumerate(items):
            out.append(inner if i == 0 else "," + inner)
            if is_object(value):
                out.append(_json_string(str(item[0])) + ": ")
                item = item[1]
            _write_json(item, level + 1, out)
        out.append("\n" + "  " * level + ("}" if is_object(value) else "]"))
    else:
        out.append(_json_string(str(value)))


_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def _json_string(text: str) -> str:
    """A JSON string literal as JSON.stringify writes it: non-ASCII kept, lone surrogates
    escaped (a Python str holds a surrogate only when it is unpaired)."""
    quoted = json.dumps(text, ensure_ascii=False)
    if _LONE_SURROGATE.search(quoted) is None:
        return quoted
    return _LONE_SURROGATE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)
