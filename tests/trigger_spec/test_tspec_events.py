"""Manual runs and schedule ticks as accepted events."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from factories import make_app
from scd_core.errors import BadRequest, Forbidden
from scd_trigger_spec import manual_event, schedule_event


def test_manual_event_on_a_branch_name() -> None:
    accepted = manual_event(
        make_app(), ref="main", commit="abc1234", inputs={"env": "prod"}, request_id="req-1"
    )
    event = accepted.event
    assert accepted.dedup_key == "web:manual:req-1"
    assert (event.event_name, event.ref, event.branch, event.commit) == (
        "manual",
        "refs/heads/main",
        "main",
        "abc1234",
    )
    assert (event.provider, event.repository, event.repo_owner) == ("github", "acme/web", "acme")
    assert event.inputs == {"env": "prod"}


def test_manual_event_on_a_tag_ref() -> None:
    event = manual_event(
        make_app(), ref="refs/tags/v1", commit=None, inputs={}, request_id="r"
    ).event
    assert (event.tag, event.branch) == ("v1", None)


@pytest.mark.parametrize("ref", ["", "-rf", "a..b", "a b", "refs/heads/", "x.lock", "a~1", "a:b"])
def test_manual_event_refuses_refs_git_would_refuse(ref: str) -> None:
    with pytest.raises(BadRequest, match="invalid ref"):
        manual_event(make_app(), ref=ref, commit=None, inputs={}, request_id="r")


def test_manual_event_refuses_a_bad_commit_and_empty_request_id() -> None:
    with pytest.raises(BadRequest, match="hexadecimal"):
        manual_event(make_app(), ref="main", commit="HEAD; rm", inputs={}, request_id="r")
    with pytest.raises(BadRequest, match="request id"):
        manual_event(make_app(), ref="main", commit=None, inputs={}, request_id="")


def test_manual_event_is_forbidden_when_the_app_disables_it() -> None:
    app = make_app(trigger={"push": {}, "manual": False})
    with pytest.raises(Forbidden, match="manual runs are disabled"):
        manual_event(app, ref="main", commit=None, inputs={}, request_id="r")


def test_provider_is_guessed_from_the_repository_host() -> None:
    def provider(repo: str) -> str:
        event = manual_event(
            make_app(repo=repo), ref="main", commit=None, inputs={}, request_id="r"
        )
        return event.event.provider

    assert provider("git@gitee.com:acme/web.git") == "gitee"
    assert provider("https://gitlab.example.com/g/sub/web.git") == "gitlab"
    assert provider("https://codeup.aliyun.com/6/x/web.git") == "codeup"
    assert provider("https://git.example.com/web.git") == "git"


def test_schedule_event_dedup_key_is_one_per_tick() -> None:
    app = make_app(
        trigger={
            "schedule": [
                {
                    "cron": "0 0 2 * * *",
                    "name": "nightly",
                    "ref": "release",
                    "inputs": {"kind": "nightly"},
                }
            ]
        }
    )
    tick = datetime(2026, 3, 2, 2, tzinfo=timezone.utc)
    first = schedule_event(app, cron="0 0 2 * * *", tick=tick, trigger_name="nightly")
    again = schedule_event(app, cron="0 0 2 * * *", tick=tick)
    assert (
        first.dedup_key == again.dedup_key == "web:schedule:0 0 2 * * *:2026-03-02T02:00:00+00:00"
    )
    assert (first.event.event_name, first.event.branch, first.event.inputs) == (
        "schedule",
        "release",
        {"kind": "nightly"},
    )
    later = schedule_event(app, cron="0 0 2 * * *", tick=tick + timedelta(days=1))
    assert later.dedup_key != first.dedup_key


def test_schedule_tick_in_another_zone_is_keyed_in_utc() -> None:
    shanghai = timezone(timedelta(hours=8))
    tick = datetime(2026, 3, 2, 10, tzinfo=shanghai)
    accepted = schedule_event(make_app(), cron="@every 5m", tick=tick)
    assert accepted.dedup_key.endswith(":2026-03-02T02:00:00+00:00")
    assert accepted.event.ref is None


def test_schedule_event_refuses_a_bad_cron() -> None:
    with pytest.raises(BadRequest, match="expected 6 fields"):
        schedule_event(make_app(), cron="0 2 * * *", tick=datetime.now(timezone.utc))
