"""Step logs over real HTTP on loopback: pages, offsets, bad keys, and live SSE followers."""

from __future__ import annotations

import hashlib
import json
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from scd_core.invokers.memory import MemoryInvoker
from scd_core.models import Event, Run, StepState
from scd_core.settings import Settings
from scd_core.sinks.file import FileLogSink
from scd_core.store import RunStore
from scd_core.stores import open_store

from functions.appconfig import parse_config
from functions.trigger.app import create_app
from functions.trigger.testing import serve

READ = "log-reader-token"
STAMP = b"2026-11-27T07:20:25.123Z "
CONFIG = f"""
apps:
  - name: web
    repo: https://github.com/acme/web.git
    insecure_no_secret: true
tokens:
  - {{name: reader, sha256: {hashlib.sha256(READ.encode()).hexdigest()}, scopes: [read]}}
"""
AUTH = {"authorization": f"Bearer {READ}"}
SSE = {**AUTH, "accept": "text/event-stream"}


@dataclass
class Api:
    url: str
    store: RunStore
    sink: FileLogSink
    run_id: str = ""

    def get(self, path: str, **headers: str) -> httpx.Response:
        return httpx.get(self.url + path, headers={**AUTH, **headers}, timeout=30)

    def logs(self, step: str = "build") -> str:
        return f"/api/v1/runs/{self.run_id}/steps/{step}/logs"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    tmp_path = tmp_path_factory.mktemp("logs-api")
    settings = Settings(data_dir=tmp_path, config=tmp_path / "scd.yaml")
    store = open_store(settings.store)
    app = create_app(settings, config=parse_config(CONFIG), store=store, invoker=MemoryInvoker())
    try:
        with serve(app) as url:
            yield Api(url, store, FileLogSink(tmp_path / "logs"))
    finally:
        store.close()


@pytest.fixture
def api(served: Api) -> Api:
    """The module's server with a fresh running run whose step ``build`` is running."""
    api = replace(served, run_id=uuid.uuid4().hex)
    event = Event(provider="github", event_name="push", branch="main", commit="a" * 40)
    run = Run(id=api.run_id, app="web", dedup_key=api.run_id, event=event, status="running")
    api.store.create_run(run)
    api.store.put_step(api.run_id, StepState(id="build", index=0, status="running"))
    return api


def _framed(lines: list[str]) -> bytes:
    return b"".join(STAMP + line.encode() + b"\n" for line in lines)


def test_a_page_of_the_log_tells_the_next_offset_and_whether_it_is_closed(api: Api) -> None:
    data = _framed(["one", "two", "three"])
    api.sink.append(api.run_id, "build", data)
    first = api.get(api.logs() + "?limit=40")
    assert first.status_code == 200
    assert first.headers["content-type"].startswith("text/plain")
    assert first.text == "one\n"  # cut back to whole lines
    assert first.headers["x-next-offset"] == str(len(STAMP) + 4)
    assert first.headers["x-log-closed"] == "false"
    rest = api.get(api.logs() + f"?offset={first.headers['x-next-offset']}")
    assert rest.text == "two\nthree\n"
    api.sink.close(api.run_id, "build")
    end = api.get(api.logs() + f"?offset={rest.headers['x-next-offset']}")
    assert (end.text, end.headers["x-log-closed"]) == ("", "true")


def test_an_offset_past_the_end_answers_empty_at_that_offset(api: Api) -> None:
    api.sink.append(api.run_id, "build", _framed(["only"]))
    answer = api.get(api.logs() + "?offset=100000")
    assert answer.status_code == 200
    assert answer.text == ""
    assert answer.headers["x-next-offset"] == "100000"


@pytest.mark.parametrize("query", ["offset=-1", "offset=x", "limit=0", "limit=999999999"])
def test_a_negative_offset_or_a_bad_limit_is_400(api: Api, query: str) -> None:
    api.sink.append(api.run_id, "build", _framed(["only"]))
    answer = api.get(api.logs() + "?" + query)
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"


def test_a_10_mb_log_read_in_pages_adds_up_to_the_stored_log(api: Api) -> None:
    lines = [f"{i:07d} " + "x" * 1000 for i in range(10_000)]  # about 10 MB stored
    for start in range(0, len(lines), 1000):
        api.sink.append(api.run_id, "build", _framed(lines[start : start + 1000]))
    api.sink.close(api.run_id, "build")
    stored = _framed(lines)
    assert api.sink.read(api.run_id, "build", 0, 1 << 30).data == stored
    pages: list[bytes] = []
    offset = 0
    for _ in range(100):
        page = api.get(api.logs() + f"?offset={offset}&limit={1 << 20}&timestamps=true")
        pages.append(page.content)
        offset = int(page.headers["x-next-offset"])
        if page.headers["x-log-closed"] == "true":
            break
    assert len(pages) > 9
    assert b"".join(pages) == stored


