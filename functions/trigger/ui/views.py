"""What the dashboard shows: runs, steps and the duration chart as plain dicts.

Contract: pure functions of the store's models; nothing here reads a secret or
an event payload, so whatever they return is safe to render or serve as JSON
(templates still escape every value). Times are ISO 8601 UTC strings or None;
durations are seconds (a running run's duration counts up to ``now``).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from scd_core.models import FINAL_STATUSES, Run, StepState, utcnow

__all__ = ["chart", "duration_s", "run_row", "step_row"]

_CHART_W, _CHART_H, _GAP, _BAR_MAX = 300, 60, 2, 24.0


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat().replace("+00:00", "Z")


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
    return {
        "id": run.id,
        "app": run.app,
        "status": run.status,
        "event": event.event_name,
        "branch": event.branch or event.tag or "",
        "ref": event.ref or "",
        "commit": commit,
        "short_commit": commit[:7],
        "message": (event.message or "").split("\n", 1)[0][:200],
        "run_message": run.message or "",
        "created_at": _iso(run.created_at),
        "started_at": _iso(run.started_at),
        "finished_at": _iso(run.finished_at),
        "duration_s": duration_s(run.started_at, run.finished_at, run.status),
        "rerun_of": run.rerun_of,
        "final": run.status in FINAL_STATUSES,
    }


def step_row(step: StepState) -> dict[str, Any]:
    """One step of a run page: its key for logs, name, status and duration."""
    return {
        "id": step.id,
        "name": step.name or step.id,
        "index": step.index,
        "status": step.status,
        "outcome": step.outcome,
        "conclusion": step.conclusion,
        "started_at": _iso(step.started_at),
        "finished_at": _iso(step.finished_at),
        "duration_s": duration_s(step.started_at, step.finished_at, step.status),
        "final": step.status in FINAL_STATUSES,
    }


def chart(runs: Sequence[Run], current: str | None = None) -> dict[str, Any]:
    """Bars of the runs' durations, oldest on the left, for an inline SVG.

    Each bar has its geometry in a ``_CHART_W`` x ``_CHART_H`` box, the run's
    status (the colour) and a title; runs that never started get a stub bar.
    """
    ordered = list(reversed(runs))
    rows = [run_row(run) for run in ordered]
    longest = max((r["duration_s"] or 0.0 for r in rows), default=0.0) or 1.0
    width = min((_CHART_W - _GAP * max(len(rows) - 1, 0)) / max(len(rows), 1), _BAR_MAX)
    bars = []
    for i, row in enumerate(rows):
        seconds = row["duration_s"]
        height = max((seconds or 0.0) / longest * (_CHART_H - 4), 2.0)
        bars.append(
            {
                "id": row["id"],
                "x": round(i * (width + _GAP), 1),
                "y": round(_CHART_H - height, 1),
                "w": round(width, 1),
                "h": round(height, 1),
                "status": row["status"],
                "current": row["id"] == current,
                "title": f"{row['short_commit'] or row['id'][:8]} {row['status']}"
                + ("" if seconds is None else f" {seconds:g}s"),
            }
        )
    return {"width": _CHART_W, "height": _CHART_H, "bars": bars, "longest": longest}
