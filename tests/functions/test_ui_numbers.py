"""The dashboard names runs by their number within their app (``web #42``) and shows what
each step, and the run, used (CPU seconds, peak memory)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from api_support import serve_trigger
from scd_core.models import StepState
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
        StepState(
            id="build", index=0, status="success", cpu_seconds=72.5, max_rss_bytes=300 * mib
        ),
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
