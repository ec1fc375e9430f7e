"""Built-in plugins: cache (restore before, save after success) and notify-webhook."""

from __future__ import annotations

import json
import textwrap
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
from scd_core.logs import strip_timestamps
from scd_core.sinks.memory import MemoryLogSink
from scd_engine.plan import compile_plan
from scd_engine.runtime import Runner, RunnerOptions, RunResult
from scd_engine.spec import load_pipeline


def run_yaml(workspace: Path, text: str, **kw: Any) -> tuple[RunResult, Callable[[str], str]]:
    path = workspace / "serverless-pipeline.yaml"
    path.write_text(textwrap.dedent(text))
    sink = MemoryLogSink()
    task = compile_plan(load_pipeline(path)).task("default")
    result = Runner(RunnerOptions(workspace, sink=sink, run_id="r1", **kw)).run(task)

    def log(step: str) -> str:
        return strip_timestamps(sink.read("r1", step).data).decode()

    return result, log


CACHE_PIPELINE = """
steps:
  - id: cache
    uses: cache
    with:
      key: "deps-${{ hashFiles('lock.txt') }}"
      path: [deps, other/file.txt]
      restore-keys: "deps-"
  - id: build
    run: |
      echo "hit=${{ steps.cache.outputs.cache-hit }}"
      if [ ! -d deps ]; then mkdir -p deps other; echo built > deps/lib; echo x > other/file.txt; fi
      cat deps/lib
      exit ${FAIL:-0}
"""


def fresh(tmp_path: Path, name: str, lock: str) -> Path:
    ws = tmp_path / name
    ws.mkdir()
    (ws / "lock.txt").write_text(lock)
    return ws


def test_cache_misses_then_saves_after_a_successful_run_then_hits(tmp_path: Path) -> None:
    store = tmp_path / "store"
    first, log = run_yaml(fresh(tmp_path, "a", "v1"), CACHE_PIPELINE, cache_dir=store)
    assert first.status == "success"
    assert first.steps[0].outputs["cache-hit"] == "false"
    assert [s.id for s in first.steps] == ["cache", "build", "post-cache"]
    assert "saved key deps-" in log("post-cache")

    ws = fresh(tmp_path, "b", "v1")
    second, log = run_yaml(ws, CACHE_PIPELINE, cache_dir=store)
    assert second.steps[0].outputs["cache-hit"] == "true"
    assert (ws / "deps" / "lib").read_text() == "built\n"
    assert (ws / "other" / "file.txt").read_text() == "x\n"
    assert [s.id for s in second.steps] == ["cache", "build"]


def test_cache_restore_keys_match_an_older_key_by_prefix(tmp_path: Path) -> None:
    store = tmp_path / "store"
    run_yaml(fresh(tmp_path, "a", "v1"), CACHE_PIPELINE, cache_dir=store)
    ws = fresh(tmp_path, "b", "v2")
    result, _ = run_yaml(ws, CACHE_PIPELINE, cache_dir=store)
    assert result.steps[0].outputs["cache-hit"] == "false"
    assert result.steps[0].outputs["cache-matched-key"].startswith("deps-")
    assert (ws / "deps" / "lib").exists()
    assert result.steps[-1].id == "post-cache"


def test_cache_is_not_saved_when_the_run_fails(tmp_path: Path) -> None:
    store = tmp_path / "store"
    result, log = run_yaml(
        fresh(tmp_path, "a", "v1"), CACHE_PIPELINE, cache_dir=store, env={"FAIL": "1"}
    )
    assert result.status == "failure"
    assert "not saving" in log("post-cache")
    assert not list(store.glob("*.tar.gz")) if store.exists() else True


def test_cache_refuses_a_path_outside_the_workspace(tmp_path: Path) -> None:
    ws = fresh(tmp_path, "a", "v1")
    result, log = run_yaml(
        ws, "steps:\n  - {id: c, uses: cache, with: {key: k, path: ../x}}\n", cache_dir=tmp_path
    )
    assert result.status == "failure"
    assert "outside the workspace" in log("c")


class Recorder(BaseHTTPRequestHandler):
    received: ClassVar[list[tuple[str, dict[str, Any]]]] = []
    answer = 200

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        Recorder.received.append((self.path, json.loads(body)))
        self.send_response(Recorder.answer)
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    Recorder.received = []
    Recorder.answer = 200
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Recorder)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_notify_webhook_posts_a_run_summary_even_after_a_failure(
    tmp_path: Path, server: str
) -> None:
    text = f"""
    steps:
      - {{id: bad, run: exit 1}}
      - id: notify
        if: ${{{{ always() }}}}
        uses: notify-webhook
        with: {{url: "{server}/hook?token=${{{{ secrets.HOOK }}}}"}}
    """
    result, log = run_yaml(tmp_path, text, secrets={"HOOK": "hook-secret-77"})
    assert result.steps[1].status == "success"
    assert result.steps[1].outputs == {"status": "200"}
    path, body = Recorder.received[0]
    assert path == "/hook?token=hook-secret-77"
    assert body["status"] == "failure"
    assert body["steps"] == {"bad": "failure"}
    assert "hook-secret-77" not in log("notify")


def test_notify_webhook_sends_a_given_body_and_fails_on_an_error_answer(
    tmp_path: Path, server: str
) -> None:
    Recorder.answer = 500
    text = f"""
    steps:
      - id: notify
        uses: notify-webhook
        with: {{url: "{server}/x", body: {{text: "deploy ${{{{ git.branch || 'local' }}}}"}}}}
    """
    result, log = run_yaml(tmp_path, text)
    assert Recorder.received[0][1] == {"text": "deploy local"}
    assert result.steps[0].status == "failure"
    assert "answered 500" in log("notify")
