"""dump_model writes a delivered payload's own JSON text; what loads back is the same run."""

from __future__ import annotations

import json
from datetime import datetime, timezone

from scd_core.models import Event, Job, Run
from scd_core.stores.rows import dump_model, load_model

PAYLOAD_TEXT = '{ "ref" : "refs/heads/main",\n  "commits": [ {"id": "abc", "n": 1.5e3} ] }'


def _event(message: str = "fix", *, with_text: bool = True) -> Event:
    event = Event(
        provider="github",
        event_name="push",
        branch="main",
        message=message,
        payload=json.loads(PAYLOAD_TEXT),
    )
    return event.with_payload_json(PAYLOAD_TEXT) if with_text else event


def _run(event: Event) -> Run:
    created = datetime(2026, 11, 27, 10, 0, tzinfo=timezone.utc)
    return Run(id="r1", app="web", dedup_key="web:github:d1", event=event, created_at=created)


def test_a_run_is_written_with_the_payload_text_as_delivered() -> None:
    text = dump_model(_run(_event()))
    assert PAYLOAD_TEXT in text  # spacing and number spelling kept: not encoded again
    assert load_model(Run, text) == _run(_event(with_text=False))


def test_spliced_and_encoded_rows_hold_the_same_value() -> None:
    spliced = json.loads(dump_model(_run(_event())))
    encoded = json.loads(dump_model(_run(_event(with_text=False))))
    assert spliced == encoded


def test_a_job_is_written_without_the_payload_the_run_holds_it() -> None:
    job = Job(id="r1", app="web", ref="refs/heads/main")
    text = dump_model(job)
    assert PAYLOAD_TEXT not in text
    assert "event" not in json.loads(text)
    assert load_model(Job, text) == job


def test_a_lone_surrogate_outside_the_payload_still_writes_a_loadable_row() -> None:
    run = _run(_event(message="bad \ud800 half"))
    assert run.event.delivered_json is None  # built the slow way, by json.dumps
    loaded = load_model(Run, dump_model(run))
    assert loaded.event.message == "bad \ud800 half"
    assert loaded.event.payload == json.loads(PAYLOAD_TEXT)


def test_the_payload_text_is_not_part_of_an_events_value() -> None:
    assert _event() == _event(with_text=False)
    assert _run(_event()) == _run(_event(with_text=False))
    assert _event() != _event(message="other")


def test_the_payload_text_survives_a_copy_but_not_a_reload() -> None:
    run = _run(_event())
    copied = run.model_copy(update={"status": "running"}).event.delivered_json
    assert copied is not None
    assert PAYLOAD_TEXT in copied
    assert load_model(Run, dump_model(run)).event.delivered_json is None
