"""``RunRecords`` on Tablestore: runs (large events in chunks), steps and listing.

Tables and indexes are described in ``scd_core.stores.tablestore_schema``. Creating a
run: ``PutRow`` of ``kv`` ``dedup:<key>`` → run id with ``EXPECT_NOT_EXIST`` (who wins
it owns the dedup key), then the event chunks if any, then ``PutRow`` of the run row
with ``EXPECT_NOT_EXIST``. A loser reads the winner's run, waiting for its row (the
winner writes it next); a dedup row whose run never appears (its writer died between
the two writes) is taken over after ``ORPHAN_WAIT_S`` with a conditional update.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Sequence
from typing import Any

from scd_core.errors import BackendError, Conflict, NotFound, ScdError
from scd_core.models import Run, StepState
from scd_core.store import Created
from scd_core.stores.rows import (
    check_list_args,
    decode_cursor,
    dump_model,
    encode_cursor,
    load_model,
    normalise_run,
    normalise_step,
    run_matches,
    update_refusal,
)
from scd_core.stores.tablestore_client import OtsCalls, columns_of, kv_key
from scd_core.stores.tablestore_codec import RunCodec, index_text
from scd_core.stores.tablestore_schema import TableNames

__all__ = ["ORPHAN_WAIT_S", "TablestoreRuns"]

ORPHAN_WAIT_S = 10.0


class TablestoreRuns:
    """The runs role; ``calls`` reaches the client, ``names`` the tables."""

    def __init__(self, calls: OtsCalls, names: TableNames) -> None:
        self._calls = calls
        self._names = names
        self._codec = RunCodec(calls, names)

    # -- writing a run ----------------------------------------------------------------

    def create_run(self, run: Run) -> tuple[Run, bool]:
        from tablestore import Condition, Row, RowExistenceExpectation

        run = normalise_run(run).model_copy(deep=True)
        dedup = kv_key("dedup", run.dedup_key)
        try:
            self._calls.call(
                "put_row",
                self._names.kv,
                Row([("k", dedup)], [("run_id", run.id)]),
                Condition(RowExistenceExpectation.EXPECT_NOT_EXIST),
            )
        except Conflict:
            return self._existing(dedup, run), False
        run.number = self._next_number(run.app)  # the caller's number is never kept
        try:
            self._calls.call(
                "put_row",
                self._names.runs,
                Row([("id", run.id)], [*self._codec.columns(run), ("number", run.number)]),
                Condition(RowExistenceExpectation.EXPECT_NOT_EXIST),
            )
        except Conflict:
            self._give_back_number(run.app, run.number)
            self._release_dedup(dedup, run.id)
            raise Conflict(f"run id {run.id!r} is taken by another dedup key") from None
        return run, True

    def _next_number(self, app: str) -> int:
        """The next run number of ``app``: its counter row (``number:<app>``) moved on by
        one conditional write, retried on a lost race. A run whose own write then fails
        leaves a gap, never a duplicate (the ``RunRecords`` contract)."""
        from tablestore import ComparatorType, Condition, Row, RowExistenceExpectation
        from tablestore import SingleColumnCondition as Single

        key = kv_key("number", app)
        while True:
            current = columns_of(self._get_kv(key)).get("n")
            try:
                if current is None:
                    self._calls.call(
                        "put_row",
                        self._names.kv,
                        Row([("k", key)], [("n", 1)]),
                        Condition(RowExistenceExpectation.EXPECT_NOT_EXIST),
                    )
                    return 1
                same = Single("n", current, ComparatorType.EQUAL, pass_if_missing=False)
                self._calls.call(
                    "update_row",
                    self._names.kv,
                    Row([("k", key)], {"PUT": [("n", current + 1)]}),
                    Condition(RowExistenceExpectation.EXPECT_EXIST, same),
                )
                return int(current) + 1
            except Conflict:
                continue  # another creator moved it first: read it again

    def _give_back_number(self, app: str, number: int) -> None:
        """Move ``app``'s counter back from ``number`` when no later creator took one (a
        conditional write): a run that was never written leaves no gap where it can."""
        from tablestore import ComparatorType, Condition, Row, RowExistenceExpectation
        from tablestore import SingleColumnCondition as Single

        last = Single("n", number, ComparatorType.EQUAL, pass_if_missing=False)
        with contextlib.suppress(Conflict):  # someone numbered after us: keep the gap
            self._calls.call(
                "update_row",
                self._names.kv,
                Row([("k", kv_key("number", app))], {"PUT": [("n", number - 1)]}),
                Condition(RowExistenceExpectation.EXPECT_EXIST, last),
            )

    def _release_dedup(self, dedup: str, run_id: str) -> None:
        from tablestore import ComparatorType, Condition, RowExistenceExpectation
        from tablestore import SingleColumnCondition as Single

        owned = Single("run_id", run_id, ComparatorType.EQUAL, pass_if_missing=False)
        with contextlib.suppress(Conflict):  # already gone or taken over
            self._calls.call(
                "delete_row",
                self._names.kv,
                [("k", dedup)],
                Condition(RowExistenceExpectation.EXPECT_EXIST, owned),
            )

    def _existing(self, dedup: str, run: Run) -> Run:
        """The run owning ``dedup``, waiting for its row, taking an orphan over."""
        deadline = time.monotonic() + ORPHAN_WAIT_S
        delay = 0.005
        while True:
            owner = columns_of(self._get_kv(dedup)).get("run_id")
            if owner is not None:
                found = self._read_run(owner)
                if found is not None:
                    return found
            if time.monotonic() > deadline:
                return self._take_over(dedup, owner, run)
            time.sleep(delay)
            delay = min(delay * 2, 0.2)

    def _take_over(self, dedup: str, owner: str | None, run: Run) -> Run:
        from tablestore import ComparatorType, Condition, Row, RowExistenceExpectation
        from tablestore import SingleColumnCondition as Single

        held = Single("run_id", owner or "", ComparatorType.EQUAL, pass_if_missing=False)
        self._calls.call(
            "update_row",
            self._names.kv,
            Row([("k", dedup)], {"PUT": [("run_id", run.id)]}),
            Condition(RowExistenceExpectation.EXPECT_EXIST, held),
        )
        self._calls.call(
            "put_row",
            self._names.runs,
            Row([("id", run.id)], self._codec.columns(run)),
            Condition(RowExistenceExpectation.EXPECT_NOT_EXIST),
        )
        return run

    def create_runs(self, runs: Sequence[Run]) -> list[Created]:
        """One ``create_run`` per run (Tablestore bills per row either way; a run's two
        conditional writes cannot share one batch with their resolution)."""
        self._calls.check_open()
        answers: list[Created] = []
        for run in runs:
            try:
                answers.append(self.create_run(run))
            except ScdError as exc:
                answers.append(exc)
        return answers

    # -- reading runs ---------------------------------------------------------------------

    def _get_kv(self, key: str) -> Any:
        _, row, _ = self._calls.call("get_row", self._names.kv, [("k", key)])
        return row

    def _read_run(self, run_id: str) -> Run | None:
        _, row, _ = self._calls.call("get_row", self._names.runs, [("id", run_id)])
        if row is None:
            return None
        return self._codec.decode(run_id, columns_of(row))

    def _read_runs(self, run_ids: list[str]) -> list[Run | None]:
        """The runs of ``run_ids`` in order (None for a missing one): ``BatchGetRow`` of
        up to 100 rows a request, Tablestore's limit."""
        from tablestore import BatchGetRowRequest, TableInBatchGetRowItem

        found: list[Run | None] = []
        for first in range(0, len(run_ids), 100):
            group = run_ids[first : first + 100]
            request = BatchGetRowRequest()
            keys = [[("id", run_id)] for run_id in group]
            request.add(TableInBatchGetRowItem(self._names.runs, keys, max_version=1))
            answer = self._calls.call("batch_get_row", request)
            items = answer.get_result_by_table(self._names.runs) or []
            if len(items) != len(group):
                raise BackendError("Tablestore BatchGetRow answered another number of rows")
            for run_id, item in zip(group, items, strict=True):
                if not item.is_ok:
                    raise BackendError(f"Tablestore BatchGetRow failed: {item.error_code}")
                row = item.row
                present = row is not None and bool(row.attribute_columns)
                found.append(self._codec.decode(run_id, columns_of(row)) if present else None)
        return found

    def get_run(self, run_id: str) -> Run:
        run = self._read_run(run_id)
        if run is None:
            raise NotFound(f"no run {run_id!r}")
        return run

    def find_run(self, dedup_key: str) -> Run | None:
        owner = columns_of(self._get_kv(kv_key("dedup", dedup_key))).get("run_id")
        return None if owner is None else self._read_run(owner)

    def update_run(self, run: Run) -> Run:
        from tablestore import (
            ComparatorType,
            CompositeColumnCondition,
            Condition,
            LogicalOperator,
            Row,
            RowExistenceExpectation,
        )
        from tablestore import SingleColumnCondition as Single

        new = normalise_run(run).model_copy(update={"version": run.version + 1}, deep=True)
        columns = self._codec.columns(new)
        written = dict(columns)
        # the keys of the indexes never change: one conditional write checks them all
        same = CompositeColumnCondition(LogicalOperator.AND)
        for name, value in (
            ("version", run.version),
            ("dedup", written["dedup"]),
            ("created_us", written["created_us"]),
            ("app", written["app"]),
        ):
            same.add_sub_condition(Single(name, value, ComparatorType.EQUAL, pass_if_missing=False))
        gone = [name for name in ("event_sha", "event_parts") if name not in written]
        try:
            self._calls.call(
                "update_row",
                self._names.runs,
                Row([("id", run.id)], {"PUT": columns, "DELETE_ALL": gone}),
                Condition(RowExistenceExpectation.EXPECT_EXIST, same),
            )
        except Conflict:
            _, row, _ = self._calls.call(
                "get_row", self._names.runs, [("id", run.id)], columns_to_get=["version"]
            )
            stored = None if row is None else columns_of(row).get("version")
            raise update_refusal(run, stored) from None
        return new

    def list_runs(
        self,
        *,
        app: str | None = None,
        status: str | None = None,
        limit: int = 50,
        cursor: str | None = None,
        event: str | None = None,
        branch: str | None = None,
    ) -> tuple[list[Run], str | None]:
        from tablestore import INF_MAX, INF_MIN

        check_list_args(status, limit)
        after = decode_cursor(cursor) if cursor is not None else None
        self._calls.check_open()
        head: list[tuple[str, Any]] = [] if app is None else [("app", index_text(app))]
        table = self._names.runs_by_time if app is None else self._names.runs_by_app
        top: list[tuple[str, Any]] = (
            [("created_us", INF_MAX), ("id", INF_MAX)]
            if after is None
            else [("created_us", after[0]), ("id", after[1])]
        )
        start: Any = head + top
        end = [*head, ("created_us", INF_MIN), ("id", INF_MIN)]
        wanted = {"status": status, "event_name": index_text(event), "branch": index_text(branch)}
        keys: list[tuple[int, str]] = []
        while start is not None and len(keys) <= limit:
            _, start, rows, _ = self._calls.call("get_range", table, "BACKWARD", start, end)
            for row in rows:
                pk = dict(row.primary_key)
                key = (pk["created_us"], pk["id"])
                columns = columns_of(row)
                if key == after or any(
                    value is not None and columns.get(name) != value
                    for name, value in wanted.items()
                ):
                    continue
                keys.append(key)
        runs = self._read_runs([run_id for _, run_id in keys[:limit]])
        page = [
            found
            for found in runs
            if found is not None
            and run_matches(found, app=app, status=status, event=event, branch=branch)
        ]
        more = len(keys) > limit
        return page, encode_cursor(*keys[limit - 1]) if more else None

    # -- steps ----------------------------------------------------------------------------

    def put_step(self, run_id: str, step: StepState) -> None:
        from tablestore import Condition, Row, RowExistenceExpectation

        step = normalise_step(step)
        pk = [("run_id", run_id), ("task", step.task), ("step_id", step.id)]
        self._calls.call(
            "put_row",
            self._names.steps,
            Row(pk, [("data", dump_model(step))]),
            Condition(RowExistenceExpectation.IGNORE),
        )

    def list_steps(self, run_id: str, task: str | None = None) -> list[StepState]:
        from tablestore import INF_MAX, INF_MIN

        head: list[tuple[str, Any]] = [("run_id", run_id)]
        if task is not None:
            head.append(("task", task))
        fill = [("task", None), ("step_id", None)][len(head) - 1 :]
        start: Any = head + [(name, INF_MIN) for name, _ in fill]
        end = head + [(name, INF_MAX) for name, _ in fill]
        steps: list[StepState] = []
        while start is not None:
            _, start, rows, _ = self._calls.call(
                "get_range", self._names.steps, "FORWARD", start, end
            )
            steps += [
                normalise_step(load_model(StepState, columns_of(row)["data"])) for row in rows
            ]
        steps.sort(key=lambda step: (step.task, step.index, step.id))
        return steps
