"""The read API over real HTTP on loopback: runs, step logs and cancel, with a SQLite store."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass, replace
from datetime import datetime, timezone

import httpx
import pytest
from api_support import WEB_APP, Served, config_yaml, serve_trigger, token_yaml
from scd_core.models import Event, Job, Run, StepState

READ, TRIGGER = "read-token-value", "trigger-token-value"
STAMP = b"2026-11-27T07:20:25.123456Z "


CONFIG = config_yaml(
    WEB_APP, token_yaml("reader", READ, "read"), token_yaml("ci", TRIGGER, "trigger")
)


@dataclass
class Api(Served):
    run_id: str = ""

    def get(self, path: str, token: str | None = READ) -> httpx.Response:
        return self.request("GET", path, token)

    def post(self, path: str, token: str | None = TRIGGER) -> httpx.Response:
        return self.request("POST", path, token)


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    with serve_trigger(tmp_path_factory.mktemp("runs-api"), CONFIG, Api) as api:
        yield api


@pytest.fixture
def api(served: Api) -> Api:
    """The module's server, with a fresh run id for this test."""
    return replace(served, run_id=uuid.uuid4().hex)


def _run(api: Api, status: str = "running") -> Run:
    store, run_id = api.store, api.run_id
    event = Event(
        provider="github",
        event_name="push",
        ref="refs/heads/main",
        branch="main",
        commit="6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        payload={"secret_looking": "do-not-show"},
    )
    run, _ = store.create_run(Run(id=run_id, app="web", dedup_key=f"d-{run_id}", event=event))
    if status != "queued":
        run.status = status  # type: ignore[assignment]
        run.started_at = datetime(2026, 11, 27, 7, 0, tzinfo=timezone.utc)
        run = store.update_run(run)
    return run


def _steps(api: Api) -> None:
    store, run_id = api.store, api.run_id
    store.put_step(run_id, StepState(id="setup", name="Set up", index=-1, status="success"))
    store.put_step(run_id, StepState(id="0", name="echo hi", index=0, status="success"))
    store.put_step(run_id, StepState(id="test", name="Test", index=1, status="running"))


def test_get_run_answers_the_documented_fields_and_no_payload(api: Api) -> None:
    _run(api)
    _steps(api)
    answer = api.get(f"/api/v1/runs/{api.run_id}")
    assert answer.status_code == 200
    body = answer.json()
    assert set(body) >= {
        "id",
        "app",
        "status",
        "event",
        "ref",
        "commit",
        "created_at",
        "started_at",
        "finished_at",
        "steps",
        "branch",
        "message",
        "duration_s",
        "rerun_of",
    }
    assert (body["id"], body["app"], body["status"], body["event"]) == (
        api.run_id,
        "web",
        "running",
        "push",
    )
    assert body["ref"] == "refs/heads/main"
    assert body["commit"] == "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
    assert body["started_at"].startswith("2026-11-27T07:00:00")
    assert [s["id"] for s in body["steps"]] == ["setup", "0", "test"]
    assert set(body["steps"][0]) == {
        "id",
        "task",
        "name",
        "index",
        "status",
        "outcome",
        "conclusion",
        "started_at",
        "finished_at",
        "duration_s",
        "outputs",
        "cpu_seconds",
        "max_rss_bytes",
    }
    assert isinstance(body["number"], int)  # the run's number within its app
    assert "do-not-show" not in answer.text


def test_unknown_run_is_404_json_and_a_malformed_id_is_400(api: Api) -> None:
    missing = api.get("/api/v1/runs/" + "f" * 32)
    assert missing.status_code == 404
    assert missing.json()["error"] == "not_found"
    # well-formed (the id alphabet of every route: A-Za-z0-9._-) but no run: 404, as README says
    assert api.get("/api/v1/runs/zzz").status_code == 404
    bad = api.get("/api/v1/runs/bad%20id!")
    assert bad.status_code == 400
    assert bad.json()["error"] == "bad_request"


def test_reading_needs_a_token_with_the_read_scope_which_trigger_carries(api: Api) -> None:
    _run(api)
    assert api.get(f"/api/v1/runs/{api.run_id}", token=None).status_code == 401
    assert api.get(f"/api/v1/runs/{api.run_id}", token="wrong").status_code == 401
    assert api.get(f"/api/v1/runs/{api.run_id}", token=TRIGGER).status_code == 200


