"""The ``RunStore`` Protocol: where runs (with their tasks and steps), control
requests, leases, apps and API tokens live.

``RunStore`` is the composition of five role Protocols, each with its own contract,
so that a backend can be written, and checked by the conformance suite, one role
at a time: ``RunRecords`` (runs, their task states, their step states),
``Controls`` (cancel, pause, resume requests), ``Leases`` (exclusive work and
one-time claims), ``AppRegistry`` (apps registered through the API) and
``TokenRegistry`` (API token digests). A caller that needs one role takes that
role's type.

Backends: ``scd_core.stores.sqlite.SqliteRunStore`` (the default, one file, several
processes), ``scd_core.stores.memory.MemoryRunStore`` (tests, one process); a
Tablestore backend can follow, since every operation is one row operation with a
condition or one range read by primary key (the mapping is given per method).
What every backend shares (cursors, UTC normalisation, row encoding, argument
checks) is in ``scd_core.stores.rows``, the backend author's module.

**Common to every role.** Open a backend (``scd_core.stores.open_store``), call any
method from any thread, ``close()`` once at the end; after ``close()`` every call
raises ``BackendError``. Every method is atomic on its own and safe to call from
many threads and processes at once; no lock is held across calls. Datetimes come
back timezone-aware in UTC (naive ones given are taken as UTC). Returned models
are copies: mutating them changes nothing stored. Any failure of the underlying
storage is ``BackendError`` with the cause chained; other errors are stated per
method.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from scd_core.errors import ScdError
from scd_core.models import Run, StepState

__all__ = [
    "CONTROL_ACTIONS",
    "MAX_LIST_LIMIT",
    "AppRegistry",
    "Controls",
    "Created",
    "Leases",
    "RunRecords",
    "RunStore",
    "TokenRecord",
    "TokenRegistry",
    "create_runs",
]

CONTROL_ACTIONS: tuple[str, ...] = ("cancel", "pause", "resume")

Created = tuple[Run, bool] | ScdError
"""What ``create_runs`` answers per run: ``create_run``'s answer or its error."""
MAX_LIST_LIMIT = 1000


class TokenRecord(BaseModel):
    """An API token as a store keeps it: its SHA-256 hex digest, never the token."""

    # built on first use: tokens are not on a webhook's cold start
    model_config = ConfigDict(frozen=True, defer_build=True)

    name: str
    sha256: str
    scopes: tuple[str, ...]
    created_at: datetime
    revoked: bool = False


