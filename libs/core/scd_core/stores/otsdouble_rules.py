"""The rules ``OtsDouble`` holds Tablestore's answers to: limits, value checks, column
conditions, key order and capacity units (the figures are sourced in ``otsdouble``)."""

from __future__ import annotations

import copy
from typing import Any, NoReturn

__all__ = [
    "CU_BYTES",
    "MAX_BATCH_GET",
    "MAX_DEFINED_COLUMNS",
    "MAX_PK_BYTES",
    "MAX_PK_COLUMNS",
    "MAX_RANGE_ROWS",
    "MAX_VALUE_BYTES",
    "MAX_WRITE_BYTES",
    "PK_TYPES",
    "Key",
    "attrs",
    "bound",
    "check_columns",
    "cu",
    "fail",
    "holds",
    "select",
    "size",
    "sort_key",
    "units",
    "utf8",
]

MAX_PK_COLUMNS = 4
MAX_PK_BYTES = 1024
MAX_VALUE_BYTES = 2 * 1024 * 1024
MAX_WRITE_BYTES = 4 * 1024 * 1024
MAX_DEFINED_COLUMNS = 32
MAX_RANGE_ROWS = 5000
MAX_BATCH_GET = 100
CU_BYTES = 4096
PK_TYPES = {"STRING": (str,), "INTEGER": (int,), "BINARY": (bytes, bytearray), "BOOLEAN": (bool,)}
_ATTR_TYPES = {**PK_TYPES, "DOUBLE": (float,)}

Key = tuple[Any, ...]


def fail(status: int, code: str, message: str) -> NoReturn:
    from tablestore import OTSServiceError

    raise OTSServiceError(status, code, message, "double")


def utf8(value: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        fail(400, "OTSParameterInvalid", "String value is not valid UTF-8.")


def check_columns(table: Any, columns: Any) -> list[tuple[str, Any]]:
    pairs = [(column[0], column[1]) for column in columns]
    for name, value in pairs:
        if not isinstance(value, (str, int, float, bool, bytes, bytearray)):
            fail(400, "OTSParameterInvalid", f"Unsupported type of column {name}.")
        raw = utf8(value) if isinstance(value, str) else value
        if isinstance(raw, (bytes, bytearray)) and len(raw) > MAX_VALUE_BYTES:
            fail(400, "OTSParameterInvalid", f"The length of attribute column {name} exceeds 2 MB.")
        kind = table.defined.get(name)
        if kind is not None and (
            not isinstance(value, _ATTR_TYPES[kind])
            or (isinstance(value, bool) != (kind == "BOOLEAN"))
        ):
            fail(400, "OTSParameterInvalid", f"Column {name} must be {kind}.")
    return [(n, bytes(v) if isinstance(v, bytearray) else v) for n, v in pairs]


def holds(condition: Any, columns: dict[str, Any]) -> bool:
    subs = getattr(condition, "sub_conditions", None)
    if subs is not None:
        results = [holds(sub, columns) for sub in subs]
        combinator = condition.combinator
        if combinator == 1:  # AND
            return all(results)
        return any(results) if combinator == 2 else not results[0]
    name = condition.column_name
    if name not in columns:
        return bool(condition.pass_if_missing)
    stored, given, op = columns[name], condition.column_value, condition.comparator
    if type(stored) is not type(given) and not (
        isinstance(stored, (bytes, bytearray)) and isinstance(given, (bytes, bytearray))
    ):
        return bool(op == 1)
    tests = (
        stored == given,
        stored != given,
        stored > given,
        stored >= given,
        stored < given,
        stored <= given,
    )
    return bool(tests[op])


def sort_key(key: Any) -> tuple[tuple[int, Any], ...]:
    from tablestore import INF_MAX, INF_MIN

    return tuple((0, 0) if v is INF_MIN else (2, 0) if v is INF_MAX else (1, v) for v in key)


def bound(names: list[str], primary_key: Any) -> Key:
    given = [(column[0], column[1]) for column in primary_key]
    if [name for name, _ in given] != names:
        fail(400, "OTSParameterInvalid", "Validate PK name fail.")
    return tuple(value for _, value in given)


def select(columns: dict[str, Any], wanted: Any) -> dict[str, Any]:
    chosen = columns if not wanted else {n: v for n, v in columns.items() if n in wanted}
    return copy.deepcopy(chosen)


def attrs(columns: dict[str, Any]) -> list[tuple[str, Any, int]]:
    return [
        (name, bytearray(v) if isinstance(v, bytes) else v, 0)
        for name, v in sorted(columns.items())
    ]


def size(key: Key, columns: dict[str, Any]) -> int:
    def size(value: Any) -> int:
        if isinstance(value, str):
            return len(value.encode("utf-8", "surrogatepass"))
        return len(value) if isinstance(value, (bytes, bytearray)) else 8

    return sum(size(v) for v in key) + sum(len(n) + size(v) for n, v in columns.items())


def units(size: int) -> int:
    return max(1, -(-size // CU_BYTES))


def cu(read: int, write: int) -> Any:
    from tablestore import CapacityUnit

    return CapacityUnit(read, write)
