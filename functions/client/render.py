"""How the CLI client shows runs and apps: rich tables, coloured statuses, short times.

Contract: pure functions from the API's JSON views to rich renderables or
strings; they import rich when called, never at module import. A missing or
null field shows as ``-``. Nothing here prints; the commands do.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from rich.table import Table
    from rich.text import Text

__all__ = [
    "STATUS_STYLES",
    "apps_table",
    "format_ago",
    "format_bytes",
    "format_duration",
    "format_next",
    "format_usage",
    "run_duration",
    "run_name",
    "runs_table",
    "short",
    "status_text",
    "trigger_summary",
]

STATUS_STYLES = {
    "success": "green",
    "failure": "red",
    "error": "bold red",
    "cancelled": "yellow",
    "running": "cyan",
    "paused": "magenta",
    "queued": "dim",
    "pending": "dim",
    "skipped": "dim",
}
_ID_LEN = 12
_COMMIT_LEN = 7


def short(value: object, length: int = _ID_LEN) -> str:
    """The first ``length`` characters of a value, ``-`` for nothing."""
    return str(value)[:length] if value else "-"


def status_text(status: object) -> Text:
    """A status word in its colour."""
    from rich.text import Text

    word = str(status or "-")
    return Text(word, style=STATUS_STYLES.get(word, ""))


def format_duration(seconds: object) -> str:
    """``4.2s``, ``3m 05s``, ``2h 01m``; ``-`` for no duration."""
    if not isinstance(seconds, (int, float)) or seconds < 0:
        return "-"
    if seconds < 60:
        return f"{seconds:.1f}s"
    whole = int(seconds)
    if whole < 3600:
        return f"{whole // 60}m {whole % 60:02d}s"
    return f"{whole // 3600}h {whole % 3600 // 60:02d}m"


def format_bytes(count: object) -> str:
    """``512 KB``, ``84 MB``, ``1.4 GB`` (powers of 1024); ``-`` for no count."""
    if not isinstance(count, int) or count < 0:
        return "-"
    size, units = float(count), ["B", "KB", "MB", "GB", "TB"]
    while size >= 1024 and len(units) > 1:
        size /= 1024
        units.pop(0)
    return f"{size:.1f} {units[0]}" if size < 10 else f"{size:.0f} {units[0]}"


def format_usage(cpu_seconds: object, max_rss_bytes: object) -> str:
    """What a step used, for people: ``CPU 3.2s · peak 84 MB``; empty when nothing
    was measured (a peak under the worker's own is not known: only the CPU shows)."""
    parts = []
    if isinstance(cpu_seconds, (int, float)):
        parts.append(f"CPU {format_duration(cpu_seconds)}")
    if isinstance(max_rss_bytes, int):
        parts.append(f"peak {format_bytes(max_rss_bytes)}")
    return " · ".join(parts)


def format_ago(stamp: object, now: datetime | None = None) -> str:
    """An ISO-8601 time as ``12s ago``, ``5m ago``, ``3h ago``, ``2d ago``; ``-`` if absent."""
    when = _parse_time(stamp)
    if when is None:
        return "-"
    delta = ((now or datetime.now(timezone.utc)) - when).total_seconds()
    if delta < 0:
        return "just now"
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if delta >= size:
            return f"{int(delta // size)}{unit} ago"
    return f"{int(delta)}s ago"


def run_duration(run: dict[str, Any], now: datetime | None = None) -> object:
    """The run's ``duration_s``, or the time since it started while it runs."""
    if run.get("duration_s") is not None:
        return run["duration_s"]
    started = _parse_time(run.get("started_at"))
    if started is None or run.get("finished_at"):
        return None
    return ((now or datetime.now(timezone.utc)) - started).total_seconds()


def runs_table(runs: list[dict[str, Any]]) -> Table:
    """The ``scd runs`` table: id, run (``web #42``), event, branch, commit, status,
    duration, started."""
    from rich.table import Table

    table = Table(box=None, pad_edge=False, header_style="bold")
    for name in ("ID", "RUN", "EVENT", "BRANCH", "COMMIT", "STATUS", "DURATION", "STARTED"):
        table.add_column(name, no_wrap=name not in ("BRANCH",))
    for run in runs:
        table.add_row(
            short(run.get("id")),
            run_name(run),
            str(run.get("event") or "-"),
            str(run.get("branch") or "-"),
            short(run.get("commit"), _COMMIT_LEN),
            status_text(run.get("status")),
            format_duration(run_duration(run)),
            format_ago(run.get("started_at") or run.get("created_at")),
        )
    return table


def run_name(run: dict[str, Any]) -> str:
    """A run as people name it: its app and number, ``web #42`` (the app alone for a
    run recorded without a number)."""
    app = str(run.get("app") or "-")
    number = run.get("number")
    return f"{app} #{number}" if isinstance(number, int) else app


def apps_table(apps: list[dict[str, Any]], now: datetime | None = None) -> Table:
    """The ``scd apps`` table: name, provider, repo, what triggers it, webhook URL,
    source, its next scheduled run and its last run."""
    from rich.table import Table
    from rich.text import Text

    table = Table(box=None, pad_edge=False, header_style="bold")
    columns = ("APP", "PROVIDER", "REPO", "TRIGGERS", "WEBHOOK URL", "SOURCE", "NEXT SCHEDULE")
    for name in (*columns, "LAST RUN"):
        table.add_column(name, overflow="fold")
    for app in apps:
        last = app.get("last_run")
        if isinstance(last, dict):
            last_run = Text.assemble(
                status_text(last.get("status")),
                f" #{last.get('number')}" if isinstance(last.get("number"), int) else "",
                f" {short(last.get('id'))} {format_ago(last.get('created_at'))}",
            )
        else:
            last_run = Text("-")
        table.add_row(
            str(app.get("name") or "-"),
            str(app.get("provider") or "-"),
            str(app.get("repo") or "-"),
            trigger_summary(app.get("trigger")),
            str(app.get("webhook_url") or "-"),
            str(app.get("source") or "-"),
            format_next(app.get("next_schedule_at"), now),
            last_run,
        )
    return table


def trigger_summary(trigger: object) -> str:
    """The events an app's trigger spec runs for: ``push, pull_request, schedule x2,
    manual``; ``-`` for none."""
    if not isinstance(trigger, dict):
        return "-"
    kinds = [kind for kind in ("push", "pull_request") if trigger.get(kind) is not None]
    schedules = trigger.get("schedule")
    if isinstance(schedules, list) and schedules:
        kinds.append("schedule" if len(schedules) == 1 else f"schedule x{len(schedules)}")
    if trigger.get("manual"):
        kinds.append("manual")
    return ", ".join(kinds) or "-"


def format_next(stamp: object, now: datetime | None = None) -> str:
    """A future ISO-8601 time as ``2026-12-07 02:00:00Z (in 21h 4m)``; ``-`` if absent."""
    when = _parse_time(stamp)
    if when is None:
        return "-"
    when = when.astimezone(timezone.utc)
    ahead = int((when - (now or datetime.now(timezone.utc))).total_seconds())
    if ahead <= 0:
        due = "due"
    elif ahead < 60:
        due = f"in {ahead}s"
    elif ahead < 3600:
        due = f"in {ahead // 60}m {ahead % 60:02d}s"
    elif ahead < 86400:
        due = f"in {ahead // 3600}h {ahead % 3600 // 60:02d}m"
    else:
        due = f"in {ahead // 86400}d {ahead % 86400 // 3600}h"
    return f"{when:%Y-%m-%d %H:%M:%S}Z ({due})"


def _parse_time(stamp: object) -> datetime | None:
    if not isinstance(stamp, str) or not stamp:
        return None
    try:
        when = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=timezone.utc)
