"""FC timer expressions: 6-field cron with seconds, CRON_TZ, and epoch-aligned @every."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from scd_trigger_spec.cron import parse_cron

NOON = datetime(2026, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def test_six_field_cron_reads_seconds_first_in_utc() -> None:
    assert parse_cron("0 0 2 * * *").next_after(NOON) == datetime(
        2026, 3, 2, 2, tzinfo=timezone.utc
    )
    assert parse_cron("30 * * * * *").next_after(NOON) == NOON + timedelta(seconds=30)


def test_next_after_is_strictly_after_a_tick() -> None:
    schedule = parse_cron("0 0 12 * * *")
    assert schedule.next_after(NOON) == NOON + timedelta(days=1)


def test_cron_tz_prefix_evaluates_in_that_zone_and_answers_utc() -> None:
    tick = parse_cron("CRON_TZ=Asia/Shanghai 0 0 2 * * *").next_after(NOON)
    assert tick == datetime(2026, 3, 1, 18, tzinfo=timezone.utc)
    assert tick.tzinfo == timezone.utc


def test_every_ticks_are_aligned_to_the_unix_epoch() -> None:
    schedule = parse_cron("@every 1h30m")
    tick = schedule.next_after(NOON + timedelta(seconds=1))
    assert int(tick.timestamp()) % 5400 == 0
    assert tick > NOON
    assert schedule.next_after(tick) == tick + timedelta(minutes=90)
    assert parse_cron("@every 5m").next_after(NOON) == NOON + timedelta(minutes=5)


def test_naive_datetime_is_read_as_utc() -> None:
    naive = datetime(2026, 3, 1, 12, 0, 0)
    assert parse_cron("@every 5m").next_after(naive) == NOON + timedelta(minutes=5)


@pytest.mark.parametrize(
    ("expr", "fragment"),
    [
        ("* * * * *", "expected 6 fields"),
        ("0 0 2 * * * *", "expected 6 fields"),
        ("0 0 99 * * *", "invalid cron"),
        ("@every 30s", "at least 1m"),
        ("@every", "@every <duration>"),
        ("@daily", "@every <duration>"),
        ("CRON_TZ=Mars/Olympus 0 0 2 * * *", "unknown time zone"),
        ("", "expected 6 fields"),
    ],
)
def test_invalid_expression_raises_value_error_saying_why(expr: str, fragment: str) -> None:
    with pytest.raises(ValueError, match=fragment):
        parse_cron(expr)
