"""What the dashboard shows: runs, steps, apps and the duration charts as plain dicts.

Contract: pure functions of the store's models; nothing here reads a secret or
an event payload, so whatever they return is safe to render or serve as JSON
(templates still escape every value). Times are ISO 8601 UTC strings or None,
with a text a person reads beside each (``5m ago``, and the exact UTC time for
the hover title; the page's script puts the viewer's own zone there);
durations are seconds (a running run's duration counts up to ``now``) with
their text in the CLI's one format (``4.2s``, ``1m 12s``, ``2h 01m``:
``functions.client.render``). ``ui.js`` mirrors both formats for live updates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from scd_core.models import FINAL_STATUSES, Run, StepState, utcnow
from scd_core.text import valid_unicode
from scd_trigger_spec import App

from functions.client.render import format_ago, format_duration, format_usage

__all__ = [
    "app_row",
    "chart",
    "duration_s",
    "open_steps",
    "run_row",
    "run_usage",
    "step_row",
    "trigger_summary",
]

_FAILED = frozenset({"failure", "error"})
_FILTER_LABELS = (
    ("branches", ""),
    ("branches_ignore", "not "),
    ("tags", "tags "),
    ("types", ""),
    ("paths", "paths "),
)

_CHART_W, _CHART_H, _GAP, _BAR_MAX = 300, 60, 2, 24.0
_TREND_W, _TREND_H = 200, 40


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


def _exact(moment: datetime | None) -> str:
    """The exact time for a hover title (UTC here; the page's script shows local time)."""
    return "" if moment is None else moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def _took(seconds: float | None) -> str:
    return "" if seconds is None else format_duration(seconds)


def duration_s(
    started: datetime | None, finished: datetime | None, status: str, now: datetime | None = None
) -> float | None:
    """Seconds from start to finish (to ``now`` while running); None if it never started."""
    if started is None:
        return None
    end = finished
    if end is None:
        if status in FINAL_STATUSES:
            return None
        end = now or utcnow()
    return round(max((end - started).total_seconds(), 0.0), 1)


def run_row(run: Run) -> dict[str, Any]:
    """One run as a row of the runs table (and of ``/ui/runs.json``)."""
    event = run.event
    commit = event.commit or ""
    seconds = duration_s(run.started_at, run.finished_at, run.status)
    return valid_unicode({
        "id": run.id,
        "app": run.app,
        "number": run.number,
        # the run's name beside its app's: "web #42"; a run without a number by its id
        "label": f"#{run.number}" if run.number is not None else f"run {run.id[:8]}",
        "status": run.status,
        "event": event.event_name,
        "branch": event.branch or event.tag or "",
        "ref": event.ref or "",
        "commit": commit,
        "short_commit": commit[:7],
        "message": (event.message or "").split("\n", 1)[0][:200],
        "run_message": run.message or "",
        "created_at": _iso(run.created_at),
        "created_ago": format_ago(_iso(run.created_at)),
        "created_exact": _exact(run.created_at),
        "started_at": _iso(run.started_at),
        "started_ago": format_ago(_iso(run.started_at)) if run.started_at else "",
        "started_exact": _exact(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_s": seconds,
        "duration": _took(seconds),
        "rerun_of": run.rerun_of,
        "final": run.status in FINAL_STATUSES,
        # where its tasks ran (region routing); empty until a worker claimed one
        "region": ", ".join(dict.fromkeys(t.region for t in run.tasks if t.region)),
    })  # fmt: skip


def step_row(step: StepState) -> dict[str, Any]:
    """One step of a run page: its key for logs, name, status and duration."""
    seconds = duration_s(step.started_at, step.finished_at, step.status)
    return valid_unicode({
        "id": step.id,
        "name": step.name or step.id,
        "index": step.index,
        "status": step.status,
        "outcome": step.outcome,
        "conclusion": step.conclusion,
        "started_at": _iso(step.started_at),
        "finished_at": _iso(step.finished_at),
        "duration_s": seconds,
        "duration": _took(seconds),
        "final": step.status in FINAL_STATUSES,
        "cpu_seconds": step.cpu_seconds,
        "max_rss_bytes": step.max_rss_bytes,
        "usage": format_usage(step.cpu_seconds, step.max_rss_bytes),
    })  # fmt: skip


def run_usage(steps: Sequence[StepState]) -> dict[str, Any]:
    """What a run's steps used together: CPU seconds summed, the largest peak (steps
    run one after another in a task, so peaks do not add up); None where no step
    was measured."""
    cpu = [s.cpu_seconds for s in steps if s.cpu_seconds is not None]
    peaks = [s.max_rss_bytes for s in steps if s.max_rss_bytes is not None]
    total = round(sum(cpu), 3) if cpu else None
    peak = max(peaks) if peaks else None
    return {"cpu_seconds": total, "max_rss_bytes": peak, "text": format_usage(total, peak)}


def open_steps(run_status: str, steps: Sequence[dict[str, Any]]) -> tuple[set[str], str | None]:
    """Which steps a run page opens, and the one it scrolls to, as GitHub Actions does:
    the first failed step of a failed run (the others collapsed), else the running
    steps; a finished successful run opens none."""
    failed = next((s["id"] for s in steps if s["status"] in _FAILED), None)
    if failed is not None and run_status in _FAILED | {"cancelled"}:
        return {failed}, failed
    running = {s["id"] for s in steps if s["status"] == "running"}
    if running:
        return running, None
    cancelled = next((s["id"] for s in steps if s["status"] == "cancelled"), None)
    return ({cancelled}, cancelled) if cancelled else (set(), None)


def trigger_summary(app: App) -> list[str]:
    """The app's triggers in words, one item each (``push: main, release/**``...)."""
    spec, parts = app.trigger, []
    if spec.push is not None:
        parts.append(_filter("push", spec.push.model_dump(exclude_none=True)))
    if spec.pull_request is not None:
        parts.append(_filter("pull request", spec.pull_request.model_dump(exclude_none=True)))
    parts += [f"schedule {item.cron}" for item in spec.schedule]
    if spec.manual:
        parts.append("manual")
    return parts


def _filter(event: str, fields: dict[str, Any]) -> str:
    shown = []
    for key, label in _FILTER_LABELS:
        values = fields.get(key)
        if isinstance(values, list) and values:
            shown.append(label + ", ".join(str(v) for v in values))
    return f"{event}: " + "; ".join(shown) if shown else f"{event}: any branch"


def app_row(app: App, webhook_url: str, runs: Sequence[Run]) -> dict[str, Any]:
    """One app of the apps page: its webhook URL, triggers, last run and recent trend."""
    finished = [r for r in runs if r.status in FINAL_STATUSES]
    passed = [r for r in finished if r.status == "success"]
    took = sorted(
        d for r in passed if (d := duration_s(r.started_at, r.finished_at, r.status)) is not None
    )
    rate = round(100 * len(passed) / len(finished)) if finished else None
    return {
        "name": app.name,
        "repo": app.repo,
        "pipeline": app.pipeline,
        "webhook_url": webhook_url,
        "triggers": trigger_summary(app),
        "manual": app.trigger.manual,
        "last": run_row(runs[0]) if runs else None,
        "finished": len(finished),
        "passed": len(passed),
        "rate": rate,
        "median": format_duration(took[len(took) // 2]) if took else "",
        "chart": chart(runs, width=_TREND_W, height=_TREND_H),
    }


def chart(
    runs: Sequence[Run],
    current: str | None = None,
    *,
    width: int = _CHART_W,
    height: int = _CHART_H,
) -> dict[str, Any]:
    """Bars of the runs' durations, oldest on the left, for an inline SVG.

    Each bar has its geometry in a ``width`` x ``height`` box, the run's
    status (the colour) and a title; runs that never started get a stub bar.
    """
    ordered = list(reversed(runs))
    rows = [run_row(run) for run in ordered]
    longest = max((r["duration_s"] or 0.0 for r in rows), default=0.0) or 1.0
    bar_w = min((width - _GAP * max(len(rows) - 1, 0)) / max(len(rows), 1), _BAR_MAX)
    bars = []
    for i, row in enumerate(rows):
        seconds = row["duration_s"]
        bar_h = max((seconds or 0.0) / longest * (height - 4), 2.0)
        bars.append(
            {
                "id": row["id"],
                "x": round(i * (bar_w + _GAP), 1),
                "y": round(height - bar_h, 1),
                "w": round(bar_w, 1),
                "h": round(bar_h, 1),
                "status": row["status"],
                "current": row["id"] == current,
                "title": f"{row['label']} {row['short_commit']} {row['status']}".replace("  ", " ")
                + ("" if seconds is None else f" took {format_duration(seconds)}"),
            }
        )
    return {
        "width": width,
        "height": height,
        "bars": bars,
        "longest": format_duration(longest) if rows else "",
    }
