"""Function Compute's timer expressions: 6-field cron with seconds first, or ``@every``.

Accepted forms (FC 3.0 ``cronExpression``):

- ``"0 0 2 * * *"``: seconds, minutes, hours, day of month, month, day of week; in UTC;
- ``"CRON_TZ=Asia/Shanghai 0 0 2 * * *"``: the same, evaluated in that IANA zone;
- ``"@every 5m"``, ``"@every 1h30m"``: a fixed interval (``h``, ``m``, ``s`` parts; at least
  one minute), with ticks aligned to the Unix epoch so that every process, and every restart,
  computes the same tick times.

Contract: ``parse_cron`` raises ``ValueError`` with a message naming the expression and the
problem. ``CronSchedule.next_after(dt)`` returns the first tick strictly after ``dt``,
tz-aware in UTC (a naive ``dt`` is read as UTC).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = ["CronSchedule", "parse_cron"]

_EVERY = re.compile(r"@every\s+(?=\d)(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?")
_TZ_PREFIX = re.compile(r"CRON_TZ=(\S+)\s+(.*)", re.DOTALL)
_MIN_INTERVAL_S = 60
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class CronSchedule:
    """A parsed timer expression: either ``fields`` (6-field cron) or ``interval_s``."""

    expr: str
    fields: str | None = None
    zone: str | None = None
    interval_s: int | None = None

    def next_after(self, dt: datetime) -> datetime:
        """The first tick strictly after ``dt``, as a tz-aware UTC datetime."""
        start = dt.replace(tzinfo=timezone.utc) if dt.tzinfo is None else dt
        if self.interval_s is not None:
            elapsed = (start - _EPOCH) // timedelta(seconds=1)
            ticks = elapsed // self.interval_s + 1
            return _EPOCH + timedelta(seconds=ticks * self.interval_s)
        assert self.fields is not None
        from croniter import croniter  # here, not at the top: it costs ~0.1 s of cold start

        local = start.astimezone(ZoneInfo(self.zone) if self.zone else timezone.utc)
        nxt = croniter(self.fields, local, second_at_beginning=True).get_next(datetime)
        return nxt.astimezone(timezone.utc)


def _parse_every(expr: str, match: re.Match[str]) -> CronSchedule:
    hours, minutes, seconds = (int(part or 0) for part in match.groups())
    interval = hours * 3600 + minutes * 60 + seconds
    if interval < _MIN_INTERVAL_S:
        raise ValueError(f"invalid cron '{expr}': @every needs an interval of at least 1m")
    return CronSchedule(expr=expr, interval_s=interval)


def _check_zone(expr: str, zone: str) -> None:
    try:
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"invalid cron '{expr}': unknown time zone '{zone}'") from exc


def parse_cron(expr: str) -> CronSchedule:
    """Parse an FC timer expression; raises ``ValueError`` saying what is wrong."""
    text = expr.strip()
    every = _EVERY.fullmatch(text)
    if every is not None:
        return _parse_every(expr, every)
    if text.startswith("@"):
        raise ValueError(
            f"invalid cron '{expr}': the only @ form is '@every <duration>', e.g. '@every 5m'"
        )
    zone: str | None = None
    prefixed = _TZ_PREFIX.fullmatch(text)
    if prefixed is not None:
        zone, text = prefixed.group(1), prefixed.group(2).strip()
        _check_zone(expr, zone)
    fields = text.split()
    if len(fields) != 6:
        raise ValueError(
            f"invalid cron '{expr}': expected 6 fields (seconds minutes hours day-of-month "
            f"month day-of-week), got {len(fields)}"
        )
    normalized = " ".join(fields)
    from croniter import croniter  # only apps with schedules pay for importing it

    try:
        croniter(normalized, _EPOCH, second_at_beginning=True).get_next(datetime)
    except (ValueError, KeyError, TypeError, OverflowError) as exc:
        raise ValueError(f"invalid cron '{expr}': {exc}") from exc
    return CronSchedule(expr=expr, fields=normalized, zone=zone)
