"""A stored run the store cannot decode never fails a listing: the page answers 200 with
that run marked unreadable, and its detail answers a clear error."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_support import WEB_APP, Served, config_yaml, serve_trigger, token_yaml
from factories import make_run

READ = "unreadable-read-token"
CONFIG = config_yaml(WEB_APP, token_yaml("viewer", READ, "read"))


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serve_trigger(tmp_path, CONFIG, Served) as it:
        yield it


def _corrupt(data_dir: Path, run_id: str) -> None:
    with sqlite3.connect(data_dir / "scd.db") as db:
        db.execute("UPDATE runs SET data = ? WHERE id = ?", ('{"id": "half a rec', run_id))


def test_a_corrupt_record_is_listed_as_unreadable_and_the_page_still_answers(
    served: Served,
) -> None:
    good, _ = served.store.create_run(make_run(1))
    bad, _ = served.store.create_run(make_run(2))
    _corrupt(served.data_dir, bad.id)
    headers = {"authorization": f"Bearer {READ}"}
    listing = httpx.get(f"{served.url}/api/v1/runs", headers=headers, timeout=10)
    assert listing.status_code == 200
    runs = {item["id"]: item for item in listing.json()["runs"]}
    assert runs[good.id]["unreadable"] is False
    assert runs[bad.id]["unreadable"] is True
    assert (runs[bad.id]["app"], runs[bad.id]["status"]) == ("web", "queued")
    assert "cannot be read" in runs[bad.id]["message"]
    detail = httpx.get(f"{served.url}/api/v1/runs/{bad.id}", headers=headers, timeout=10)
    assert detail.status_code == 503
    assert "stored record cannot be read" in detail.json()["detail"]


def test_unfinished_unreadable_runs_are_ended_error_and_finished_ones_left(
    served: Served,
) -> None:
    from scd_core.stores.sqlite import SqliteRunStore

    queued, _ = served.store.create_run(make_run(3))
    done, _ = served.store.create_run(make_run(4, status="success"))
    _corrupt(served.data_dir, queued.id)
    _corrupt(served.data_dir, done.id)
    assert isinstance(served.store, SqliteRunStore)
    assert served.store.end_unreadable() == [queued.id]
    assert served.store.end_unreadable() == []  # idempotent
    runs = {run.id: run for run in served.store.list_runs(limit=100)[0]}
    assert runs[queued.id].status == "error"
    assert runs[queued.id].unreadable
    assert runs[done.id].status == "success"
