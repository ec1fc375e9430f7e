"""The dashboard names runs by their number within their app (``web #42``), shows what each
step and the run used (CPU seconds, peak memory) and, for runs on Function Compute, what
they cost (per run, and per app for the month); the API answers the same figures."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta

import httpx
import pytest
from api_support import serve_trigger
from scd_core.models import StepState, TaskState
from test_ui import CONFIG, READ, Ui


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    with serve_trigger(tmp_path_factory.mktemp("ui-numbers"), CONFIG, Ui) as served:
        yield served


def test_the_run_page_and_the_runs_list_name_a_run_by_its_app_and_number(ui: Ui) -> None:
    first = ui.run("success", app="api")
    second = ui.run("failure", app="api")
    assert (first.number, second.number) == (1, 2)
    with ui.login(READ) as client:
        page = client.get(f"/ui/runs/{second.id}").text
        assert '<span class="app">api</span> <span class="label">#2</span>' in page
        assert "<title>api #2" in page
        rows = client.get("/ui/runs.json", params={"app": "api"}).json()["runs"]
        assert [(r["label"], r["number"]) for r in rows] == [("#2", 2), ("#1", 1)]
        listing = client.get("/ui/", params={"app": "api"}).text
        assert '<span class="label">#1</span>' in listing


def test_each_step_and_the_run_show_what_they_used(ui: Ui) -> None:
    run = ui.run("success")
    mib = 1024 * 1024
    states = [
        StepState(id="setup", name="Set up", index=-1, status="success", cpu_seconds=0.4),
        StepState(id="build", index=0, status="success", cpu_seconds=72.5, max_rss_bytes=300 * mib),
        StepState(id="test", index=1, status="success", cpu_seconds=3.0, max_rss_bytes=84 * mib),
        StepState(id="deploy", index=2, status="skipped"),
    ]
    for state in states:
        ui.store.put_step(run.id, state)
    with ui.login(READ) as client:
        page = client.get(f"/ui/runs/{run.id}").text
        assert '<span class="usage">CPU 1m 12s · peak 300 MB</span>' in page
        assert '<span class="usage">CPU 0.4s</span>' in page  # a peak under the worker's: unknown
        assert '<dd id="run-usage">CPU 1m 15s · peak 300 MB</dd>' in page  # CPU summed, peak max
        state = client.get(f"/ui/runs/{run.id}/state.json").json()
        assert state["run"]["usage"]["cpu_seconds"] == pytest.approx(75.9)
        build = next(s for s in state["steps"] if s["id"] == "build")
        assert (build["cpu_seconds"], build["max_rss_bytes"]) == (72.5, 300 * mib)
        deploy = next(s for s in state["steps"] if s["id"] == "deploy")
        assert deploy["usage"] == ""


def _fc_task(run_id: str, ui: Ui, seconds: float, vcpu: float | None = 2.0) -> None:
    run = ui.store.get_run(run_id)
    ended = run.started_at or run.created_at
    started = ended - timedelta(seconds=seconds)
    task = TaskState(
        status="success",
        started_at=started,
        finished_at=ended,
        memory_mb=4096,
        vcpu=vcpu,
    )
    ui.store.update_run(run.model_copy(update={"tasks": [task]}))


def test_a_run_on_fc_shows_its_cost_and_the_apps_page_sums_the_month(ui: Ui) -> None:
    first, second, local = ui.run("success"), ui.run("success"), ui.run("success")
    _fc_task(first.id, ui, 300)
    _fc_task(second.id, ui, 100, vcpu=None)
    with ui.login(READ) as client:
        page = client.get(f"/ui/runs/{first.id}").text
        assert "600.0 vCPU-s · 1,200.0 GB-s · 1 invocation ≈ USD 0.015600" in page
        assert 'title="FC prices as of 2024-08-27' in page
        assert 'id="run-cost"' not in client.get(f"/ui/runs/{local.id}").text
        apps = client.get("/ui/apps").text
        # 300 s and 100 s on 4 GB; the second's vCPU count unknown
        total = (0.0075 * 2 + 600 + 0.15 * 1600) * 0.00002
        assert f"600.0 vCPU-s · 1,600.0 GB-s · 2 invocations ≈ USD {total:.6f}" in apps
        assert "vCPU time unknown: set SCD_FC_VCPU" in apps


def test_the_api_answers_a_runs_cost_and_each_tasks_size(ui: Ui) -> None:
    run = ui.run("success")
    _fc_task(run.id, ui, 60, vcpu=1.0)
    answer = httpx.get(
        f"{ui.url}/api/v1/runs/{run.id}", headers={"Authorization": f"Bearer {READ}"}
    )
    body = answer.json()
    assert body["cost"]["invocations"] == 1
    assert (body["cost"]["vcpu_seconds"], body["cost"]["gb_seconds"]) == (60.0, 240.0)
    assert body["cost"]["usd"] == pytest.approx((0.0075 + 60 + 36) * 0.00002)
    assert body["cost"]["prices_as_of"].startswith("2024-08-27")
    assert (body["tasks"][0]["memory_mb"], body["tasks"][0]["vcpu"]) == (4096, 1.0)
    local = ui.run("success")
    no_cost = httpx.get(
        f"{ui.url}/api/v1/runs/{local.id}", headers={"Authorization": f"Bearer {READ}"}
    )
    assert no_cost.json()["cost"] is None