@pytest.mark.parametrize(
    ("run_id", "step"),
    [
        ("..%2F..%2Fetc", "build"),
        ("%2E%2E", "build"),
        ("run%00id", "build"),
        (None, "..%2Fsecrets"),
        (None, "build%00"),
        (None, "%2E%2E"),
        (None, "a..b"),
    ],
)
def test_a_run_id_or_step_with_dot_dot_or_nul_is_400(
    api: Api, run_id: str | None, step: str
) -> None:
    answer = api.get(f"/api/v1/runs/{run_id or api.run_id}/steps/{step}/logs")
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"


def test_the_same_bad_ids_are_400_on_the_run_routes(api: Api) -> None:
    for bad in ("..%2F..%2Fetc", "a%00b"):
        assert api.get(f"/api/v1/runs/{bad}").status_code == 400
        post = httpx.post(f"{api.url}/api/v1/runs/{bad}/cancel", headers=AUTH, timeout=10)
        assert post.status_code in (400, 403)  # the read token may not cancel: 403 first


# -- server-sent events ------------------------------------------------------------------


def _events(response: httpx.Response) -> Iterator[dict[str, Any]]:
    """The events of an SSE answer as dicts with ``id``, ``event`` and parsed ``data``."""
    buffer = ""
    for text in response.iter_text():
        buffer += text
        while "\n\n" in buffer:
            block, buffer = buffer.split("\n\n", 1)
            fields: dict[str, Any] = {}
            for line in block.split("\n"):
                if line.startswith(":") or ":" not in line:
                    continue
                name, _, value = line.partition(":")
                fields[name] = value.removeprefix(" ")
            if "data" in fields:
                fields["data"] = json.loads(fields["data"])
                yield fields


def _follow(api: Api, out: list[dict[str, Any]], ready: threading.Event, **headers: str) -> None:
    with httpx.stream("GET", api.url + api.logs(), headers={**SSE, **headers}, timeout=30) as r:
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        ready.set()
        for event in _events(r):
            out.append(event)
            if event["event"] == "end":
                return


def test_two_followers_of_a_live_log_both_see_every_line_and_the_end(api: Api) -> None:
    api.sink.append(api.run_id, "build", _framed(["before"]))
    seen: list[list[dict[str, Any]]] = [[], []]
    readies = [threading.Event(), threading.Event()]
    threads = [threading.Thread(target=_follow, args=(api, seen[i], readies[i])) for i in range(2)]
    for thread in threads:
        thread.start()
    for ready in readies:
        assert ready.wait(10)
    lines = [f"line {i}" for i in range(50)]
    for start in range(0, 50, 5):
        api.sink.append(api.run_id, "build", _framed(lines[start : start + 5]))
    api.sink.close(api.run_id, "build")
    api.store.put_step(api.run_id, StepState(id="build", index=0, status="success"))
    for thread in threads:
        thread.join(20)
        assert not thread.is_alive()
    for events in seen:
        assert [e["data"]["text"] for e in events[:-1]] == ["before", *lines]
        assert events[-1] == {"event": "end", "data": {"status": "success"}}
        assert events[0]["data"]["t"] == "2026-11-27T07:20:25.123000Z"
        assert [int(e["id"]) for e in events[:-1]] == [
            len(STAMP) + 7 + sum(len(STAMP) + len(x) + 1 for x in lines[:i]) for i in range(51)
        ]


def test_last_event_id_resumes_after_that_line(api: Api) -> None:
    api.sink.append(api.run_id, "build", _framed(["a", "b", "c", "d"]))
    api.sink.close(api.run_id, "build")
    api.store.put_step(api.run_id, StepState(id="build", index=0, status="failure"))
    first: list[dict[str, Any]] = []
    _follow(api, first, threading.Event())
    assert [e["data"]["text"] for e in first[:-1]] == ["a", "b", "c", "d"]
    resumed: list[dict[str, Any]] = []
    _follow(api, resumed, threading.Event(), **{"last-event-id": first[1]["id"]})
    assert [e["data"]["text"] for e in resumed[:-1]] == ["c", "d"]
    assert resumed[-1]["data"] == {"status": "failure"}


def test_a_stream_of_a_step_that_never_logged_ends_with_its_final_status(api: Api) -> None:
    api.store.put_step(api.run_id, StepState(id="build", index=0, status="skipped"))
    events: list[dict[str, Any]] = []
    _follow(api, events, threading.Event())
    assert events == [{"event": "end", "data": {"status": "skipped"}}]


