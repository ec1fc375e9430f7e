"""``MemoryRunStore``: the ``RunStore`` contract in a dict, for tests and demos.

Thread-safe (one lock around every method), one process only, lost on exit. It
keeps deep copies, so callers can never alias what is stored.
"""

from __future__ import annotations

import copy
import json
import threading
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from scd_core.errors import BackendError, Conflict, NotFound, ScdError
from scd_core.models import Run, StepState
from scd_core.store import Created, TokenRecord
from scd_core.stores.rows import (
    check_control_action,
    check_list_args,
    decode_cursor,
    encode_cursor,
    epoch_us,
    normalise_run,
    normalise_step,
    run_matches,
    to_utc,
    update_refusal,
)

__all__ = ["MemoryRunStore"]


class MemoryRunStore:
    """A ``RunStore`` held in memory; ``clock`` gives lease time in seconds."""

    def __init__(self, *, clock: Callable[[], float] = time.time) -> None:
        self._clock = clock
        self._lock = threading.Lock()
        self._closed = False
        self._runs: dict[str, Run] = {}
        self._by_dedup: dict[str, str] = {}
        self._numbers: dict[str, int] = {}  # app -> its highest run number
        self._steps: dict[str, dict[tuple[str, str], StepState]] = {}
        self._controls: dict[str, str] = {}
        self._leases: dict[str, tuple[str, float]] = {}
        self._claims: set[str] = set()
        self._apps: dict[str, dict[str, Any]] = {}
        self._tokens: dict[str, TokenRecord] = {}

    def __repr__(self) -> str:
        return "MemoryRunStore()"

    def _check_open(self) -> None:
        if self._closed:
            raise BackendError("the run store is closed")

    def close(self) -> None:
        with self._lock:
            self._closed = True

    # -- runs -----------------------------------------------------------------------

    def create_run(self, run: Run) -> tuple[Run, bool]:
        run = normalise_run(run).model_copy(deep=True)
        with self._lock:
            self._check_open()
            stored, created = self._insert(run)
        return stored.model_copy(deep=True), created

    def create_runs(self, runs: Sequence[Run]) -> list[Created]:
        copies = [normalise_run(run).model_copy(deep=True) for run in runs]
        answers: list[Created] = []
        with self._lock:  # one write, as SQLite's transaction: closed means none
            self._check_open()
            for run in copies:
                try:
                    answers.append(self._insert(run))
                except ScdError as exc:
                    answers.append(exc)
        return [
            answer if isinstance(answer, ScdError) else (answer[0].model_copy(deep=True), answer[1])
            for answer in answers
        ]

    def _insert(self, run: Run) -> tuple[Run, bool]:
        """Store ``run`` (a private copy) unless its dedup key is known; under the lock."""
        existing = self._by_dedup.get(run.dedup_key)
        if existing is not None:
            return self._runs[existing], False
        if run.id in self._runs:
            raise Conflict(f"run id {run.id!r} is taken by another dedup key")
        number = self._numbers.get(run.app, 0) + 1
        self._numbers[run.app] = number
        run = run.model_copy(update={"number": number})
        self._runs[run.id] = run
        self._by_dedup[run.dedup_key] = run.id
        return run, True

    def get_run(self, run_id: str) -> Run:
        with self._lock:
            self._check_open()
            run = self._runs.get(run_id)
            if run is None:
                raise NotFound(f"no run {run_id!r}")
            return run.model_copy(deep=True)

    def find_run(self, dedup_key: str) -> Run | None:
        with self._lock:
            self._check_open()
            run_id = self._by_dedup.get(dedup_key)
            return None if run_id is None else self._runs[run_id].model_copy(deep=True)

    def update_run(self, run: Run) -> Run:
        new = normalise_run(run).model_copy(update={"version": run.version + 1}, deep=True)
        with self._lock:
            self._check_open()
            stored = self._runs.get(run.id)
            if (
                stored is None
                or stored.version != run.version
                or (stored.app, stored.dedup_key, stored.created_at)
                != (new.app, new.dedup_key, new.created_at)
            ):
                raise update_refusal(run, None if stored is None else stored.version)
            new.number = stored.number  # allocated once, at creation
            self._runs[run.id] = new
        return new.model_copy(deep=True)

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
        check_list_args(status, limit)
        after = decode_cursor(cursor) if cursor is not None else None
        with self._lock:
            self._check_open()
            keyed = [
                ((epoch_us(run.created_at), run.id), run)
                for run in self._runs.values()
                if run_matches(run, app=app, status=status, event=event, branch=branch)
            ]
            keyed = [item for item in keyed if after is None or item[0] < after]
            keyed.sort(key=lambda item: item[0], reverse=True)
            page = [(key, run.model_copy(deep=True)) for key, run in keyed[:limit]]
            more = len(keyed) > limit
        next_cursor = encode_cursor(*page[-1][0]) if more else None
        return [run for _, run in page], next_cursor

    # -- steps and control ----------------------------------------------------------------

    def put_step(self, run_id: str, step: StepState) -> None:
        step = normalise_step(step).model_copy(deep=True)
        with self._lock:
            self._check_open()
            self._steps.setdefault(run_id, {})[(step.task, step.id)] = step

    def list_steps(self, run_id: str, task: str | None = None) -> list[StepState]:
        with self._lock:
            self._check_open()
            steps = [
                step
                for step in self._steps.get(run_id, {}).values()
                if task is None or step.task == task
            ]
            steps.sort(key=lambda step: (step.task, step.index, step.id))
            return [step.model_copy(deep=True) for step in steps]

    def request_control(self, run_id: str, action: str) -> None:
        check_control_action(action)
        with self._lock:
            self._check_open()
            if run_id not in self._runs:
                raise NotFound(f"no run {run_id!r}")
            if self._controls.get(run_id) != "cancel":
                self._controls[run_id] = action

    def get_control(self, run_id: str) -> str | None:
        with self._lock:
            self._check_open()
            return self._controls.get(run_id)

    # -- apps and tokens ----------------------------------------------------------------

    def put_app(self, name: str, spec: dict[str, Any]) -> bool:
        # a JSON round trip, as the other backends store it
        stored = json.loads(json.dumps(spec))
        with self._lock:
            self._check_open()
            new = name not in self._apps
            self._apps[name] = stored
        return new

    def get_app(self, name: str) -> dict[str, Any] | None:
        with self._lock:
            self._check_open()
            spec = self._apps.get(name)
            return None if spec is None else copy.deepcopy(spec)

    def list_apps(self) -> list[tuple[str, dict[str, Any]]]:
        with self._lock:
            self._check_open()
            return [(name, copy.deepcopy(self._apps[name])) for name in sorted(self._apps)]

    def delete_app(self, name: str) -> None:
        with self._lock:
            self._check_open()
            if self._apps.pop(name, None) is None:
                raise NotFound(f"no app {name!r} in the store")

    def put_token(
        self, name: str, sha256: str, scopes: Sequence[str], created_at: datetime
    ) -> TokenRecord:
        record = TokenRecord(
            name=name, sha256=sha256, scopes=tuple(scopes), created_at=to_utc(created_at)
        )
        with self._lock:
            self._check_open()
            taken = name in self._tokens or any(t.sha256 == sha256 for t in self._tokens.values())
            if taken:
                raise Conflict(f"a token named {name!r} (or with this digest) exists")
            self._tokens[name] = record
        return record

    def list_tokens(self) -> list[TokenRecord]:
        with self._lock:
            self._check_open()
            return [self._tokens[name] for name in sorted(self._tokens)]

    def revoke_token(self, name: str) -> None:
        with self._lock:
            self._check_open()
            record = self._tokens.get(name)
            if record is None:
                raise NotFound(f"no token named {name!r}")
            self._tokens[name] = record.model_copy(update={"revoked": True})

    def find_token(self, sha256: str) -> TokenRecord | None:
        with self._lock:
            self._check_open()
            return next((t for t in self._tokens.values() if t.sha256 == sha256), None)

    # -- leases and claims ------------------------------------------------------------------

    def acquire_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        now = self._clock()
        with self._lock:
            self._check_open()
            held = self._leases.get(key)
            if held is not None and held[0] != owner and held[1] > now:
                return False
            self._leases[key] = (owner, now + ttl_s)
            return True

    def renew_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        now = self._clock()
        with self._lock:
            self._check_open()
            held = self._leases.get(key)
            if held is None or held[0] != owner or held[1] <= now:
                return False
            self._leases[key] = (owner, now + ttl_s)
            return True

    def release_lease(self, key: str, owner: str) -> None:
        with self._lock:
            self._check_open()
            held = self._leases.get(key)
            if held is not None and held[0] == owner:
                del self._leases[key]

    def claim_once(self, key: str) -> bool:
        with self._lock:
            self._check_open()
            if key in self._claims:
                return False
            self._claims.add(key)
            return True