@runtime_checkable
class RunRecords(Protocol):
    """Runs, the task states inside them, and the state of each step of each task.

    **Call order.** A run is created once (``create_run`` or ``create_runs``) and
    then only changed through ``update_run``; runs are never deleted, so a run id,
    once seen, stays readable. A run's task states (``Run.tasks``) are part of the
    run record: one ``update_run`` changes the run and its tasks together, which is
    how concurrent tasks fan in. Step states are separate rows, keyed by
    ``(run id, step.task, step.id)``, written with ``put_step`` at any time.

    **Idempotency.** ``create_run`` is create-if-absent on ``dedup_key``: a retried
    webhook delivery returns the first run. ``put_step`` is an upsert.

    **Concurrency.** ``update_run`` is optimistic (conditional on ``Run.version``):
    the loser gets ``Conflict`` and must re-read with ``get_run`` and decide again.
    Two writers of one step's state are not coordinated: the last write wins, so a
    step belongs to the one worker holding its task's lease.

    **Run numbers.** The store numbers each app's runs 1, 2, 3... as it creates them
    (``Run.number``, ``web #42``); whatever number a caller's run holds is ignored.
    The number is allocated in the same atomic write as the run, so it is unique
    per app under concurrent creation from any number of threads and processes, and
    dense (no gaps) where that write is a transaction (SQLite, memory). A dedup hit
    returns the existing run with its number and allocates nothing. A number never
    changes: ``update_run`` keeps the stored one. A backend without multi-row
    transactions (Tablestore) keeps a counter row per app: ``GetRow`` it, then
    ``UpdateRow`` it to ``last + 1`` with the condition ``last`` unchanged, retrying on
    ``OTSConditionCheckFail``, before the run row is written; that may leave a gap
    where a creation failed after its allocation, never a duplicate. Files of an
    older release get numbers in creation order (``created_at``, then id) when
    migrated.

    **Values.** A run's ``event`` (payload included) and its ``tasks`` round-trip
    exactly, even strings that are not valid UTF-8 (lone surrogates from JSON
    escapes); only non-finite floats (``NaN``, ``Infinity``, which JSON lacks) come
    back as None.
    """

    def create_run(self, run: Run) -> tuple[Run, bool]:
        """Record ``run`` unless a run with its ``dedup_key`` exists.

        Returns ``(the stored run, True)`` when created, or ``(the existing run,
        False)``. A run is never half-written. ``Conflict`` when ``run.id`` is already
        taken by a run with another dedup key; ``BadRequest`` for a key the backend
        cannot store (not valid Unicode). The version is stored as given (normally 0).
        Tablestore: ``PutRow`` of a ``dedup`` row (pk ``dedup_key`` → run id) with
        ``EXPECT_NOT_EXIST``, then ``PutRow`` of the run row with ``EXPECT_NOT_EXIST``
        (a local transaction, or the dedup row wins and the run row is written
        idempotently after it); on ``OTSConditionCheckFail`` ``GetRow`` the dedup row
        and then the run.
        """
        ...

    def create_runs(self, runs: Sequence[Run]) -> list[Created]:
        """``create_run`` of each run, in order: each answer, or the ``ScdError`` that
        ``create_run`` would raise for that run (that run alone is not written).

        Runs sharing a dedup key in one batch behave as if created one after another.
        A backend may write the whole batch at once (SQLite: one transaction, so one
        commit for a burst of webhooks); if that write fails as a whole,
        ``BackendError`` is raised and none of the runs is created. Tablestore:
        ``BatchWriteRow`` of the dedup rows with ``EXPECT_NOT_EXIST``, then of the run
        rows, resolving each failed row as ``create_run`` does.
        """
        ...

    def get_run(self, run_id: str) -> Run:
        """The run with this id; ``NotFound`` otherwise. Tablestore: ``GetRow``."""
        ...

    def find_run(self, dedup_key: str) -> Run | None:
        """The run created with this dedup key, or None. Tablestore: ``GetRow`` on
        the dedup row, then on the run row."""
        ...

    def update_run(self, run: Run) -> Run:
        """Replace the stored run (its tasks included) if its version still equals
        ``run.version``.

        Stores and returns the run with ``version + 1``. ``NotFound`` if there is no
        such run, ``Conflict`` if the stored version differs (someone else updated it
        first), ``BadRequest`` if ``app``, ``dedup_key`` or ``created_at`` differ from
        the stored ones (they key the indexes and never change). Tablestore:
        ``UpdateRow`` with ``EXPECT_EXIST`` and ``SingleColumnCondition('version',
        v, EQUAL, pass_if_missing=False)``, putting ``version = v + 1`` and the
        tasks in the run's data column (a run's tasks are few: a matrix is bounded).
        """
        ...

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
        """A page of runs, newest first by ``(created_at, id)``, optionally filtered.

        ``event`` matches ``run.event.event_name`` and ``branch`` ``run.event.branch``
        (exact strings; an unknown one simply matches nothing).

        Returns the runs and an opaque cursor for the next page, or None at the end.
        A page may hold fewer than ``limit`` runs only at the end. ``BadRequest`` for
        ``limit`` outside 1..``MAX_LIST_LIMIT``, an unknown status or a malformed
        cursor. Runs created after the first page was read appear only if they sort
        after the cursor. Tablestore: ``GetRange`` ``BACKWARD`` on a local index
        ``(app, created_at, id)`` (or a global one on ``(created_at, id)`` when no app is
        given), status, event name and branch as column filters on attribute columns
        written with the run, the cursor being the last primary key.
        """
        ...

    def put_step(self, run_id: str, step: StepState) -> None:
        """Insert or replace the state of step ``step.id`` of task ``step.task`` of
        run ``run_id``.

        Steps of different tasks never replace each other, even with equal ids.
        Last write wins; the run's existence is not checked. Tablestore: ``PutRow``
        on pk ``(run_id, task, step_id)`` with ``IGNORE``.
        """
        ...

    def list_steps(self, run_id: str, task: str | None = None) -> list[StepState]:
        """The recorded steps of a run: of task ``task``, ordered by ``index`` then
        ``id``; or, with ``task`` None, of every task, ordered by task id, then
        ``index``, then ``id``. ``[]`` for an unknown run or task. Tablestore:
        ``GetRange`` on pk prefix ``run_id`` (and ``task``), sorted."""
        ...