def test_a_bad_last_event_id_is_400(api: Api) -> None:
    answer = api.get(api.logs(), **{"accept": "text/event-stream", "last-event-id": "x"})
    assert answer.status_code == 400


def test_an_idle_stream_sends_keepalive_comments(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    from functions.trigger import logstream

    monkeypatch.setattr(logstream, "KEEPALIVE_S", 0.05)  # the server runs in this process
    api.sink.append(api.run_id, "build", _framed(["start"]))
    with httpx.stream("GET", api.url + api.logs(), headers=SSE, timeout=30) as answer:
        received = ""
        for text in answer.iter_text():
            received += text
            if ": keepalive\n\n" in received:
                break
    assert "event: line" in received
    assert ": keepalive\n\n" in received


def test_a_stream_ends_when_the_run_ended_without_closing_the_log(api: Api) -> None:
    api.sink.append(api.run_id, "build", _framed(["last words"]))
    run = api.store.get_run(api.run_id)
    run.status = "error"
    api.store.update_run(run)
    events: list[dict[str, Any]] = []
    _follow(api, events, threading.Event())
    assert [e["data"] for e in events] == [
        {"t": "2026-11-27T07:20:25.123000Z", "text": "last words"},
        {"status": "error"},
    ]


# -- the logs of a task's steps ----------------------------------------------------------


def _with_task(api: Api, task: str) -> None:
    """Record ``task`` as a running task instance of the run."""
    from scd_core.lifecycle import Lifecycle

    assert Lifecycle(api.store).claim(api.run_id, task, owner="w", ttl_s=60).run is not None


def _task_logs(api: Api, task: str, step: str = "build") -> str:
    return f"/api/v1/runs/{api.run_id}/tasks/{quote(task, safe='')}/steps/{step}/logs"


def test_a_task_s_step_log_is_its_own_and_the_default_route_keeps_the_default_task(
    api: Api,
) -> None:
    from scd_core.lifecycle_keys import log_key

    task = "lint (node 18)"
    _with_task(api, task)
    api.store.put_step(api.run_id, StepState(id="check", task=task, index=0, status="running"))
    api.sink.append(api.run_id, "build", _framed(["default's line"]))
    api.sink.append(api.run_id, log_key(task, "build"), _framed(["lint's build line"]))
    api.sink.append(api.run_id, log_key(task, "check"), _framed(["lint's check line"]))
    assert api.get(api.logs()).text == "default's line\n"
    assert api.get(_task_logs(api, "default")).text == "default's line\n"
    assert api.get(_task_logs(api, task)).text == "lint's build line\n"
    by_index = api.get(_task_logs(api, task, "0"))  # an index names the task's own step
    assert by_index.text == "lint's check line\n"
    assert by_index.headers["x-log-closed"] == "false"


def test_a_task_s_step_log_streams_as_events_until_its_end(api: Api) -> None:
    from scd_core.lifecycle_keys import log_key

    _with_task(api, "lint")
    api.store.put_step(api.run_id, StepState(id="check", task="lint", index=0, status="failure"))
    api.sink.append(api.run_id, log_key("lint", "check"), _framed(["x", "y"]))
    api.sink.close(api.run_id, log_key("lint", "check"))
    with httpx.stream("GET", api.url + _task_logs(api, "lint", "check"), headers=SSE) as answer:
        assert answer.status_code == 200
        events = list(_events(answer))
    assert [e["data"]["text"] for e in events[:-1]] == ["x", "y"]
    assert events[-1] == {"event": "end", "data": {"status": "failure"}}


def test_an_unknown_task_is_404_and_a_task_id_with_a_control_character_is_400(
    api: Api,
) -> None:
    missing = api.get(_task_logs(api, "nope"))
    assert missing.status_code == 404
    assert "no task 'nope'" in missing.json()["detail"]
    bad = api.get(_task_logs(api, "a\x01b"))
    assert bad.status_code == 400
    assert bad.json()["error"] == "bad_request"


def test_the_run_detail_lists_its_tasks_and_each_step_s_task(api: Api) -> None:
    _with_task(api, "lint")
    api.store.put_step(api.run_id, StepState(id="check", task="lint", index=0, status="running"))
    body = api.get(f"/api/v1/runs/{api.run_id}").json()
    [task] = body["tasks"]
    assert (task["id"], task["task"], task["status"], task["attempt"]) == (
        "lint",
        "lint",
        "running",
        1,
    )
    steps = {(s["id"], s["task"]) for s in body["steps"]}
    assert steps == {("build", "default"), ("check", "lint")}
