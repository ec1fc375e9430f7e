"""The lifecycle listener that queues what a run's changes should tell the world.

Contract: a :class:`Reporter` is a lifecycle listener (``lifecycle.listen(reporter)``).
For each change it looks the app up and queues, in the outbox, one delivery per
thing to say, keyed by the change's idempotency key (a change heard twice queues
once): commit statuses (when the app's secrets name a ``status_token``, or
``SCD_SECRET_STATUS_TOKEN`` is set for every app, and the run has a commit),
completion callbacks (for the events each asks for), and, on ``run.finished``,
the app's ``notify:`` entries whose condition holds. It does no
network I/O: a :class:`~functions.report.courier.Courier` sends. It then calls
``wake`` so a courier in this process sends at once. It never raises for an
unknown app or a store error (logged), so it can never fail a status change.

Statuses: context ``scd/<app>`` for the run (``pending`` when queued, ``running``
when started, the final state when it ends), and ``scd/<app>/<task>`` per task
when the run has more than one task. Descriptions: "queued", "running", "3 steps
passed in 42 s", "step test failed", "cancelled", "error: <message>".
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any

from scd_core.errors import ScdError
from scd_core.lifecycle_events import Change
from scd_core.models import Run, StepState
from scd_core.store import RunStore

from functions.report.outbox import Outbox

if TYPE_CHECKING:
    from scd_trigger_spec import App

__all__ = ["CALLBACK_RETRY_S", "STATUS_RETRY_S", "Reporter", "run_url", "seconds"]

STATUS_RETRY_S = 3600.0
CALLBACK_RETRY_S = 86400.0
_PROVIDERS = ("github", "gitee", "gitlab", "codeup")
_FAILED = ("failure", "error")
log = logging.getLogger("scd.report")


def run_url(public_url: str | None, run_id: str) -> str | None:
    """The run's page on the dashboard, or None without a public URL."""
    return f"{public_url.rstrip('/')}/ui/runs/{run_id}" if public_url else None


def seconds(run: Run) -> float | None:
    """How long the run ran, or None if it has not both started and ended."""
    return _span(run.started_at, run.finished_at)


