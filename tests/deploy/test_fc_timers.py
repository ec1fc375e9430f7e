"""`scd fc timers`: timer triggers for sub-minute schedules, mapped back by resolve_timer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml
from scd_core.errors import ConfigError
from sdevs_support import ROOT, render
from typer.testing import CliRunner

from functions.appconfig import parse_config
from functions.cli import app
from functions.fc.timers import finer_than_a_minute, timer_entries, write_timers
from functions.trigger.schedules import resolve_timer

SCD_YAML = """
apps:
  - name: web
    repo: https://github.com/acme/web.git
    secret: ${env:WEB_SECRET_NOT_SET_HERE}
    trigger:
      schedule:
        - cron: '0 0 2 * * *'
        - cron: '*/15 * * * * *'
        - cron: 'CRON_TZ=Asia/Shanghai 0,30 * 9 * * 1-5'
  - name: api
    repo: https://github.com/acme/api.git
    insecure_no_secret: true
    trigger:
      schedule:
        - cron: '@every 5m'
"""
ENV = {
    "SCD_FC_ACCOUNT_ID": "1234567890123456",
    "SCD_STORE": "sqlite:////mnt/scd/scd.db",
    "SCD_LOG_SINK": "file:///mnt/scd/logs",
    "SCD_DEMO_SECRET": "from-the-deploying-shell",
}


@pytest.mark.parametrize(
    ("cron", "finer"),
    [
        ("0 0 2 * * *", False),
        ("30 * * * * *", False),
        ("*/15 * * * * *", True),
        ("0,30 * * * * *", True),
        ("0-5 * * * * *", True),
        ("CRON_TZ=Asia/Shanghai * 0 9 * * *", True),
        ("@every 1m", False),
    ],
)
def test_a_schedule_needs_its_own_timer_only_when_it_fires_more_than_once_a_minute(
    cron: str, finer: bool
) -> None:
    assert finer_than_a_minute(cron) is finer


def test_each_entry_resolves_to_its_app_and_cron_through_the_trigger() -> None:
    configured = parse_config(SCD_YAML, "scd.yaml", {"WEB_SECRET_NOT_SET_HERE": "x"}).apps
    entries = timer_entries(configured.values())
    assert [(e.name, e.own_timer) for e in entries] == [
        ("web--0", False),
        ("web--1", True),
        ("web--2", True),
        ("api--0", False),
    ]
    for entry in entries:
        app_, cron = resolve_timer(configured, entry.name, entry.payload)
        assert (app_.name, cron) == (entry.app, entry.cron)
        # the name alone maps to the same schedule (a payload edited away in the console)
        app_, cron = resolve_timer(configured, entry.name, None)
        assert (app_.name, cron) == (entry.app, entry.cron)


def test_the_command_prints_sub_minute_timers_and_names_those_the_tick_serves(
    tmp_path: Path,
) -> None:
    config = tmp_path / "scd.yaml"
    config.write_text(SCD_YAML, encoding="utf-8")
    result = CliRunner().invoke(app, ["fc", "timers", "--config", str(config)])
    assert result.exit_code == 0, result.output
    printed = yaml.safe_load(result.stdout)
    assert [t["triggerName"] for t in printed] == ["web--1", "web--2"]
    second = printed[1]
    assert second["triggerType"] == "timer"
    assert second["triggerConfig"]["cronExpression"] == "CRON_TZ=Asia/Shanghai 0,30 * 9 * * 1-5"
    assert second["triggerConfig"]["enable"] is True
    assert json.loads(second["triggerConfig"]["payload"]) == {
        "app": "web",
        "cron": "CRON_TZ=Asia/Shanghai 0,30 * 9 * * 1-5",
    }
    assert "web--0 (0 0 2 * * *): fired by the minute tick" in result.stderr
    assert "api--0 (@every 5m): fired by the minute tick" in result.stderr
    everything = CliRunner().invoke(app, ["fc", "timers", "--all", "--config", str(config)])
    assert len(yaml.safe_load(everything.stdout)) == 4


def test_write_puts_the_entries_into_s_yaml_and_keeps_everything_else(tmp_path: Path) -> None:
    config = tmp_path / "scd.yaml"
    config.write_text(SCD_YAML, encoding="utf-8")
    original = (ROOT / "s.yaml").read_text(encoding="utf-8")
    s_yaml = tmp_path / "s.yaml"
    s_yaml.write_text(original, encoding="utf-8")
    command = ["fc", "timers", "--config", str(config), "--s-yaml", str(s_yaml), "--write"]
    result = CliRunner().invoke(app, command)
    assert result.exit_code == 0, result.output
    written = s_yaml.read_text(encoding="utf-8")
    triggers = render(written, ENV)["resources"]["trigger"]["props"]["triggers"]
    assert [t["triggerName"] for t in triggers] == ["http", "scd-tick", "web--1", "web--2"]
    # only the generated block changed, comments included
    assert [line for line in written.splitlines() if line not in original.splitlines()] != []
    assert all(line in written.splitlines() for line in original.splitlines())
    assert CliRunner().invoke(app, command).exit_code == 0
    assert s_yaml.read_text(encoding="utf-8") == written  # writing again changes nothing
    emptied = write_timers(written, [])
    assert emptied == original


def test_write_refuses_an_s_yaml_without_the_markers() -> None:
    with pytest.raises(ConfigError, match="BEGIN scd fc timers"):
        write_timers("resources: {}\n", [])


def test_a_bad_scd_yaml_exits_2_with_the_reason(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["fc", "timers", "--config", str(tmp_path / "none.yaml")])
    assert result.exit_code == 2
    assert "config file not found" in result.stderr
