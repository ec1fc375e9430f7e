"""Following a step's log before the step exists: the SSE route waits for it, bounded."""

from __future__ import annotations

import hashlib
import json
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import httpx
import pytest
from scd_core.invokers.memory import MemoryInvoker
from scd_core.models import Event, Run, StepState
from scd_core.settings import Settings
from scd_core.sinks.file import FileLogSink
from scd_core.store import RunStore
from scd_core.stores import open_store

from functions.appconfig import parse_config
from functions.trigger import logstream
from functions.trigger.app import create_app
from functions.trigger.testing import serve

READ = "wait-reader-token"
STAMP = b"2026-11-27T07:20:25.123Z "
CONFIG = f"""
apps:
  - name: web
    repo: https://github.com/acme/web.git
    insecure_no_secret: true
tokens:
  - {{name: reader, sha256: {hashlib.sha256(READ.encode()).hexdigest()}, scopes: [read]}}
"""
SSE = {"authorization": f"Bearer {READ}", "accept": "text/event-stream"}


@dataclass
class Api:
    url: str
    store: RunStore
    sink: FileLogSink

    def run(self, status: str = "queued") -> str:
        run_id = uuid.uuid4().hex
        event = Event(provider="github", event_name="manual", ref="refs/heads/main")
        self.store.create_run(Run(id=run_id, app="web", dedup_key=run_id, event=event))
        if status != "queued":
            run = self.store.get_run(run_id)
            run.status = status  # type: ignore[assignment]
            self.store.update_run(run)
        return run_id


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp_path = tmp_path_factory.mktemp("logs-wait")
    settings = Settings(data_dir=tmp_path, config=tmp_path / "scd.yaml")
    store = open_store(settings.store)
    app = create_app(settings, config=parse_config(CONFIG), store=store, invoker=MemoryInvoker())
    try:
        with serve(app) as url:
            yield Api(url, store, FileLogSink(tmp_path / "logs"))
    finally:
        store.close()


def _texts(response: httpx.Response) -> list[str]:
    texts = []
    for block in response.text.split("\n\n"):
        for line in block.split("\n"):
            if line.startswith("data: "):
                data = json.loads(line[6:])
                texts.append(data.get("text", f"end:{data.get('status')}"))
    return texts


def test_following_a_step_not_started_yet_waits_for_it_then_streams_its_log(api: Api) -> None:
    run_id = api.run()

    def worker() -> None:
        time.sleep(1.0)  # the follower asked before the step was recorded
        api.store.put_step(run_id, StepState(id="build", index=0, status="running"))
        api.sink.append(run_id, "build", STAMP + b"compiling\n")
        api.sink.close(run_id, "build")
        api.store.put_step(run_id, StepState(id="build", index=0, status="success"))

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    answer = httpx.get(f"{api.url}/api/v1/runs/{run_id}/steps/build/logs", headers=SSE, timeout=60)
    thread.join(10)
    assert answer.status_code == 200, answer.text
    assert _texts(answer) == ["compiling", "end:success"]


def test_a_step_absent_from_a_finished_run_is_404_without_waiting(api: Api) -> None:
    run_id = api.run("success")
    answer = httpx.get(f"{api.url}/api/v1/runs/{run_id}/steps/nope/logs", headers=SSE, timeout=60)
    assert answer.status_code == 404
    assert answer.json()["error"] == "not_found"


def test_an_unknown_run_is_404_and_the_wait_is_bounded(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert httpx.get(f"{api.url}/api/v1/runs/zzz/steps/0/logs", headers=SSE).status_code == 404
    monkeypatch.setattr(logstream.wait_for_step, "__defaults__", (0.5,))
    run_id = api.run("running")
    answer = httpx.get(f"{api.url}/api/v1/runs/{run_id}/steps/later/logs", headers=SSE, timeout=60)
    assert answer.status_code == 404  # a running run whose step never came: 404 after the wait
