"""``Controls``, ``Leases``, ``AppRegistry`` and ``TokenRegistry`` on Tablestore's ``kv``
table (its key layout is in ``scd_core.stores.tablestore_schema``).

Every operation is one or two row operations with a condition; which one is stated
on each role's Protocol method in ``scd_core.store``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from scd_core.errors import Conflict, NotFound
from scd_core.store import TokenRecord
from scd_core.stores.rows import check_control_action, epoch_us, to_utc
from scd_core.stores.tablestore_client import OtsCalls, columns_of, kv_key
from scd_core.stores.tablestore_schema import TableNames

__all__ = ["TablestoreKeyed"]


class TablestoreKeyed:
    """The keyed roles; ``clock`` gives lease time in seconds (``time.time``).

    ``get_control`` answers from a per-store cache for ``control_ttl_s`` seconds (and
    for good once it saw ``cancel``, which is final): a worker's heartbeat asks every
    0.25 s, and on Tablestore each ask is a billed ``GetRow``. A request made through
    this store object is seen at once; one made elsewhere within ``control_ttl_s``
    (so a cancel reaches a running step up to that much later). 0 turns it off.
    """

    def __init__(
        self,
        calls: OtsCalls,
        names: TableNames,
        clock: Callable[[], float] = time.time,
        control_ttl_s: float = 1.0,
    ) -> None:
        self._calls = calls
        self._names = names
        self._clock = clock
        self._control_ttl_s = control_ttl_s
        self._controls: dict[str, tuple[float, str | None]] = {}
        self._controls_lock = threading.Lock()

    # -- row helpers ------------------------------------------------------------------------

    def _put(
        self, key: str, columns: list[tuple[str, Any]], expect: str, column: Any = None
    ) -> None:
        from tablestore import Condition, Row

        self._calls.call(
            "put_row", self._names.kv, Row([("k", key)], columns), Condition(expect, column)
        )

    def _update(self, key: str, put: list[tuple[str, Any]], column: Any) -> bool:
        from tablestore import Condition, Row

        try:
            self._calls.call(
                "update_row",
                self._names.kv,
                Row([("k", key)], {"PUT": put}),
                Condition("EXPECT_EXIST", column),
            )
        except Conflict:
            return False
        return True

    def _get(self, key: str) -> dict[str, Any] | None:
        _, row, _ = self._calls.call("get_row", self._names.kv, [("k", key)])
        return None if row is None else columns_of(row)

    def _delete(self, key: str, expect: str, column: Any = None) -> None:
        from tablestore import Condition

        self._calls.call("delete_row", self._names.kv, [("k", key)], Condition(expect, column))

    def _scan(self, kind: str) -> list[dict[str, Any]]:
        start: Any = [("k", f"{kind}:")]
        end = [("k", f"{kind};")]  # ';' follows ':': the end of the prefix
        found: list[dict[str, Any]] = []
        while start is not None:
            _, start, rows, _ = self._calls.call("get_range", self._names.kv, "FORWARD", start, end)
            found += [columns_of(row) for row in rows]
        return found

    # -- controls ----------------------------------------------------------------------------

    def request_control(self, run_id: str, action: str) -> None:
        from tablestore import SingleColumnCondition

        check_control_action(action)
        _, row, _ = self._calls.call(
            "get_row", self._names.runs, [("id", run_id)], columns_to_get=["version"]
        )
        if row is None:
            raise NotFound(f"no run {run_id!r}")
        not_cancelled = SingleColumnCondition("action", "cancel", 1, pass_if_missing=True)
        with contextlib.suppress(Conflict):  # cancel is final
            self._put(kv_key("control", run_id), [("action", action)], "IGNORE", not_cancelled)
        with self._controls_lock:
            self._controls.pop(run_id, None)

    def get_control(self, run_id: str) -> str | None:
        now = time.monotonic()
        with self._controls_lock:
            cached = self._controls.get(run_id)
        if cached is not None and (cached[1] == "cancel" or now < cached[0]):
            return cached[1]
        columns = self._get(kv_key("control", run_id))
        action = None if columns is None else str(columns["action"])
        if self._control_ttl_s > 0:
            with self._controls_lock:
                if len(self._controls) > 10_000:  # runs end; their entries need not stay
                    self._controls.clear()
                self._controls[run_id] = (now + self._control_ttl_s, action)
        return action

    # -- leases and claims ---------------------------------------------------------------------

    def acquire_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        from tablestore import CompositeColumnCondition, SingleColumnCondition

        now = _us(self._clock())
        row = kv_key("lease", key)
        put = [("owner", owner), ("expires_us", now + _us(ttl_s))]
        free = CompositeColumnCondition(2)  # OR
        free.add_sub_condition(SingleColumnCondition("owner", owner, 0, pass_if_missing=False))
        free.add_sub_condition(SingleColumnCondition("expires_us", now, 5, pass_if_missing=False))
        for _ in range(3):  # a release between our two writes: try the create again
            try:
                self._put(row, put, "EXPECT_NOT_EXIST")
            except Conflict:
                if self._update(row, put, free):
                    return True
                if self._get(row) is not None:
                    return False
            else:
                return True
        return False

    def renew_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        from tablestore import CompositeColumnCondition, SingleColumnCondition

        now = _us(self._clock())
        held = CompositeColumnCondition(1)  # AND
        held.add_sub_condition(SingleColumnCondition("owner", owner, 0, pass_if_missing=False))
        held.add_sub_condition(SingleColumnCondition("expires_us", now, 2, pass_if_missing=False))
        put = [("owner", owner), ("expires_us", now + _us(ttl_s))]
        return self._update(kv_key("lease", key), put, held)

    def release_lease(self, key: str, owner: str) -> None:
        from tablestore import SingleColumnCondition

        mine = SingleColumnCondition("owner", owner, 0, pass_if_missing=False)
        with contextlib.suppress(Conflict):  # not ours, or gone: nothing to give up
            self._delete(kv_key("lease", key), "EXPECT_EXIST", mine)

    def claim_once(self, key: str) -> bool:
        try:
            self._put(kv_key("claim", key), [("at_us", _us(self._clock()))], "EXPECT_NOT_EXIST")
        except Conflict:
            return False
        return True

    # -- apps ------------------------------------------------------------------------------

    def put_app(self, name: str, spec: dict[str, Any]) -> bool:
        key = kv_key("app", name)
        new = self._get(key) is None
        self._put(key, [("name", json.dumps(name)), ("spec", json.dumps(spec))], "IGNORE")
        return new

    def get_app(self, name: str) -> dict[str, Any] | None:
        columns = self._get(kv_key("app", name))
        return None if columns is None else dict(json.loads(columns["spec"]))

    def list_apps(self) -> list[tuple[str, dict[str, Any]]]:
        apps = [(json.loads(c["name"]), dict(json.loads(c["spec"]))) for c in self._scan("app")]
        return sorted(apps, key=lambda app: str(app[0]))

    def delete_app(self, name: str) -> None:
        try:
            self._delete(kv_key("app", name), "EXPECT_EXIST")
        except Conflict:
            raise NotFound(f"no app {name!r} in the store") from None

    # -- tokens ----------------------------------------------------------------------------

    def put_token(
        self, name: str, sha256: str, scopes: Sequence[str], created_at: datetime
    ) -> TokenRecord:
        from tablestore import SingleColumnCondition

        record = TokenRecord(
            name=name, sha256=sha256, scopes=tuple(scopes), created_at=to_utc(created_at)
        )
        key = kv_key("token", name)
        try:
            self._put(key, _token_columns(record), "EXPECT_NOT_EXIST")
        except Conflict:
            raise Conflict(f"a token named {name!r} exists") from None
        try:
            self._put(kv_key("digest", sha256), [("name", json.dumps(name))], "EXPECT_NOT_EXIST")
        except Conflict:
            mine = SingleColumnCondition("sha256", sha256, 0, pass_if_missing=False)
            self._delete(key, "EXPECT_EXIST", mine)  # undo: the name was never given out
            raise Conflict("a token with this digest exists") from None
        return record

    def list_tokens(self) -> list[TokenRecord]:
        tokens = [_token(columns) for columns in self._scan("token")]
        return sorted(tokens, key=lambda token: token.name)

    def revoke_token(self, name: str) -> None:
        if not self._update(kv_key("token", name), [("revoked", True)], None):
            raise NotFound(f"no token named {name!r}")

    def find_token(self, sha256: str) -> TokenRecord | None:
        digest = self._get(kv_key("digest", sha256))
        if digest is None:
            return None
        columns = self._get(kv_key("token", json.loads(digest["name"])))
        return None if columns is None else _token(columns)


def _us(seconds: float) -> int:
    return int(seconds * 1_000_000)


def _token_columns(record: TokenRecord) -> list[tuple[str, Any]]:
    return [
        ("name", json.dumps(record.name)),
        ("sha256", record.sha256),
        ("scopes", json.dumps(list(record.scopes))),
        ("created_us", epoch_us(record.created_at)),
        ("created_at", record.created_at.isoformat()),
        ("revoked", record.revoked),
    ]


def _token(columns: dict[str, Any]) -> TokenRecord:
    return TokenRecord(
        name=json.loads(columns["name"]),
        sha256=columns["sha256"],
        scopes=tuple(json.loads(columns["scopes"])),
        created_at=to_utc(datetime.fromisoformat(columns["created_at"])),
        revoked=bool(columns["revoked"]),
    )
