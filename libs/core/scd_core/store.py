"""The ``RunStore`` Protocol: where runs, step states, apps, API tokens, control
requests and leases live.

Backends: ``scd_core.stores.sqlite.SqliteRunStore`` (the default, one file, several
processes), ``scd_core.stores.memory.MemoryRunStore`` (tests, one process); a
Tablestore backend can follow, since every operation is one row operation with a
condition or one range read by primary key (the mapping is given per method below).

The helpers here (cursor encoding, UTC normalisation, argument checks) are shared
by every backend so that they behave alike; they are part of the backend-author
API, not of the caller's.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from datetime import datetime, timezone
from typing import Any, Protocol, TypeVar, runtime_checkable

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import PydanticSerializationError

from scd_core.errors import BackendError, BadRequest, Conflict, NotFound, ScdError
from scd_core.models import STATUSES, Event, Run, StepState

__all__ = [
    "CONTROL_ACTIONS",
    "MAX_LIST_LIMIT",
    "Created",
    "RunStore",
    "TokenRecord",
    "check_control_action",
    "check_list_args",
    "create_runs",
    "decode_cursor",
    "dump_model",
    "encode_cursor",
    "epoch_us",
    "load_model",
    "normalise_run",
    "normalise_step",
    "run_matches",
    "to_utc",
    "update_refusal",
]

M = TypeVar("M", bound=BaseModel)

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
class RunStore(Protocol):
    """Durable state shared by the trigger and the workers.

    **Call order.** Open a backend (``scd_core.stores.open_store``), call any method
    from any thread, ``close()`` once at the end; after ``close()`` every call raises
    ``BackendError``. A run is created once (``create_run``) and then only changed
    through ``update_run``; runs are never deleted through this Protocol, so a run
    id, once seen, stays readable.

    **Idempotency.** ``create_run`` is create-if-absent on ``dedup_key``: a retried
    webhook delivery returns the first run. ``put_step`` is an upsert. ``claim_once``
    answers True once per key, ever. ``request_control``, ``release_lease`` and
    ``acquire_lease`` by the current owner may be repeated freely.

    **Concurrency.** Every method is atomic on its own and safe to call from many
    threads and processes at once. Writers coordinate without locks held across
    calls: ``update_run`` is optimistic (conditional on ``Run.version``; the loser
    gets ``Conflict`` and must re-read with ``get_run`` and decide again); exclusive
    work (running a job, a scheduler) is guarded by a lease that its holder renews
    before ``ttl_s`` runs out. Lease expiry uses the wall clock of the caller
    (``time.time()``), so processes sharing a store need roughly synchronised clocks.

    **Values.** Datetimes come back timezone-aware in UTC (naive ones given are taken
    as UTC). A run's ``event`` (payload included) round-trips exactly, even strings
    that are not valid UTF-8 (lone surrogates from JSON escapes); only non-finite
    floats (``NaN``, ``Infinity``, which JSON lacks) come back as None. Returned
    models are copies: mutating them changes nothing stored.

    **Errors.** ``NotFound``, ``Conflict`` and ``BadRequest`` as stated per method;
    any failure of the underlying storage is ``BackendError`` with the cause chained.
    """

    def create_run(self, run: Run) -> tuple[Run, bool]:
        """Record ``run`` unless a run with its ``dedup_key`` exists.

        Returns ``(the stored run, True)`` when created, or ``(the existing run,
        False)``. A run is never half-written. ``Conflict`` when ``run.id`` is already
        taken by a run with another dedup key. The version is stored as given
        (normally 0). Tablestore: ``PutRow`` of a ``dedup`` row (pk ``dedup_key`` →
        run id) with ``EXPECT_NOT_EXIST``, then ``PutRow`` of the run row with
        ``EXPECT_NOT_EXIST`` (a local transaction, or the dedup row wins and the run row
        is written idempotently after it); on ``OTSConditionCheckFail`` ``GetRow`` the
        dedup row and then the run.
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
        """Replace the stored run if its version still equals ``run.version``.

        Stores and returns the run with ``version + 1``. ``NotFound`` if there is no
        such run, ``Conflict`` if the stored version differs (someone else updated it
        first), ``BadRequest`` if ``app``, ``dedup_key`` or ``created_at`` differ from
        the stored ones (they key the indexes and never change). Tablestore:
        ``UpdateRow`` with ``EXPECT_EXIST`` and ``SingleColumnCondition('version',
        v, EQUAL, pass_if_missing=False)``, putting ``version = v + 1``.
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
        """Insert or replace the state of step ``step.id`` of run ``run_id``.

        Last write wins; the run's existence is not checked. Tablestore: ``PutRow``
        on pk ``(run_id, step_id)`` with ``IGNORE``.
        """
        ...

    def list_steps(self, run_id: str) -> list[StepState]:
        """Every recorded step of a run, ordered by ``index`` then ``id``; ``[]`` for
        an unknown run. Tablestore: ``GetRange`` on pk prefix ``run_id``, sorted."""
        ...

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

    def put_app(self, name: str, spec: dict[str, Any]) -> bool:
        """Insert or replace the app ``name`` registered through the API; True if new.

        ``spec`` is the app's mapping as in scd.yaml (already validated by the
        caller), stored as JSON and given back equal. It may hold the webhook secret:
        the store is the secret's home (on FC too), so callers must never echo a
        spec back to a client. Tablestore: ``PutRow`` on pk ``name`` with ``IGNORE``
        (a ``GetRow`` before it tells new from replaced).
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

    def close(self) -> None:
        """Release connections; idempotent. Later calls raise ``BackendError``."""
        ...


