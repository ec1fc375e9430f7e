"""``OtsDouble``: Tablestore behind the ``tablestore`` SDK's ``OTSClient`` methods, in
memory, for tests and the cost benchmark.

It is a double at the SDK's method boundary, not at HTTP: the store under test
calls it exactly as it calls ``tablestore.OTSClient`` (same method names, the
SDK's own ``Row``, ``Condition``, ``SingleColumnCondition``, ``INF_MIN`` objects,
the same answers and ``OTSServiceError`` codes). An HTTP emulator would need the
server half of the SDK's protobuf codecs, which the SDK does not ship.

It refuses what Tablestore refuses (https://www.alibabacloud.com/help/en/tablestore/
product-overview/general-limits, read 2026-12): more than 4 primary key columns;
more than 100 rows in one ``batch_get_row``; a
primary key that does not match the table's schema (names, order, types); a STRING
key over 1 KB or not valid UTF-8; an attribute value over 2 MB; a row write over
4 MB; more than 1,024 attribute columns in one write; a value whose type differs
from a defined column's; a failed row or column condition (``OTSConditionCheckFail``);
an unknown table (``OTSObjectNotExist``) or one created twice
(``OTSObjectAlreadyExist``). ``get_range`` answers at most ``page_rows`` rows
(and never more than 5,000 or 4 MB) with ``next_start_primary_key``, so callers
must page. Secondary indexes are kept synchronously (a global index on Tablestore
lags by milliseconds; see the store's docstring).

It counts what Tablestore bills: ``calls`` per API (``table_calls`` per API and
table or index), ``reads``/``writes`` (rows) and
``read_cu``/``write_cu`` (a capacity unit per started 4 KB of a row). Queue error
codes with ``fail_next`` to make the next calls fail (``OTSServerBusy``...).
Thread-safe: one lock around every call.
"""

from __future__ import annotations

import copy
import threading
from collections import Counter
from typing import Any, NoReturn

__all__ = ["OtsDouble"]

MAX_PK_COLUMNS = 4
MAX_PK_BYTES = 1024
MAX_VALUE_BYTES = 2 * 1024 * 1024
MAX_WRITE_BYTES = 4 * 1024 * 1024
MAX_COLUMNS = 1024
MAX_RANGE_ROWS = 5000
MAX_BATCH_GET = 100
CU_BYTES = 4096
_TYPES = {"STRING": (str,), "INTEGER": (int,), "BINARY": (bytes, bytearray), "BOOLEAN": (bool,)}
_ATTR_TYPES = {**_TYPES, "DOUBLE": (float,)}

Key = tuple[Any, ...]


class _Table:
    def __init__(self, pk: list[tuple[str, str]], defined: dict[str, str]) -> None:
        self.pk = pk
        self.defined = defined
        self.rows: dict[Key, dict[str, Any]] = {}
        self.indexes: dict[str, list[str]] = {}