def _span(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return round((end - start).total_seconds(), 3)


def _description(status: str, steps: list[StepState], run: Run, message: str | None) -> str:
    if status in ("queued", "pending"):
        return "queued"
    if status == "running":
        return "running"
    failed = [s for s in steps if s.conclusion in _FAILED]
    if status == "failure" and failed:
        return f"step {failed[0].id} failed"
    if status == "error":
        return f"error: {message}" if message else "error"
    if status == "success":
        took = seconds(run)
        passed = sum(1 for s in steps if s.conclusion == "success")
        span = f" in {took:.0f} s" if took is not None else ""
        return f"{passed} step{'s' if passed != 1 else ''} passed{span}"
    return status


class Reporter:
    """Queues statuses, callbacks and notifications for lifecycle changes."""

    def __init__(
        self,
        outbox: Outbox,
        store: RunStore,
        load_app: Callable[[str], App | None],
        public_url: str | None = None,
        wake: Callable[[], None] | None = None,
        environ: Mapping[str, str] | None = None,
    ) -> None:
        self.outbox = outbox
        # a machine-wide SCD_SECRET_STATUS_TOKEN turns statuses on for every app
        self.global_token = bool((environ or {}).get("SCD_SECRET_STATUS_TOKEN"))
        self.store = store
        self.load_app = load_app
        self.public_url = public_url
        self.wake = wake

    def __call__(self, change: Change) -> None:
        try:
            app = self.load_app(change.run.app)
        except ScdError as exc:
            log.warning("run %s: no report (app: %s)", change.run.id, exc)
            return
        if app is None:
            return
        queued = self._statuses(app, change) + self._callbacks(app, change)
        if change.name == "run.finished":
            queued += self._notifications(app, change.run)
        if queued and self.wake is not None:
            self.wake()

    # -- commit statuses -----------------------------------------------------------

    def _statuses(self, app: App, change: Change) -> int:
        run = change.run
        provider = app.provider or run.event.provider
        has_token = "status_token" in app.secrets or self.global_token
        if not has_token or provider not in _PROVIDERS:
            return 0
        if not run.event.commit:
            return 0
        several = len(run.tasks) > 1
        targets: list[tuple[str, str, str | None]] = []  # context, status, message
        if change.name in ("run.queued", "run.started", "run.finished"):
            targets.append((f"scd/{app.name}", run.status, run.message))
            if change.name == "run.queued" and several:
                targets += [(f"scd/{app.name}/{t.id}", t.status, None) for t in run.tasks]
        elif several and change.task is not None:
            targets.append((f"scd/{app.name}/{change.task.id}", change.task.status, None))
        steps = self._steps(run) if change.name.endswith("finished") else []
        added = 0
        for context, status, message in targets:
            mine = [s for s in steps if context in (f"scd/{app.name}", f"scd/{app.name}/{s.task}")]
            payload = {
                "provider": provider,
                "repository": run.event.repository or "",
                "repo_url": app.repo,
                "api": app.status_api,
                "sha": run.event.commit,
                "status": status,
                "context": context,
                "target_url": run_url(self.public_url, run.id),
                "description": _description(status, mine, run, message),
            }
            added += self.outbox.add(
                dedup=f"status:{change.key}:{context}",
                run_id=run.id,
                app=app.name,
                kind="status",
                target=context,
                group=f"status:{context}",
                event=f"{change.name} ({status})",
                payload=payload,
                retry_for_s=STATUS_RETRY_S,
            )
        return added

    def _steps(self, run: Run) -> list[StepState]:
        try:
            return self.store.list_steps(run.id)
        except ScdError:
            return []

    # -- callbacks ------------------------------------------------------------------

    def _callbacks(self, app: App, change: Change) -> int:
        wanted = [(i, cb) for i, cb in enumerate(app.callbacks) if change.name in cb.events]
        if not wanted:
            return 0
        body = self.body(change)
        added = 0
        for index, callback in wanted:
            added += self.outbox.add(
                dedup=f"callback:{index}:{callback.url}:{change.key}",
                run_id=change.run.id,
                app=app.name,
                kind="callback",
                target=_shown(callback.url),
                event=change.name,
                payload={"index": index, "url": callback.url, "body": body},
                retry_for_s=CALLBACK_RETRY_S,
            )
        return added

    def body(self, change: Change) -> dict[str, Any]:
        """The JSON a callback receives for ``change``."""
        run, event = change.run, change.run.event
        steps = self._steps(run)
        if change.task is not None:
            steps = [s for s in steps if s.task == change.task.id]
        body: dict[str, Any] = {
            "event": change.name,
            "run_id": run.id,
            "app": run.app,
            "status": run.status,
            "trigger": event.event_name,
            "ref": event.ref,
            "branch": event.branch,
            "commit": event.commit,
            "created_at": run.created_at.isoformat(),
            "started_at": run.started_at.isoformat() if run.started_at else None,
            "finished_at": run.finished_at.isoformat() if run.finished_at else None,
            "duration_s": seconds(run),
            "run_url": run_url(self.public_url, run.id),
            "steps": [
                {"id": s.id, "task": s.task, "conclusion": s.conclusion or s.status} for s in steps
            ],
        }
        if change.task is not None:
            body["task"] = {"id": change.task.id, "status": change.task.status}
        return body

    # -- notifications --------------------------------------------------------------

    def _notifications(self, app: App, run: Run) -> int:
        if not app.notify:
            return 0
        failed = run.status in _FAILED
        fixed = run.status == "success" and self._previous_failed(run)
        added = 0
        for index, notify in enumerate(app.notify):
            when = set(notify.on)
            if not (
                "always" in when or (failed and "failure" in when) or (fixed and "fix" in when)
            ):
                continue
            word = "fixed" if fixed else run.status
            title = f"{app.name}: {word}"
            lines = [
                f"run {run.id}: **{run.status}**",
                f"ref {run.event.ref or '-'} at {(run.event.commit or '-')[:12]}",
            ]
            lines += [f"- {s.id}: {s.conclusion or s.status}" for s in self._steps(run)]
            url = run_url(self.public_url, run.id)
            if url:
                lines.append(f"[open the run]({url})")
            added += self.outbox.add(
                dedup=f"notify:{index}:run.finished:{run.id}:{run.attempt}",
                run_id=run.id,
                app=app.name,
                kind="notify",
                target=notify.uses,
                event="run.finished",
                payload={
                    "index": index,
                    "uses": notify.uses,
                    "title": title,
                    "text": "\n".join(lines),
                    "run": self.body(Change("run.finished", run)),
                },
                retry_for_s=CALLBACK_RETRY_S,
            )
        return added

    def _previous_failed(self, run: Run) -> bool:
        """Whether the last finished run of the same app and branch before ``run`` failed."""
        try:
            runs, _ = self.store.list_runs(app=run.app, branch=run.event.branch, limit=20)
        except ScdError:
            return False
        for other in runs:
            if other.id == run.id or other.created_at > run.created_at:
                continue
            if other.status in ("success", "failure", "error"):
                return other.status in _FAILED
        return False


def _shown(url: str) -> str:
    """A callback URL as the delivery log shows it: no query (it may hold a token)."""
    return url.split("?", 1)[0]