def create_runs(store: RunStore, runs: Sequence[Run]) -> list[Created]:
    """``store.create_run`` of each run, in order, each answer or ``ScdError`` in its place.

    A backend with a ``create_runs`` method of the same contract does them in one
    write (SQLite: one transaction, so one commit for many webhooks); others get one
    call per run. A failure of the write as a whole (the commit) raises
    ``BackendError`` for all of them and none is created. Errors other than
    ``ScdError`` propagate.
    """
    batch = getattr(store, "create_runs", None)
    if batch is not None:
        answers: list[Created] = batch(runs)
        return answers
    out: list[Created] = []
    for run in runs:
        try:
            out.append(store.create_run(run))
        except ScdError as exc:
            out.append(exc)
    return out


def dump_model(model: BaseModel) -> str:
    """``model`` as JSON text for a store row; ASCII-escaped if it holds lone surrogates.

    A model with an ``event`` (a ``Run``, a ``Job``) whose JSON was built from the
    delivered payload (``Event.delivered_json``) gets that text written as it is:
    the payload, nearly all of a webhook's row, is not encoded again. Keys may then
    come in another order; the value is the same.
    """
    event = getattr(model, "event", None)
    if isinstance(event, Event):
        delivered = event.delivered_json
        if delivered is not None:
            try:
                head = model.__pydantic_serializer__.to_json(model, exclude={"event": True})
            except PydanticSerializationError:
                pass  # a lone surrogate outside the event: the general path below
            else:
                # a Run and a Job have required fields: their JSON is never "{}"
                return f'{head.decode()[:-1]},"event":{delivered}}}'
    try:
        return model.model_dump_json()
    except PydanticSerializationError:
        # pydantic cannot encode a lone surrogate (valid in a JSON escape, so a webhook
        # may carry one); json.dumps escapes it and the text stays ASCII
        return json.dumps(model.model_dump(mode="json"))


def load_model(cls: type[M], data: str) -> M:
    """The model stored by ``dump_model``; ``BackendError`` if the row is corrupt."""
    try:
        return cls.model_validate_json(data)
    except ValidationError:
        pass  # an escaped lone surrogate, which pydantic's JSON parser refuses
    try:
        return cls.model_validate(json.loads(data))
    except (ValueError, ValidationError) as exc:
        raise BackendError(f"a stored {cls.__name__} is unreadable") from exc