class OtsDouble:
    """An in-memory Tablestore instance answering ``OTSClient``'s row and table calls."""

    def __init__(self, *, page_rows: int = 100) -> None:
        self.page_rows = page_rows
        self.calls: Counter[str] = Counter()
        self.table_calls: Counter[tuple[str, str]] = Counter()
        self.reads = self.writes = self.read_cu = self.write_cu = 0
        self.fail_next: list[str] = []
        self._tables: dict[str, _Table] = {}
        self._index_of: dict[str, str] = {}
        self._lock = threading.Lock()

    def reset_counts(self) -> None:
        """Forget every count (tables and rows stay)."""
        with self._lock:
            self.calls.clear()
            self.table_calls.clear()
            self.reads = self.writes = self.read_cu = self.write_cu = 0

    # -- tables ----------------------------------------------------------------------

    def create_table(
        self,
        table_meta: Any,
        table_options: Any,
        reserved_throughput: Any,
        secondary_indexes: Any = None,
    ) -> None:
        with self._lock:
            self._enter("CreateTable")
            name = table_meta.table_name
            if name in self._tables or name in self._index_of:
                _fail(409, "OTSObjectAlreadyExist", f"Requested table {name} already exists.")
            pk = [(column[0], column[1]) for column in table_meta.schema_of_primary_key]
            if not 1 <= len(pk) <= MAX_PK_COLUMNS:
                _fail(400, "OTSParameterInvalid", "The number of primary key columns must be 1-4.")
            defined = {column[0]: column[1] for column in table_meta.defined_columns}
            table = _Table(pk, defined)
            for index in secondary_indexes or []:
                names = list(index.primary_key_names)
                unknown = [n for n in names + list(index.defined_column_names) if n not in defined]
                if unknown and not all(n in dict(pk) for n in unknown):
                    _fail(400, "OTSParameterInvalid", f"Index columns not defined: {unknown}.")
                full = names + [n for n, _ in pk if n not in names]
                if len(full) > MAX_PK_COLUMNS + 1:
                    _fail(400, "OTSParameterInvalid", "Too many index primary key columns.")
                table.indexes[index.index_name] = full
                self._index_of[index.index_name] = name
            self._tables[name] = table

    def list_table(self) -> tuple[str, ...]:
        with self._lock:
            self._enter("ListTable")
            return tuple(sorted(self._tables))

    # -- rows -------------------------------------------------------------------------

    def put_row(
        self, table_name: str, row: Any, condition: Any = None, return_type: Any = None
    ) -> Any:
        with self._lock:
            self._enter("PutRow", table_name)
            table = self._table(table_name)
            key = self._key(table, row.primary_key)
            columns = dict(_check_columns(table, row.attribute_columns))
            self._check_condition(table.rows.get(key), condition)
            self._write(table, key, columns)
            return _cu(0, _size(key, columns)), None

    def update_row(self, table_name: str, row: Any, condition: Any, return_type: Any = None) -> Any:
        with self._lock:
            self._enter("UpdateRow", table_name)
            table = self._table(table_name)
            key = self._key(table, row.primary_key)
            updates = row.attribute_columns
            put = dict(_check_columns(table, updates.get("PUT", [])))
            stored = table.rows.get(key)
            self._check_condition(stored, condition)
            columns = dict(stored or {})
            columns.update(put)
            for name in [*updates.get("DELETE", []), *updates.get("DELETE_ALL", [])]:
                columns.pop(name if isinstance(name, str) else name[0], None)
            self._write(table, key, columns)
            return _cu(0, _size(key, put)), None

    def delete_row(self, table_name: str, row: Any, condition: Any = None, **kwargs: Any) -> Any:
        with self._lock:
            self._enter("DeleteRow", table_name)
            table = self._table(table_name)
            key = self._key(table, getattr(row, "primary_key", row))
            self._check_condition(table.rows.get(key), condition)
            table.rows.pop(key, None)
            self.writes += 1
            self.write_cu += 1
            return _cu(0, 1), None

    def get_row(
        self,
        table_name: str,
        primary_key: Any,
        columns_to_get: Any = None,
        column_filter: Any = None,
        max_version: int = 1,
    ) -> Any:
        from tablestore import Row

        with self._lock:
            self._enter("GetRow", table_name)
            table = self._table(table_name)
            key = self._key(table, primary_key)
            stored = table.rows.get(key)
            self.reads += 1
            if stored is None:
                self.read_cu += 1
                return _cu(1, 0), None, None
            columns = _select(stored, columns_to_get)
            self.read_cu += _units(_size(key, columns))
            pk = [(name, value) for (name, _), value in zip(table.pk, key, strict=True)]
            return _cu(_units(_size(key, columns)), 0), Row(pk, _attrs(columns)), None

    def batch_get_row(self, request: Any) -> Any:
        from tablestore import BatchGetRowResponse, RowDataItem

        with self._lock:
            self._enter("BatchGetRow")
            items = list(request.items.values())
            if sum(len(item.primary_keys) for item in items) > MAX_BATCH_GET:
                _fail(400, "OTSParameterInvalid", "Rows count exceeds the upper limit: 100.")
            answers: dict[str, list[Any]] = {}
            for item in items:
                self.table_calls["BatchGetRow", item.table_name] += 1
                table = self._table(item.table_name)
                rows = answers.setdefault(item.table_name, [])
                for primary_key in item.primary_keys:
                    key = self._key(table, primary_key)
                    stored = table.rows.get(key)
                    self.reads += 1
                    if stored is None:
                        self.read_cu += 1
                        rows.append(
                            RowDataItem(True, None, None, item.table_name, _cu(1, 0), None, None)
                        )
                        continue
                    columns = _select(stored, item.columns_to_get)
                    units = _units(_size(key, columns))
                    self.read_cu += units
                    pk = [(name, value) for (name, _), value in zip(table.pk, key, strict=True)]
                    rows.append(
                        RowDataItem(
                            True, None, None, item.table_name, _cu(units, 0), pk, _attrs(columns)
                        )
                    )
            return BatchGetRowResponse(answers)

    def get_range(
        self,
        table_name: str,
        direction: str,
        inclusive_start_primary_key: Any,
        exclusive_end_primary_key: Any,
        columns_to_get: Any = None,
        limit: int | None = None,
        column_filter: Any = None,
        max_version: int = 1,
    ) -> Any:
        from tablestore import Row

        with self._lock:
            self._enter("GetRange", table_name)
            names, rows = self._range_rows(table_name)
            start = _bound(names, inclusive_start_primary_key)
            end = _bound(names, exclusive_end_primary_key)
            backward = direction == "BACKWARD"
            keys = sorted(rows, key=_sort_key, reverse=backward)
            if backward:
                chosen = [k for k in keys if _sort_key(end) < _sort_key(k) <= _sort_key(start)]
            else:
                chosen = [k for k in keys if _sort_key(start) <= _sort_key(k) < _sort_key(end)]
            most = min(limit or MAX_RANGE_ROWS, self.page_rows, MAX_RANGE_ROWS)
            page, size = [], 0
            for key in chosen[:most]:
                columns = _select(rows[key], columns_to_get)
                size += _size(key, columns)
                page.append(Row(list(zip(names, key, strict=True)), _attrs(columns)))
                if size >= MAX_WRITE_BYTES:
                    break
            self.reads += max(len(page), 1)
            self.read_cu += max(_units(size), 1)
            rest = chosen[len(page) :]
            next_start = list(zip(names, rest[0], strict=True)) if rest else None
            return _cu(_units(size), 0), next_start, page, None

    # -- internals ------------------------------------------------------------------------

    def _enter(self, api: str, table: str = "") -> None:
        self.calls[api] += 1
        self.table_calls[api, table] += 1
        if self.fail_next:
            code = self.fail_next.pop(0)
            _fail(503, code, "Server is busy.")

    def _table(self, name: str) -> _Table:
        table = self._tables.get(name)
        if table is None:
            _fail(404, "OTSObjectNotExist", "Requested table does not exist.")
        return table

    def _range_rows(self, name: str) -> tuple[list[str], dict[Key, dict[str, Any]]]:
        if name in self._tables:
            table = self._tables[name]
            return [n for n, _ in table.pk], table.rows
        base = self._table(self._index_of.get(name, name))
        names = base.indexes[name]
        rows: dict[Key, dict[str, Any]] = {}
        for key, columns in base.rows.items():
            values = {**dict(zip((n for n, _ in base.pk), key, strict=True)), **columns}
            if all(n in values for n in names):
                rest = {n: v for n, v in columns.items() if n in base.defined and n not in names}
                rows[tuple(values[n] for n in names)] = rest
        return names, rows

    def _key(self, table: _Table, primary_key: Any) -> Key:
        given = [(column[0], column[1]) for column in primary_key]
        if [name for name, _ in given] != [name for name, _ in table.pk]:
            _fail(400, "OTSParameterInvalid", "Validate PK name fail.")
        for (name, kind), (_, value) in zip(table.pk, given, strict=True):
            if (isinstance(value, bool) and kind != "BOOLEAN") or not isinstance(
                value, _TYPES[kind]
            ):
                _fail(400, "OTSParameterInvalid", f"Validate PK type fail: {name}.")
            if isinstance(value, str) and len(_utf8(value)) > MAX_PK_BYTES:
                _fail(400, "OTSParameterInvalid", f"The length of pk {name} exceeds 1024.")
        return tuple(bytes(v) if isinstance(v, bytearray) else v for _, v in given)

    def _check_condition(self, stored: dict[str, Any] | None, condition: Any) -> None:
        if condition is None:
            return
        expect = condition.row_existence_expectation
        if (expect == "EXPECT_EXIST" and stored is None) or (
            expect == "EXPECT_NOT_EXIST" and stored is not None
        ):
            _fail(403, "OTSConditionCheckFail", "Condition check failed.")
        column_condition = condition.column_condition
        if column_condition is not None and not _holds(column_condition, stored or {}):
            _fail(403, "OTSConditionCheckFail", "Condition check failed.")

    def _write(self, table: _Table, key: Key, columns: dict[str, Any]) -> None:
        size = _size(key, columns)
        if size > MAX_WRITE_BYTES:
            _fail(400, "OTSParameterInvalid", "The total data size of a row exceeds 4 MB.")
        table.rows[key] = copy.deepcopy(columns)
        self.writes += 1
        self.write_cu += _units(size)