def test_step_log_is_plain_text_with_timestamps_stripped_unless_asked(api: Api) -> None:
    _run(api)
    _steps(api)
    api.sink.append(api.run_id, "test", STAMP + b"first line\n" + STAMP + b"second line\n")
    plain = api.get(f"/api/v1/runs/{api.run_id}/steps/test/logs")
    assert plain.status_code == 200
    assert plain.headers["content-type"].startswith("text/plain")
    assert plain.text == "first line\nsecond line\n"
    stamped = api.get(f"/api/v1/runs/{api.run_id}/steps/test/logs?timestamps=true")
    assert stamped.text == (STAMP + b"first line\n" + STAMP + b"second line\n").decode()


def test_step_log_by_index_from_zero_and_the_setup_step_by_id(api: Api) -> None:
    _run(api)
    _steps(api)
    api.sink.append(api.run_id, "0", STAMP + b"hi\n")
    api.sink.append(api.run_id, "test", STAMP + b"testing\n")
    api.sink.append(api.run_id, "setup", STAMP + b"Checked out\n")
    assert api.get(f"/api/v1/runs/{api.run_id}/steps/0/logs").text == "hi\n"
    assert api.get(f"/api/v1/runs/{api.run_id}/steps/1/logs").text == "testing\n"
    assert api.get(f"/api/v1/runs/{api.run_id}/steps/setup/logs").text == "Checked out\n"


def test_a_long_log_comes_back_whole_across_read_chunks(api: Api) -> None:
    _run(api)
    _steps(api)
    lines = [f"line {i:06d} " + "x" * 90 for i in range(6000)]  # about 600 KB
    for start in range(0, len(lines), 500):
        chunk = b"".join(STAMP + line.encode() + b"\n" for line in lines[start : start + 500])
        api.sink.append(api.run_id, "test", chunk)
    answer = api.get(f"/api/v1/runs/{api.run_id}/steps/test/logs")
    assert answer.text.splitlines() == lines


def test_a_recorded_step_without_a_log_yet_answers_empty(api: Api) -> None:
    _run(api)
    _steps(api)
    answer = api.get(f"/api/v1/runs/{api.run_id}/steps/test/logs")
    assert answer.status_code == 200
    assert answer.text == ""


def test_unknown_step_or_run_of_a_log_is_404(api: Api) -> None:
    _run(api)
    _steps(api)
    assert api.get(f"/api/v1/runs/{api.run_id}/steps/nope/logs").status_code == 404
    assert api.get(f"/api/v1/runs/{api.run_id}/steps/7/logs").status_code == 404
    assert api.get(f"/api/v1/runs/{'f' * 32}/steps/0/logs").status_code == 404
    assert api.get(f"/api/v1/runs/{api.run_id}/steps/..%2F..%2Fetc/logs").status_code in (400, 404)


def test_cancel_of_a_queued_run_ends_it_cancelled_and_stops_the_job(api: Api) -> None:
    run = _run(api, status="queued")
    api.invoker.dispatch(Job(id=run.id, app=run.app))
    answer = api.post(f"/api/v1/runs/{api.run_id}/cancel")
    assert answer.status_code == 202
    assert answer.json() == {"run_id": api.run_id, "status": "cancelled"}
    assert api.store.get_run(api.run_id).status == "cancelled"
    assert api.store.get_control(api.run_id) == "cancel"
    assert api.invoker.stopped.count(api.run_id) == 1


def test_cancel_of_a_running_run_records_the_request_for_its_worker(api: Api) -> None:
    run = _run(api, status="running")
    api.invoker.dispatch(Job(id=run.id, app=run.app))
    answer = api.post(f"/api/v1/runs/{api.run_id}/cancel")
    assert answer.status_code == 202
    assert answer.json()["status"] == "running"
    assert api.store.get_control(api.run_id) == "cancel"
    assert api.invoker.stopped.count(api.run_id) == 1


def test_cancel_of_an_ended_run_is_409_and_needs_the_trigger_scope(api: Api) -> None:
    _run(api, status="success")
    assert api.post(f"/api/v1/runs/{api.run_id}/cancel", token=READ).status_code == 403
    assert api.post(f"/api/v1/runs/{api.run_id}/cancel").status_code == 409
    assert api.store.get_control(api.run_id) is None


# -- listing, rerun ----------------------------------------------------------------------


