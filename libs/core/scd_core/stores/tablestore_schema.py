"""The Tablestore run store's tables and indexes, and ``create_tables`` (``scd cloud init``).

Four tables, named with a prefix (default ``scd_``) so several installations share an
instance:

``runs``  pk ``(id STRING)``. Attribute columns: ``data`` (the run as JSON, or the run
    without its event when the event is stored in ``chunks``), ``event_sha`` and
    ``event_parts`` (only then), ``version INTEGER`` (the optimistic lock), and the
    defined columns the indexes use: ``app``, ``created_us INTEGER`` (microseconds
    since the epoch), ``status``, ``event_name``, ``branch``.
    Global secondary indexes serve ``list_runs``, read ``BACKWARD`` (newest first):
    ``runs_by_time`` pk ``(created_us, id)`` when no app is given, ``runs_by_app`` pk
    ``(app, created_us, id)`` for one app. Both carry ``status``, ``event_name`` and
    ``branch``, the other filters, so a filtered page is read from the index alone
    before the page's runs are fetched by id (``BatchGetRow``, 100 rows a request).
    The list cursor is the last index key ``(created_us, id)``. A global index is
    updated asynchronously: on Tablestore a run shows in a listing a few
    milliseconds after ``create_run`` returns (``get_run`` and ``find_run`` read the
    table and see it at once).
``steps``  pk ``(run_id, task, step_id)``; ``data`` (the step as JSON).
``chunks``  pk ``(run_id, sha, part INTEGER)``; ``data BINARY``: a large event, cut in
    1 MB parts, keyed by the SHA-256 of its JSON so rewriting it is idempotent and an
    unchanged event is never written again.
``kv``  pk ``(k STRING)``: every small keyed record, its kind a prefix of the key,
    so one table holds them and a prefix is one range read: ``dedup:<key>`` →
    ``run_id`` (the dedup key; written ``EXPECT_NOT_EXIST`` before the run row),
    ``control:<run id>`` → ``action``, ``lease:<key>`` → ``owner``, ``expires_us``,
    ``claim:<key>``, ``app:<name>`` → ``name``, ``spec``, ``token:<name>`` → the
    record, ``digest:<sha256>`` → ``name``. A key longer than Tablestore's 1 KB
    primary key limit is replaced by ``#`` and its SHA-256 (the original is kept in
    a column where it is read back).

Limits that shaped this ("Limits on the Wide Column model",
https://www.alibabacloud.com/help/en/tablestore/limits-on-widecolumn-model, updated
2025-03-26, and the general limits page): 1-4 primary key columns, a STRING key ≤
1 KB, ≤ 32 predefined columns, an attribute value ≤ 2 MB, no limit on a row's size
but ≤ 4 MB written by one PutRow or UpdateRow, ≤ 200 rows per BatchWriteRow, ≤ 100
per BatchGetRow, ``GetRange`` ≤ 5,000 rows or 4 MB a page, 64 tables and indexes
an instance (this store uses 4 tables and 2 indexes). A GitHub
delivery can be 25 MB: a run whose JSON passes ``INLINE_BYTES`` keeps its event in
``chunks`` (one ``PutRow`` per 1 MB part, each well under the 4 MB write limit).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scd_core.errors import BackendError

__all__ = ["CHUNK_BYTES", "INLINE_BYTES", "TableNames", "create_tables"]

INLINE_BYTES = 1024 * 1024
CHUNK_BYTES = 1024 * 1024


class TableNames:
    """The table and index names for one prefix."""

    def __init__(self, prefix: str = "scd_") -> None:
        self.runs = f"{prefix}runs"
        self.steps = f"{prefix}steps"
        self.chunks = f"{prefix}chunks"
        self.kv = f"{prefix}kv"
        self.runs_by_time = f"{prefix}runs_by_time"
        self.runs_by_app = f"{prefix}runs_by_app"


_FILTERS = ["status", "event_name", "branch"]


def create_tables(
    client: Any, prefix: str = "scd_", *, echo: Callable[[str], None] = lambda _: None
) -> list[str]:
    """Create every table and index that is missing; the names created (``[]`` when all
    exist). Idempotent and safe to run twice or from two machines at once (a table
    created meanwhile counts as existing). ``BackendError`` for any other failure.
    Tablestore makes a new table usable about a minute after creating it."""
    from tablestore import (
        CapacityUnit,
        OTSServiceError,
        ReservedThroughput,
        SecondaryIndexMeta,
        TableMeta,
        TableOptions,
    )

    names = TableNames(prefix)
    runs_columns = [
        ("app", "STRING"),
        ("created_us", "INTEGER"),
        ("status", "STRING"),
        ("event_name", "STRING"),
        ("branch", "STRING"),
    ]
    tables: list[tuple[str, list[tuple[str, str]], list[tuple[str, str]], list[Any]]] = [
        (
            names.runs,
            [("id", "STRING")],
            runs_columns,
            [
                SecondaryIndexMeta(names.runs_by_time, ["created_us"], _FILTERS),
                SecondaryIndexMeta(names.runs_by_app, ["app", "created_us"], _FILTERS),
            ],
        ),
        (names.steps, [("run_id", "STRING"), ("task", "STRING"), ("step_id", "STRING")], [], []),
        (names.chunks, [("run_id", "STRING"), ("sha", "STRING"), ("part", "INTEGER")], [], []),
        (names.kv, [("k", "STRING")], [], []),
    ]
    try:
        existing = set(client.list_table())
        created: list[str] = []
        for name, pk, defined, indexes in tables:
            if name in existing:
                continue
            try:
                client.create_table(
                    TableMeta(name, pk, defined_columns=defined),
                    TableOptions(time_to_live=-1, max_version=1),
                    ReservedThroughput(CapacityUnit(0, 0)),
                    secondary_indexes=indexes,
                )
            except OTSServiceError as exc:
                if exc.get_error_code() != "OTSObjectAlreadyExist":
                    raise
                continue
            echo(f"created table {name}")
            created.append(name)
        return created
    except Exception as exc:
        raise BackendError(f"creating the Tablestore tables failed: {_describe(exc)}") from exc


def _describe(exc: BaseException) -> str:
    code = getattr(exc, "code", None)
    message = getattr(exc, "message", None)
    return f"{code}: {message}" if code else type(exc).__name__