def _fail(status: int, code: str, message: str) -> NoReturn:
    from tablestore import OTSServiceError

    raise OTSServiceError(status, code, message, "double")


def _utf8(value: str) -> bytes:
    try:
        return value.encode("utf-8")
    except UnicodeEncodeError:
        _fail(400, "OTSParameterInvalid", "String value is not valid UTF-8.")


def _check_columns(table: _Table, columns: Any) -> list[tuple[str, Any]]:
    pairs = [(column[0], column[1]) for column in columns]
    if len(pairs) > MAX_COLUMNS:
        _fail(400, "OTSParameterInvalid", "Too many columns in one row write.")
    for name, value in pairs:
        if not isinstance(value, (str, int, float, bool, bytes, bytearray)):
            _fail(400, "OTSParameterInvalid", f"Unsupported type of column {name}.")
        raw = _utf8(value) if isinstance(value, str) else value
        if isinstance(raw, (bytes, bytearray)) and len(raw) > MAX_VALUE_BYTES:
            _fail(
                400, "OTSParameterInvalid", f"The length of attribute column {name} exceeds 2 MB."
            )
        kind = table.defined.get(name)
        if kind is not None and (
            not isinstance(value, _ATTR_TYPES[kind])
            or (isinstance(value, bool) != (kind == "BOOLEAN"))
        ):
            _fail(400, "OTSParameterInvalid", f"Column {name} must be {kind}.")
    return [(n, bytes(v) if isinstance(v, bytearray) else v) for n, v in pairs]


