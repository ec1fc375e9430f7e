"""``scd apps`` shows each app's triggers and its next scheduled run, from the real apps API."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from api_support import Served, config_yaml, serve_trigger, token_yaml
from typer.testing import CliRunner

from functions.cli import app
from functions.client.render import format_next, trigger_summary

READ = "apps-cli-read-token"
CONFIG = config_yaml(
    """\
  - name: web
    repo: https://github.com/acme/web.git
    insecure_no_secret: true
    trigger:
      push: {branches: [main]}
      schedule: ['@every 1m', {cron: '0 0 2 * * *', name: nightly}]
  - name: hooks
    repo: https://github.com/acme/hooks.git
    insecure_no_secret: true
    trigger: {push: {}, pull_request: {}, manual: false}
""",
    token_yaml("reader", READ, "read"),
)


def scd(served: Served, *args: str) -> str:
    env = {"SCD_SERVER": served.url, "COLUMNS": "250", "SCD_TOKEN": READ}
    result = CliRunner().invoke(app, ["apps", *args], env=env)
    assert result.exit_code == 0, result.output
    return result.output


def test_scd_apps_shows_triggers_and_the_next_scheduled_run(tmp_path: Path) -> None:
    with serve_trigger(tmp_path, CONFIG, Served) as served:
        before = datetime.now(timezone.utc)
        table = scd(served)
        answer = json.loads(scd(served, "--json"))
    rows = {line.split()[0]: line for line in table.splitlines()[1:] if line.strip()}
    assert "push, schedule x2, manual" in rows["web"]
    assert "push, pull_request" in rows["hooks"]
    by_name = {view["name"]: view for view in answer["apps"]}
    upcoming = datetime.fromisoformat(by_name["web"]["next_schedule_at"])
    assert before < upcoming <= before + timedelta(minutes=1, seconds=30)  # the @every 1m
    assert f"{upcoming:%Y-%m-%d %H:%M:%S}Z (in " in rows["web"]
    assert [s["cron"] for s in by_name["web"]["schedules"]] == ["@every 1m", "0 0 2 * * *"]
    assert by_name["hooks"]["next_schedule_at"] is None


def test_next_times_and_trigger_summaries_read_plainly() -> None:
    now = datetime(2026, 12, 6, 4, 0, tzinfo=timezone.utc)
    assert format_next("2026-12-07T02:00:00+00:00", now) == "2026-12-07 02:00:00Z (in 22h 00m)"
    assert format_next("2026-12-06T04:00:09Z", now) == "2026-12-06 04:00:09Z (in 9s)"
    assert format_next("2026-12-09T05:00:00Z", now) == "2026-12-09 05:00:00Z (in 3d 1h)"
    assert format_next("2026-12-06T03:59:00Z", now).endswith("(due)")
    assert format_next(None, now) == "-"
    assert trigger_summary({"schedule": [{"cron": "@every 5m"}], "manual": False}) == "schedule"
    assert trigger_summary({"schedule": [], "manual": False}) == "-"
    assert trigger_summary(None) == "-"
