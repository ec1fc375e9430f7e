"""The delivery log API (list, redeliver) and the status badge, on a served trigger."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from api_support import Served, config_yaml, serve_trigger, token_yaml
from factories import make_run, make_task
from scd_core.models import Run

from functions.report import Outbox

READER, TRIGGERER = "tok-reader-1", "tok-trigger-1"
APPS = """\
  - name: web
    repo: https://github.com/acme/web.git
    insecure_no_secret: true
    callbacks:
      - url: http://127.0.0.1:9/hook?key=private
        secret: cb-secret
  - name: hidden
    repo: https://github.com/acme/hidden.git
    insecure_no_secret: true
    badge: false
"""
CONFIG = config_yaml(
    APPS, token_yaml("reader", READER, "read"), token_yaml("ci", TRIGGERER, "trigger")
)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[Served]:
    with serve_trigger(tmp_path, CONFIG, Served) as s:
        yield s


def _queue(served: Served, run: Run) -> str:
    outbox = Outbox(served.data_dir / "outbox.db")
    try:
        outbox.add(
            dedup=f"callback:0:{run.id}", run_id=run.id, app="web", kind="callback",
            target="http://127.0.0.1:9/hook", event="run.finished",
            payload={"index": 0, "url": "http://127.0.0.1:9/hook?key=private", "body": {}},
            retry_for_s=60,
        )  # fmt: skip
        (delivery,) = outbox.of_run(run.id)
        outbox.claim_due()
        outbox.record(delivery.id, code=None, error="http://127.0.0.1:9/hook: ConnectError")
        return delivery.id
    finally:
        outbox.close()


def test_the_delivery_log_lists_attempts_without_bodies_or_secrets(served: Served) -> None:
    run, _ = served.store.create_run(make_run(1, tasks=[make_task()]))
    delivery_id = _queue(served, run)
    answer = served.request("GET", f"/api/v1/runs/{run.id}/deliveries", READER)
    assert answer.status_code == 200
    (entry,) = answer.json()["deliveries"]
    assert entry["id"] == delivery_id
    assert (entry["kind"], entry["state"], entry["attempts"]) == ("callback", "pending", 1)
    assert entry["last_error"] == "http://127.0.0.1:9/hook: ConnectError"
    assert "private" not in answer.text
    assert "cb-secret" not in answer.text
    assert served.request("GET", f"/api/v1/runs/{run.id}/deliveries", None).status_code == 401
    assert served.request("GET", "/api/v1/runs/nope/deliveries", READER).status_code == 404


def test_redeliver_needs_the_trigger_scope_and_queues_the_delivery_now(served: Served) -> None:
    run, _ = served.store.create_run(make_run(1, tasks=[make_task()]))
    delivery_id = _queue(served, run)
    path = f"/api/v1/runs/{run.id}/deliveries/{delivery_id}/redeliver"
    assert served.request("POST", path, READER).status_code == 403
    answer = served.request("POST", path, TRIGGERER)
    assert answer.status_code == 202
    assert answer.json()["state"] == "pending"
    assert answer.json()["next_at"] <= time.time()
    other = served.request("POST", f"/api/v1/runs/{run.id}/deliveries/zzz/redeliver", TRIGGERER)
    assert other.status_code == 404


def test_the_badge_shows_the_last_runs_status_word_without_a_token(served: Served) -> None:
    empty = served.request("GET", "/badge/web.svg", None)
    assert empty.status_code == 200
    assert empty.headers["content-type"].startswith("image/svg+xml")
    assert "no runs" in empty.text
    run, _ = served.store.create_run(make_run(1, status="failure"))
    served.store.create_run(make_run(2, event=run.event.model_copy(update={"branch": "dev"})))
    answer = served.request("GET", "/badge/web.svg?branch=main", None)
    assert ">failure<" in answer.text
    assert "max-age=" in answer.headers["cache-control"]
    assert ">queued<" in served.request("GET", "/badge/web.svg?branch=dev", None).text


def test_an_app_may_turn_its_badge_off_and_unknown_apps_have_none(served: Served) -> None:
    assert served.request("GET", "/badge/hidden.svg", None).status_code == 404
    assert served.request("GET", "/badge/nobody.svg", None).status_code == 404


def test_the_dashboards_run_page_lists_the_runs_deliveries(served: Served) -> None:
    run, _ = served.store.create_run(make_run(1, tasks=[make_task()]))
    delivery_id = _queue(served, run)
    with httpx.Client(base_url=served.url, timeout=10) as client:
        csrf = re.search(r'name="csrf" value="([^"]*)"', client.get("/ui/login").text)
        assert csrf is not None
        form = {"token": READER, "csrf": csrf.group(1), "next": "/ui/"}
        assert client.post("/ui/login", data=form).status_code == 303
        page = client.get(f"/ui/runs/{run.id}").text
    row = re.search(rf'<tr data-delivery="{delivery_id}">(.*?)</tr>', page)
    assert row is not None
    assert "callback" in row.group(1)
    assert "pending" in row.group(1)
    assert "ConnectError" in row.group(1)
    assert "private" not in page