def _holds(condition: Any, columns: dict[str, Any]) -> bool:
    subs = getattr(condition, "sub_conditions", None)
    if subs is not None:
        results = [_holds(sub, columns) for sub in subs]
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


def _sort_key(key: Any) -> tuple[tuple[int, Any], ...]:
    from tablestore import INF_MAX, INF_MIN

    return tuple((0, 0) if v is INF_MIN else (2, 0) if v is INF_MAX else (1, v) for v in key)


def _bound(names: list[str], primary_key: Any) -> Key:
    given = [(column[0], column[1]) for column in primary_key]
    if [name for name, _ in given] != names:
        _fail(400, "OTSParameterInvalid", "Validate PK name fail.")
    return tuple(value for _, value in given)


def _select(columns: dict[str, Any], wanted: Any) -> dict[str, Any]:
    chosen = columns if not wanted else {n: v for n, v in columns.items() if n in wanted}
    return copy.deepcopy(chosen)


def _attrs(columns: dict[str, Any]) -> list[tuple[str, Any, int]]:
    return [
        (name, bytearray(v) if isinstance(v, bytes) else v, 0)
        for name, v in sorted(columns.items())
    ]


def _size(key: Key, columns: dict[str, Any]) -> int:
    def size(value: Any) -> int:
        if isinstance(value, str):
            return len(value.encode("utf-8", "surrogatepass"))
        return len(value) if isinstance(value, (bytes, bytearray)) else 8

    return sum(size(v) for v in key) + sum(len(n) + size(v) for n, v in columns.items())


def _units(size: int) -> int:
    return max(1, -(-size // CU_BYTES))


def _cu(read: int, write: int) -> Any:
    from tablestore import CapacityUnit

    return CapacityUnit(read, write)
