"""Reporting back end to end: lifecycle changes → reporter → durable outbox → courier →
loopback doubles of a provider's status API, a callback receiver and chat robots."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from factories import make_app, make_run, make_step, make_task
from http_double import recorder
from scd_core.lifecycle import Lifecycle
from scd_core.models import Run
from scd_core.store import RunStore
from scd_core.stores import open_store
from scd_trigger_spec import App

from functions.report import Reporting, reporting
from functions.report import outbox as outbox_module

TOKEN = "ghp_status_token_for_tests"
CALLBACK_SECRET = "cb-secret-for-tests"


@pytest.fixture
def store(tmp_path: Path) -> Iterator[RunStore]:
    opened = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    yield opened
    opened.close()


def _wire(
    tmp_path: Path, store: RunStore, app: App, environ: dict[str, str] | None = None
) -> tuple[Lifecycle, Reporting]:
    environ = environ or {}
    wired = reporting(
        tmp_path, store, lambda name: app if name == app.name else None, environ,
        "https://ci.example", start=False,
    )  # fmt: skip
    lifecycle = Lifecycle(store, [wired.reporter])
    return lifecycle, wired


def _status_app(api: str, provider: str = "github", **fields: Any) -> App:
    return make_app(provider=provider, status_api=api, secrets={"status_token": TOKEN}, **fields)


def _one_task_run(store: RunStore, lifecycle: Lifecycle, n: int = 1, **fields: Any) -> Run:
    run, _ = store.create_run(make_run(n, tasks=[make_task()], **fields))
    lifecycle.queued([run])
    return run


def _finish(store: RunStore, lifecycle: Lifecycle, run: Run, status: str = "success") -> None:
    lifecycle.claim(run.id, owner="w", ttl_s=30)
    conclusion = "failure" if status == "failure" else "success"
    store.put_step(run.id, make_step("build", status=conclusion, conclusion=conclusion))
    store.put_step(run.id, make_step("test", index=1, status=conclusion, conclusion=conclusion))
    lifecycle.end_task(run.id, "default", status)  # type: ignore[arg-type]


def test_a_run_reports_pending_running_then_its_final_state_with_a_link(
    tmp_path: Path, store: RunStore
) -> None:
    with recorder() as api:
        machine_wide = {"SCD_SECRET_STATUS_TOKEN": "not-this-one"}  # the app's own wins
        lifecycle, wired = _wire(tmp_path, store, _status_app(api.url, "gitlab"), machine_wide)
        run = _one_task_run(store, lifecycle)
        wired.courier.send_due()
        lifecycle.claim(run.id, owner="w", ttl_s=30)
        wired.courier.send_due()
        store.put_step(run.id, make_step("build", status="success", conclusion="success"))
        store.put_step(run.id, make_step("test", index=1, status="success", conclusion="success"))
        lifecycle.end_task(run.id, "default", "success")
        wired.courier.send_due()
        wired.close()
    states = [r.json()["state"] for r in api.requests]
    assert states == ["pending", "running", "success"]
    last = api.requests[-1]
    assert last.headers["private-token"] == TOKEN
    assert last.path == f"/projects/acme%2Fweb/statuses/{'a' * 40}"
    assert last.json()["name"] == "scd/web"
    assert last.json()["target_url"] == f"https://ci.example/ui/runs/{run.id}"
    assert last.json()["description"].startswith("2 steps passed")


def test_a_provider_answering_500_then_201_gets_the_status_again_after_a_backoff(
    tmp_path: Path, store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "BACKOFF_S", 0.0)
    with recorder((500, {"message": "down"})) as api:
        lifecycle, wired = _wire(tmp_path, store, _status_app(api.url))
        run = _one_task_run(store, lifecycle)
        wired.courier.send_due()  # 500: kept for a retry
        (first,) = wired.outbox.of_run(run.id)
        assert (first.state, first.attempts, first.last_code) == ("pending", 1, None)
        assert "500" in (first.last_error or "")
        wired.courier.send_due()  # 201
        (again,) = wired.outbox.of_run(run.id)
        wired.close()
    assert (again.state, again.attempts, again.last_code) == ("delivered", 2, 201)
    assert [r.json()["state"] for r in api.requests] == ["pending", "pending"]
    assert api.requests[1].headers["authorization"] == f"Bearer {TOKEN}"


def test_a_failed_step_is_named_and_an_old_status_never_hides_the_final_one(
    tmp_path: Path, store: RunStore
) -> None:
    with recorder() as api:
        lifecycle, wired = _wire(tmp_path, store, _status_app(api.url))
        run = _one_task_run(store, lifecycle)
        _finish(store, lifecycle, run, "failure")  # nothing sent yet: queued, running, final
        wired.courier.send_due()
        kinds = [(d.event, d.state) for d in wired.outbox.of_run(run.id)]
        wired.close()
    (only,) = api.requests  # pending and running were superseded by the final state
    assert only.json()["state"] == "failure"
    assert only.json()["description"] == "step build failed"
    assert kinds == [
        ("run.queued (queued)", "superseded"),
        ("run.started (running)", "superseded"),
        ("run.finished (failure)", "delivered"),
    ]


def test_each_task_of_a_run_with_several_gets_its_own_context(
    tmp_path: Path, store: RunStore
) -> None:
    with recorder() as api:
        lifecycle, wired = _wire(tmp_path, store, _status_app(api.url))
        run, _ = store.create_run(make_run(1, tasks=[make_task("build"), make_task("lint")]))
        lifecycle.queued([run])
        for task in ("build", "lint"):
            lifecycle.claim(run.id, task, owner="w", ttl_s=30)
            lifecycle.end_task(run.id, task, "success")
        wired.courier.send_due()
        wired.close()
    finals = {r.json()["context"]: r.json()["state"] for r in api.requests}
    assert finals == {"scd/web": "success", "scd/web/build": "success", "scd/web/lint": "success"}


def test_no_status_token_means_no_status_and_the_token_is_never_stored(
    tmp_path: Path, store: RunStore
) -> None:
    with recorder() as api:
        lifecycle, wired = _wire(tmp_path, store, make_app(provider="github", status_api=api.url))
        _finish(store, lifecycle, _one_task_run(store, lifecycle))
        assert wired.courier.send_due() == 0
        wired.close()
    assert api.requests == []
    with recorder() as api:  # a machine-wide token turns statuses on for every app
        app = make_app(provider="github", status_api=api.url)
        lifecycle, wired = _wire(tmp_path, store, app, {"SCD_SECRET_STATUS_TOKEN": "env-tok"})
        lifecycle.queued([store.create_run(make_run(3, tasks=[make_task()]))[0]])
        wired.courier.send_due()
        wired.close()
    assert [r.headers["authorization"] for r in api.requests] == ["Bearer env-tok"]
    lifecycle, wired = _wire(tmp_path, store, _status_app("http://127.0.0.1:9"))
    _one_task_run(store, lifecycle, 2)
    wired.close()
    assert TOKEN.encode() not in (tmp_path / "outbox.db").read_bytes()


def _callback_app(url: str, **fields: Any) -> App:
    callback = {"url": url + "/hook?k=1", "secret": CALLBACK_SECRET, **fields}
    return make_app(callbacks=[callback])


def test_a_callback_is_signed_with_hmac_and_carries_the_run(
    tmp_path: Path, store: RunStore
) -> None:
    with recorder() as receiver:
        lifecycle, wired = _wire(tmp_path, store, _callback_app(receiver.url))
        run = _one_task_run(store, lifecycle)
        _finish(store, lifecycle, run)
        _finish(store, lifecycle, run)  # the ending repeated: heard again, queued once
        wired.courier.send_due()
        (delivery,) = wired.outbox.of_run(run.id)
        wired.close()
    (request,) = receiver.requests
    expected = hmac.new(CALLBACK_SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["x-scd-signature-256"] == f"sha256={expected}"
    assert request.headers["x-scd-delivery"] == delivery.id
    assert request.headers["x-scd-event"] == "run.finished"
    body = request.json()
    assert (body["run_id"], body["app"], body["status"]) == (run.id, "web", "success")
    assert (body["commit"], body["ref"]) == ("a" * 40, "refs/heads/main")
    assert body["run_url"] == f"https://ci.example/ui/runs/{run.id}"
    assert body["duration_s"] is not None
    assert [(s["id"], s["conclusion"]) for s in body["steps"]] == [
        ("build", "success"),
        ("test", "success"),
    ]
    assert delivery.public()["target"] == f"{receiver.url}/hook"  # the query left out


def test_a_callback_retries_and_a_redelivery_keeps_its_delivery_id(
    tmp_path: Path, store: RunStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(outbox_module, "BACKOFF_S", 0.0)
    with recorder((502, {}), (200, {})) as receiver:
        app = _callback_app(receiver.url, events=["run.started", "run.finished"])
        lifecycle, wired = _wire(tmp_path, store, app)
        run = _one_task_run(store, lifecycle)
        lifecycle.claim(run.id, owner="w", ttl_s=30)
        wired.courier.send_due()
        wired.courier.send_due()
        (delivery,) = wired.outbox.of_run(run.id)
        assert (delivery.state, delivery.attempts) == ("delivered", 2)
        wired.outbox.redeliver(delivery.id)
        wired.courier.send_due()
        wired.close()
    ids = {r.headers["x-scd-delivery"] for r in receiver.requests}
    assert len(receiver.requests) == 3
    assert ids == {delivery.id}
    assert receiver.requests[0].json()["event"] == "run.started"


def test_pending_deliveries_survive_a_restart(tmp_path: Path, store: RunStore) -> None:
    with recorder() as receiver:
        lifecycle, wired = _wire(tmp_path, store, _callback_app(receiver.url))
        run = _one_task_run(store, lifecycle)
        _finish(store, lifecycle, run)
        wired.close()  # nothing sent
        assert receiver.requests == []
        _, reopened = _wire(tmp_path, store, _callback_app(receiver.url))
        assert reopened.courier.send_due() == 1
        reopened.close()
    assert len(receiver.requests) == 1


def _dingtalk_sign_ok(recorded: Any, secret: str) -> bool:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(recorded.path).query)
    stamp = query["timestamp"][0]
    digest = hmac.new(secret.encode(), f"{stamp}\n{secret}".encode(), hashlib.sha256).digest()
    return query["sign"][0] == base64.b64encode(digest).decode()


def test_app_notify_on_failure_and_on_fix_only(tmp_path: Path, store: RunStore) -> None:
    with recorder() as robot:
        notify = {
            "uses": "dingtalk",
            "on": ["failure", "fix"],
            "with": {"webhook": f"{robot.url}/robot/send?access_token=t1", "secret": "SEC1"},
        }
        lifecycle, wired = _wire(tmp_path, store, make_app(notify=[notify]))
        for n, status in enumerate(["success", "failure", "failure", "success", "success"]):
            run = _one_task_run(store, lifecycle, n, created_at=_at(n))
            _finish(store, lifecycle, run, status)
        wired.courier.send_due()
        wired.close()
    titles = [r.json()["markdown"]["title"] for r in robot.requests]
    assert titles == ["web: failure", "web: failure", "web: fixed"]
    assert all(_dingtalk_sign_ok(r, "SEC1") for r in robot.requests)
    assert all(r.path.startswith("/robot/send?access_token=t1&") for r in robot.requests)


def _at(n: int) -> Any:
    from datetime import timedelta

    from factories import BASE

    return BASE + timedelta(minutes=n)


def test_notify_webhook_always_posts_the_run(tmp_path: Path, store: RunStore) -> None:
    with recorder() as hook:
        notify = {"uses": "notify-webhook", "on": "always", "with": {"url": hook.url + "/n"}}
        lifecycle, wired = _wire(tmp_path, store, make_app(notify=[notify]))
        _finish(store, lifecycle, _one_task_run(store, lifecycle))
        wired.courier.send_due()
        wired.close()
    (request,) = hook.requests
    assert json.loads(request.body)["status"] == "success"


def test_the_outbox_forgets_finished_deliveries_after_a_while(tmp_path: Path) -> None:
    box = outbox_module.Outbox(tmp_path / "outbox.db")
    try:
        for n, at in enumerate([0.0, 1e12]):
            box.add(
                dedup=f"d{n}", run_id="r", app="web", kind="callback", target="t",
                event="run.finished", payload={}, retry_for_s=60, now=at,
            )  # fmt: skip
        old, _new = box.of_run("r")
        box.record(old.id, code=200, error=None)
        assert box.prune(older_than_s=3600) == 1
        assert [d.id for d in box.of_run("r")] == [_new.id]
    finally:
        box.close()


def test_a_status_waits_while_an_older_one_of_its_context_is_in_flight(tmp_path: Path) -> None:
    box = outbox_module.Outbox(tmp_path / "outbox.db")
    try:

        def add(n: int) -> None:
            box.add(
                dedup=f"s{n}", run_id="r", app="web", kind="status", target="scd/web",
                group="status:scd/web", event=f"e{n}", payload={}, retry_for_s=60,
            )  # fmt: skip

        add(1)
        (running,) = box.claim_due()  # another courier is sending it
        add(2)
        assert box.claim_due() == []  # the newer one waits for it
        assert box.in_flight() == 1
        box.record(running.id, code=201, error=None)
        assert [d.event for d in box.claim_due()] == ["e2"]
    finally:
        box.close()