@runtime_checkable
class Controls(Protocol):
    """Control requests to the worker of a run: cancel, pause, resume.

    **Call order.** A client requests; the worker polls ``get_control`` between and
    during steps and acts. Requests are per run and outlive the run's end.

    **Idempotency.** Repeating a request changes nothing; ``cancel`` is final.

    **Concurrency.** Requests from many clients race safely: the latest one
    replaces an earlier one, except that no request replaces ``cancel``.
    """

    def request_control(self, run_id: str, action: str) -> None:
        """Ask the worker running ``run_id`` to ``cancel``, ``pause`` or ``resume``.

        The latest request replaces an earlier one, except that ``cancel`` is final:
        once requested it stays. ``NotFound`` for an unknown run, ``BadRequest`` for
        another action. Tablestore: ``GetRow`` the run, then ``PutRow`` on the control
        row with a column condition ``action != 'cancel'`` (pass if missing).
        """
        ...

    def get_control(self, run_id: str) -> str | None:
        """The pending control request of a run, or None. Tablestore: ``GetRow``."""
        ...


@runtime_checkable
class Leases(Protocol):
    """Leases that guard exclusive work, and markers claimed once.

    **Call order.** ``acquire_lease``, then ``renew_lease`` before ``ttl_s`` runs out
    for as long as the work goes on, then ``release_lease``. Keys are the caller's
    (a worker leases the task it runs, a scheduler its own name); leases and
    markers have separate key spaces.

    **Idempotency.** ``acquire_lease`` by the current owner renews; ``release_lease``
    may be repeated; ``claim_once`` answers True once per key, ever.

    **Concurrency.** Exactly one of any number of racing callers gets a free lease
    or a marker. Expiry uses the wall clock of the caller (``time.time()``), so
    processes sharing a store need roughly synchronised clocks.
    """

    def acquire_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        """Take the lease ``key`` for ``owner`` for ``ttl_s`` seconds from now.

        True if it was free, expired or already held by ``owner`` (then it is
        renewed); False while another owner holds it. Tablestore: ``PutRow`` with
        ``EXPECT_NOT_EXIST``, else ``UpdateRow`` conditional on ``owner == owner OR
        expires <= now``.
        """
        ...

    def renew_lease(self, key: str, owner: str, ttl_s: float) -> bool:
        """Extend a lease that ``owner`` still holds to ``ttl_s`` from now.

        False if the lease expired, was taken by another owner or never existed: the
        caller lost it and must stop the guarded work (or try ``acquire_lease``).
        Tablestore: ``UpdateRow`` conditional on ``owner == owner AND expires > now``.
        """
        ...

    def release_lease(self, key: str, owner: str) -> None:
        """Give the lease up if ``owner`` holds it; otherwise do nothing.
        Tablestore: ``DeleteRow`` conditional on ``owner == owner``."""
        ...

    def claim_once(self, key: str) -> bool:
        """Create the marker ``key``: True for the first caller only, ever.

        Markers are never removed, so a schedule tick claimed before a restart stays
        claimed. Tablestore: ``PutRow`` with ``EXPECT_NOT_EXIST``.
        """
        ...