def _listed(api: Api, app: str, n: int) -> list[str]:
    """``n`` runs of ``app`` one second apart: push on main, odd ones tags on dev."""
    ids = []
    for i in range(n):
        event = Event(
            provider="github",
            event_name="tag" if i % 2 else "push",
            branch="dev" if i % 2 else "main",
            commit=f"{i:040x}",
        )
        run = Run(
            id=f"{app}-{i:02d}",
            app=app,
            dedup_key=f"{app}:{i}",
            event=event,
            created_at=datetime(2026, 11, 27, 7, 0, i, tzinfo=timezone.utc),
        )
        api.store.create_run(run)
        ids.append(run.id)
    return ids


def test_list_runs_pages_newest_first_through_the_cursor(api: Api) -> None:
    app = f"list-{api.run_id[:8]}"
    ids = _listed(api, app, 7)
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        query = f"/api/v1/runs?app={app}&limit=3" + (f"&cursor={cursor}" if cursor else "")
        body = api.get(query).json()
        seen += [run["id"] for run in body["runs"]]
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert seen == ids[::-1]
    first = api.get(f"/api/v1/runs?app={app}&limit=1").json()["runs"][0]
    assert set(first) >= {"id", "app", "status", "event", "branch", "ref", "commit", "message"}
    assert set(first) >= {"created_at", "started_at", "finished_at", "duration_s", "rerun_of"}


def test_list_runs_filters_by_event_branch_and_status(api: Api) -> None:
    app = f"filter-{api.run_id[:8]}"
    ids = _listed(api, app, 6)
    tags = api.get(f"/api/v1/runs?app={app}&event=tag&branch=dev").json()["runs"]
    assert [run["id"] for run in tags] == [ids[5], ids[3], ids[1]]
    assert api.get(f"/api/v1/runs?app={app}&event=push&branch=dev").json()["runs"] == []
    assert len(api.get(f"/api/v1/runs?app={app}&status=queued").json()["runs"]) == 6
    assert api.get(f"/api/v1/runs?app={app}&status=running").json()["runs"] == []


@pytest.mark.parametrize(
    "query", ["status=done", "event=release", "limit=0", "limit=1001", "cursor=%25%25"]
)
def test_list_runs_rejects_bad_filters_with_400(api: Api, query: str) -> None:
    answer = api.get(f"/api/v1/runs?{query}")
    assert answer.status_code == 400
    assert answer.json()["error"] == "bad_request"


def test_list_runs_needs_a_token_and_a_trigger_token_reads(api: Api) -> None:
    assert api.get("/api/v1/runs", token=None).status_code == 401
    assert api.get("/api/v1/runs", token=TRIGGER).status_code == 200


def test_rerun_queues_a_linked_run_of_the_same_event_and_dispatches_it(api: Api) -> None:
    first = _run(api, status="failure")
    answers = [api.post(f"/api/v1/runs/{api.run_id}/rerun") for _ in range(2)]
    assert [a.status_code for a in answers] == [202, 202]
    new_ids = [a.json()["run_id"] for a in answers]
    assert answers[0].json() == {"run_id": new_ids[0], "status": "queued", "rerun_of": api.run_id}
    for n, new_id in enumerate(new_ids, start=1):
        rerun = api.store.get_run(new_id)
        assert rerun.rerun_of == api.run_id
        assert rerun.dedup_key == f"rerun:{api.run_id}:{n}"
        assert rerun.event == first.event
        assert api.get(f"/api/v1/runs/{new_id}").json()["rerun_of"] == api.run_id
    jobs = {job.id: job for job in api.invoker.jobs}
    assert jobs[new_ids[0]].commit == first.event.commit
    assert jobs[new_ids[1]].clone_url == "https://github.com/acme/web.git"


def test_rerun_needs_the_trigger_scope_and_a_known_run(api: Api) -> None:
    _run(api, status="success")
    assert api.post(f"/api/v1/runs/{api.run_id}/rerun", token=READ).status_code == 403
    assert api.post(f"/api/v1/runs/{api.run_id}/rerun", token=None).status_code == 401
    assert api.post(f"/api/v1/runs/{'f' * 32}/rerun").status_code == 404
    assert api.post("/api/v1/runs/bad%00id/rerun").status_code == 400


def test_rerun_of_a_run_whose_app_is_gone_is_404(api: Api) -> None:
    event = Event(provider="github", event_name="push", commit="a" * 40)
    api.store.create_run(Run(id=api.run_id, app="gone", dedup_key=f"g-{api.run_id}", event=event))
    answer = api.post(f"/api/v1/runs/{api.run_id}/rerun")
    assert answer.status_code == 404
    assert "gone" in answer.json()["detail"]
