"""``OtsDouble``: Tablestore behind the ``tablestore`` SDK's ``OTSClient`` methods, in
memory, for tests and the cost benchmark.

It is a double at the SDK's method boundary, not at HTTP: the store under test
calls it exactly as it calls ``tablestore.OTSClient`` (same method names, the
SDK's own ``Row``, ``Condition``, ``SingleColumnCondition``, ``INF_MIN`` objects,
the same answers and ``OTSServiceError`` codes). An HTTP emulator would need the
server half of the SDK's protobuf codecs, which the SDK does not ship.
``sdk_client(double)`` goes one step further: a real ``OTSClient`` whose public
methods run as shipped and whose every request is encoded by the SDK's own
protobuf encoder (so a value the wire cannot carry fails as it would), answered by
the double instead of the network.

It refuses what Tablestore refuses ("Limits on the Wide Column model",
https://www.alibabacloud.com/help/en/tablestore/limits-on-widecolumn-model, updated
2025-03-26): more than 4 primary key columns or 32 predefined columns; more than
100 rows in one ``batch_get_row``; a primary key that does not match the table's
schema (names, order, types); a STRING key over 1 KB or not valid UTF-8; an
attribute value over 2 MB; a row write over 4 MB; a value whose type differs from a
defined column's; a failed row or column condition (``OTSConditionCheckFail``);
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
from typing import Any

from scd_core.stores import otsdouble_rules as rules

__all__ = ["OtsDouble", "sdk_client"]


class _Table:
    def __init__(self, pk: list[tuple[str, str]], defined: dict[str, str]) -> None:
        self.pk = pk
        self.defined = defined
        self.rows: dict[rules.Key, dict[str, Any]] = {}
        self.indexes: dict[str, tuple[list[str], list[str]]] = {}


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
                rules.fail(409, "OTSObjectAlreadyExist", f"Requested table {name} already exists.")
            pk = [(column[0], column[1]) for column in table_meta.schema_of_primary_key]
            if not 1 <= len(pk) <= rules.MAX_PK_COLUMNS:
                rules.fail(
                    400, "OTSParameterInvalid", "The number of primary key columns must be 1-4."
                )
            defined = {column[0]: column[1] for column in table_meta.defined_columns}
            if len(defined) > rules.MAX_DEFINED_COLUMNS:
                rules.fail(400, "OTSParameterInvalid", "Too many predefined columns (32 at most).")
            table = _Table(pk, defined)
            pk_names = [n for n, _ in pk]
            for index in secondary_indexes or []:
                names = list(index.primary_key_names)
                carried = list(index.defined_column_names)
                unknown = [n for n in names + carried if n not in defined and n not in pk_names]
                if unknown:
                    rules.fail(400, "OTSParameterInvalid", f"Index columns not defined: {unknown}.")
                # an index's key is its columns, then the table's key columns it lacks
                full = names + [n for n in pk_names if n not in names]
                table.indexes[index.index_name] = (full, carried)
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
            columns = dict(rules.check_columns(table, row.attribute_columns))
            self._check_condition(table.rows.get(key), condition)
            self._write(table, key, columns)
            return rules.cu(0, rules.size(key, columns)), None

    def update_row(self, table_name: str, row: Any, condition: Any, return_type: Any = None) -> Any:
        with self._lock:
            self._enter("UpdateRow", table_name)
            table = self._table(table_name)
            key = self._key(table, row.primary_key)
            updates = row.attribute_columns
            put = dict(rules.check_columns(table, updates.get("PUT", [])))
            stored = table.rows.get(key)
            self._check_condition(stored, condition)
            columns = dict(stored or {})
            columns.update(put)
            for name in [*updates.get("DELETE", []), *updates.get("DELETE_ALL", [])]:
                columns.pop(name if isinstance(name, str) else name[0], None)
            self._write(table, key, columns)
            return rules.cu(0, rules.size(key, put)), None

    def delete_row(self, table_name: str, row: Any, condition: Any = None, **kwargs: Any) -> Any:
        with self._lock:
            self._enter("DeleteRow", table_name)
            table = self._table(table_name)
            key = self._key(table, getattr(row, "primary_key", row))
            self._check_condition(table.rows.get(key), condition)
            table.rows.pop(key, None)
            self.writes += 1
            self.write_cu += 1
            return rules.cu(0, 1), None

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
                return rules.cu(1, 0), None, None
            columns = rules.select(stored, columns_to_get)
            self.read_cu += rules.units(rules.size(key, columns))
            pk = [(name, value) for (name, _), value in zip(table.pk, key, strict=True)]
            return (
                rules.cu(rules.units(rules.size(key, columns)), 0),
                Row(pk, rules.attrs(columns)),
                None,
            )

    def batch_get_row(self, request: Any) -> Any:
        from tablestore import BatchGetRowResponse, RowDataItem

        with self._lock:
            self._enter("BatchGetRow")
            items = list(request.items.values())
            if sum(len(item.primary_keys) for item in items) > rules.MAX_BATCH_GET:
                rules.fail(400, "OTSParameterInvalid", "Rows count exceeds the upper limit: 100.")
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
                            RowDataItem(
                                True, None, None, item.table_name, rules.cu(1, 0), None, None
                            )
                        )
                        continue
                    columns = rules.select(stored, item.columns_to_get)
                    cost = rules.units(rules.size(key, columns))
                    self.read_cu += cost
                    pk = [(name, value) for (name, _), value in zip(table.pk, key, strict=True)]
                    rows.append(
                        RowDataItem(
                            True,
                            None,
                            None,
                            item.table_name,
                            rules.cu(cost, 0),
                            pk,
                            rules.attrs(columns),
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
            start = rules.bound(names, inclusive_start_primary_key)
            end = rules.bound(names, exclusive_end_primary_key)
            backward = direction == "BACKWARD"
            keys = sorted(rows, key=rules.sort_key, reverse=backward)
            if backward:
                chosen = [
                    k
                    for k in keys
                    if rules.sort_key(end) < rules.sort_key(k) <= rules.sort_key(start)
                ]
            else:
                chosen = [
                    k
                    for k in keys
                    if rules.sort_key(start) <= rules.sort_key(k) < rules.sort_key(end)
                ]
            most = min(limit or rules.MAX_RANGE_ROWS, self.page_rows, rules.MAX_RANGE_ROWS)
            page, size = [], 0
            for key in chosen[:most]:
                columns = rules.select(rows[key], columns_to_get)
                size += rules.size(key, columns)
                page.append(Row(list(zip(names, key, strict=True)), rules.attrs(columns)))
                if size >= rules.MAX_WRITE_BYTES:
                    break
            self.reads += max(len(page), 1)
            self.read_cu += max(rules.units(size), 1)
            rest = chosen[len(page) :]
            next_start = list(zip(names, rest[0], strict=True)) if rest else None
            return rules.cu(rules.units(size), 0), next_start, page, None

    # -- internals ------------------------------------------------------------------------

    def _enter(self, api: str, table: str = "") -> None:
        self.calls[api] += 1
        self.table_calls[api, table] += 1
        if self.fail_next:
            code = self.fail_next.pop(0)
            rules.fail(503, code, "Server is busy.")

    def _table(self, name: str) -> _Table:
        table = self._tables.get(name)
        if table is None:
            rules.fail(404, "OTSObjectNotExist", "Requested table does not exist.")
        return table

    def _range_rows(self, name: str) -> tuple[list[str], dict[rules.Key, dict[str, Any]]]:
        if name in self._tables:
            table = self._tables[name]
            return [n for n, _ in table.pk], table.rows
        base = self._table(self._index_of.get(name, name))
        names, carried = base.indexes[name]
        rows: dict[rules.Key, dict[str, Any]] = {}
        for key, columns in base.rows.items():
            values = {**dict(zip((n for n, _ in base.pk), key, strict=True)), **columns}
            if all(n in values for n in names):
                rest = {n: v for n, v in columns.items() if n in carried}
                rows[tuple(values[n] for n in names)] = rest
        return names, rows

    def _key(self, table: _Table, primary_key: Any) -> rules.Key:
        given = [(column[0], column[1]) for column in primary_key]
        if [name for name, _ in given] != [name for name, _ in table.pk]:
            rules.fail(400, "OTSParameterInvalid", "Validate PK name fail.")
        for (name, kind), (_, value) in zip(table.pk, given, strict=True):
            if (isinstance(value, bool) and kind != "BOOLEAN") or not isinstance(
                value, rules.PK_TYPES[kind]
            ):
                rules.fail(400, "OTSParameterInvalid", f"Validate PK type fail: {name}.")
            if isinstance(value, str) and len(rules.utf8(value)) > rules.MAX_PK_BYTES:
                rules.fail(400, "OTSParameterInvalid", f"The length of pk {name} exceeds 1024.")
        return tuple(bytes(v) if isinstance(v, bytearray) else v for _, v in given)

    def _check_condition(self, stored: dict[str, Any] | None, condition: Any) -> None:
        if condition is None:
            return
        expect = condition.row_existence_expectation
        if (expect == "EXPECT_EXIST" and stored is None) or (
            expect == "EXPECT_NOT_EXIST" and stored is not None
        ):
            rules.fail(403, "OTSConditionCheckFail", "Condition check failed.")
        column_condition = condition.column_condition
        if column_condition is not None and not rules.holds(column_condition, stored or {}):
            rules.fail(403, "OTSConditionCheckFail", "Condition check failed.")

    def _write(self, table: _Table, key: rules.Key, columns: dict[str, Any]) -> None:
        written = rules.size(key, columns)
        if written > rules.MAX_WRITE_BYTES:
            rules.fail(400, "OTSParameterInvalid", "The total data size of a row exceeds 4 MB.")
        table.rows[key] = copy.deepcopy(columns)
        self.writes += 1
        self.write_cu += rules.units(written)


def sdk_client(double: OtsDouble, instance: str = "double") -> Any:
    """A ``tablestore.OTSClient`` answered by ``double``: each request goes through the
    client's method and the SDK's request encoder, then to the double's method."""
    from tablestore import OTSClient

    class _Client(OTSClient):  # type: ignore[misc]
        def _request_helper(self, api: str, *args: Any, **kwargs: Any) -> Any:
            self.protocol.encoder.encode_request(api, *args, **kwargs)
            return _ANSWER[api](double, args)

    return _Client("http://127.0.0.1:1", "double-id", "double-secret", instance)


_ANSWER: dict[str, Any] = {
    "CreateTable": lambda d, a: d.create_table(a[0], a[1], a[2], a[4]),
    "ListTable": lambda d, a: d.list_table(),
    "GetRow": lambda d, a: d.get_row(*a[:5]),
    "PutRow": lambda d, a: d.put_row(*a[:4]),
    "UpdateRow": lambda d, a: d.update_row(*a[:4]),
    "DeleteRow": lambda d, a: d.delete_row(*a[:3]),
    "GetRange": lambda d, a: d.get_range(*a[:8]),
    "BatchGetRow": lambda d, a: d.batch_get_row(a[0]).items,
}