@runtime_checkable
class AppRegistry(Protocol):
    """Apps registered through the API (apps in scd.yaml are not stored).

    **Idempotency.** ``put_app`` is an upsert; ``delete_app`` of a missing app is
    ``NotFound``. **Concurrency.** Last write wins; the store is an app secret's
    home (on FC too), so callers must never echo a spec back to a client.
    """

    def put_app(self, name: str, spec: dict[str, Any]) -> bool:
        """Insert or replace the app ``name`` registered through the API; True if new.

        ``spec`` is the app's mapping as in scd.yaml (already validated by the
        caller), stored as JSON and given back equal. Tablestore: ``PutRow`` on pk
        ``name`` with ``IGNORE`` (a ``GetRow`` before it tells new from replaced).
        """
        ...

    def get_app(self, name: str) -> dict[str, Any] | None:
        """The spec stored for app ``name``, or None. Tablestore: ``GetRow``."""
        ...

    def list_apps(self) -> list[tuple[str, dict[str, Any]]]:
        """Every stored app as ``(name, spec)``, sorted by name. Tablestore:
        ``GetRange`` over the whole apps table."""
        ...

    def delete_app(self, name: str) -> None:
        """Remove the app ``name``; ``NotFound`` if it is not stored. Its runs stay.
        Tablestore: ``DeleteRow`` with ``EXPECT_EXIST``."""
        ...


@runtime_checkable
class TokenRegistry(Protocol):
    """API tokens, known by their SHA-256 digest only.

    **Idempotency.** ``put_token`` creates once (names are never reused);
    ``revoke_token`` may be repeated. **Concurrency.** Of racing ``put_token`` calls
    with one name or digest, one wins and the others get ``Conflict``; a revocation
    is seen by every later ``find_token``.
    """

    def put_token(
        self, name: str, sha256: str, scopes: Sequence[str], created_at: datetime
    ) -> TokenRecord:
        """Record a new API token by its SHA-256 hex digest; the stored record.

        ``Conflict`` if a token called ``name`` exists (revoked ones included:
        names are never reused, so a revocation cannot be undone by recreating)
        or the digest is already recorded. Tablestore: ``PutRow`` on pk ``name``
        with ``EXPECT_NOT_EXIST``, then a ``digest`` row (pk ``sha256`` → name) the
        same way.
        """
        ...

    def list_tokens(self) -> list[TokenRecord]:
        """Every recorded token (revoked ones too), sorted by name. Tablestore:
        ``GetRange`` over the tokens table."""
        ...

    def revoke_token(self, name: str) -> None:
        """Mark the token ``name`` revoked, at once and for good; idempotent.
        ``NotFound`` for an unknown name. Tablestore: ``UpdateRow`` with
        ``EXPECT_EXIST`` putting ``revoked = true``."""
        ...

    def find_token(self, sha256: str) -> TokenRecord | None:
        """The token recorded with this digest (revoked or not), or None; the caller
        checks ``revoked``. Tablestore: ``GetRow`` on the digest row, then the token."""
        ...


@runtime_checkable
class RunStore(RunRecords, Controls, Leases, AppRegistry, TokenRegistry, Protocol):
    """Durable state shared by the trigger and the workers: every role in one object.

    The roles' contracts hold as stated on each; ``close`` ends them all. The
    schema of a durable backend carries a version: opening a store written by an
    older release migrates it in place (once, whichever process gets there first),
    and one written by a newer release is refused with ``ConfigError``.
    """

    def close(self) -> None:
        """Release connections; idempotent. Later calls raise ``BackendError``."""
        ...


def create_runs(store: RunRecords, runs: Sequence[Run]) -> list[Created]:
    """``store.create_runs(runs)``: kept for callers that take the store as an argument."""
    return store.create_runs(runs)