def to_utc(value: datetime) -> datetime:
    """``value`` as an aware datetime in ``timezone.utc`` (a naive one is taken as UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _opt_utc(value: datetime | None) -> datetime | None:
    return None if value is None else to_utc(value)


def normalise_run(run: Run) -> Run:
    """``run`` with its datetimes aware UTC (``timezone.utc``): a copy, or ``run``
    itself when they already are (as for every new run: copying a payload costs)."""
    if all(
        when is None or when.tzinfo is timezone.utc
        for when in (run.created_at, run.started_at, run.finished_at)
    ):
        return run
    return run.model_copy(
        update={
            "created_at": to_utc(run.created_at),
            "started_at": _opt_utc(run.started_at),
            "finished_at": _opt_utc(run.finished_at),
        }
    )


def normalise_step(step: StepState) -> StepState:
    """A copy of ``step`` whose datetimes are aware UTC (``timezone.utc``)."""
    return step.model_copy(
        update={"started_at": _opt_utc(step.started_at), "finished_at": _opt_utc(step.finished_at)}
    )


def epoch_us(value: datetime) -> int:
    """Microseconds since the Unix epoch: the sortable form of ``created_at``."""
    delta = to_utc(value) - datetime(1970, 1, 1, tzinfo=timezone.utc)
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds


def encode_cursor(created_us: int, run_id: str) -> str:
    """The opaque cursor pointing just after the run ``(created_us, run_id)``."""
    raw = f"{created_us}:{run_id}".encode()
    return base64.urlsafe_b64encode(raw).decode("ascii").rstrip("=")


def decode_cursor(cursor: str) -> tuple[int, str]:
    """The ``(created_us, run_id)`` inside a cursor; ``BadRequest`` if malformed."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        text = base64.urlsafe_b64decode(padded.encode("ascii")).decode()
        created, _, run_id = text.partition(":")
        if not run_id:
            raise ValueError("no run id")
        return int(created), run_id
    except (ValueError, UnicodeError, binascii.Error) as exc:
        raise BadRequest("invalid cursor") from exc


def check_list_args(status: str | None, limit: int) -> None:
    """``BadRequest`` unless ``status`` is a known status (or None) and ``limit`` fits."""
    if status is not None and status not in STATUSES:
        raise BadRequest(f"unknown status {status!r} (accepted: {', '.join(STATUSES)})")
    if not 1 <= limit <= MAX_LIST_LIMIT:
        raise BadRequest(f"limit must be between 1 and {MAX_LIST_LIMIT}, not {limit}")


def update_refusal(run: Run, stored_version: int | None) -> ScdError:
    """Why ``update_run(run)`` was refused, for a backend to raise: ``NotFound`` when there
    is no stored run (``stored_version`` None), ``Conflict`` when the stored version is not
    the one ``run`` was based on, else ``BadRequest`` (``app``, ``dedup_key`` or
    ``created_at`` differ from the stored run's)."""
    if stored_version is None:
        return NotFound(f"no run {run.id!r}")
    if stored_version != run.version:
        return Conflict(
            f"run {run.id!r} is at version {stored_version}, the update was based on {run.version}"
        )
    return BadRequest(f"run {run.id!r}: app, dedup_key and created_at cannot change")


def run_matches(
    run: Run,
    *,
    app: str | None = None,
    status: str | None = None,
    event: str | None = None,
    branch: str | None = None,
) -> bool:
    """Whether ``run`` passes ``list_runs``' filters (None matches anything)."""
    return (
        (app is None or run.app == app)
        and (status is None or run.status == status)
        and (event is None or run.event.event_name == event)
        and (branch is None or run.event.branch == branch)
    )


def check_control_action(action: str) -> None:
    """``BadRequest`` unless ``action`` is one of ``CONTROL_ACTIONS``."""
    if action not in CONTROL_ACTIONS:
        raise BadRequest(
            f"unknown control action {action!r} (accepted: {', '.join(CONTROL_ACTIONS)})"
        )
