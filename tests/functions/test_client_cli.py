"""The scd client commands against the real trigger app on loopback (SQLite store, file sink)."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone

import pytest
from api_support import WEB_APP, Served, config_yaml, serve_trigger, token_yaml
from scd_core.models import Event, Run, StepState
from typer.testing import CliRunner, Result

from functions.cli import app

READ, TRIGGER, ADMIN = "read-token-value", "trigger-token-value", "admin-token-value"
COMMIT = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
STAMP = "2026-11-27T07:20:25.123Z "


CONFIG = config_yaml(
    WEB_APP,
    token_yaml("reader", READ, "read"),
    token_yaml("ci", TRIGGER, "trigger"),
    token_yaml("root", ADMIN, "admin"),
)


@dataclass
class Server(Served):
    routes: set[str] = field(default_factory=set)

    def scd(self, *args: str, token: str | None = READ, url: str | None = None) -> Result:
        """Run ``scd ARGS`` in-process against this server (tables wide enough to read)."""
        env = {"SCD_SERVER": url or self.url, "COLUMNS": "200", "SCD_TOKEN": token or ""}
        return CliRunner().invoke(app, list(args), env=env)

    def needs(self, method: str, path: str) -> None:
        """Skip while the API route this test drives has not landed."""
        if f"{method} {path}" not in self.routes:
            pytest.skip(f"the API has no {method} {path} yet (issue 5, API part)")

    def needs_sse(self) -> None:
        """Skip while the log route does not answer server-sent events yet."""
        run = _run(self)
        _step(self, run, "s", 0, "success", "x")
        import httpx

        answer = httpx.get(
            f"{self.url}/api/v1/runs/{run.id}/steps/s/logs",
            headers={"authorization": f"Bearer {READ}", "accept": "text/event-stream"},
            timeout=10,
        )
        if not answer.headers.get("content-type", "").startswith("text/event-stream"):
            pytest.skip("the log route does not stream server-sent events yet (issue 5, API part)")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    with serve_trigger(tmp_path_factory.mktemp("client-cli"), CONFIG, Server) as served:
        import httpx

        paths = httpx.get(served.url + "/openapi.json", timeout=10).json()["paths"]
        served.routes = {f"{m.upper()} {p}" for p, ops in paths.items() for m in ops}
        yield served


def _run(
    server: Server, *, status: str = "success", branch: str = "main", run_id: str | None = None
) -> Run:
    run_id = run_id or uuid.uuid4().hex
    event = Event(
        provider="github",
        event_name="push",
        ref=f"refs/heads/{branch}",
        branch=branch,
        commit=COMMIT,
        message="Update README",
    )
    run, _ = server.store.create_run(Run(id=run_id, app="web", dedup_key=run_id, event=event))
    if status != "queued":
        run.status = status  # type: ignore[assignment]
        run.started_at = datetime(2026, 11, 27, 7, 0, tzinfo=timezone.utc)
        if status not in ("running", "pending"):
            run.finished_at = datetime(2026, 11, 27, 7, 1, 5, tzinfo=timezone.utc)
        run = server.store.update_run(run)
    return run


def _step(server: Server, run: Run, key: str, index: int, status: str, *lines: str) -> None:
    state = StepState(id=key, name=f"step {key}", index=index, status=status)
    server.store.put_step(run.id, state)
    if lines:
        server.sink.append(run.id, key, "".join(f"{STAMP}{line}\n" for line in lines).encode())
    if status not in ("running", "pending"):
        server.sink.close(run.id, key)


def _finished_run(server: Server) -> Run:
    run = _run(server)
    _step(server, run, "setup", -1, "success", "cloned acme/web")
    _step(server, run, "0", 0, "success", "hello", "\x1b[32mgreen\x1b[0m")
    _step(server, run, "test", 1, "success", "3 passed")
    return run


# -- logs ---------------------------------------------------------------------------


def test_logs_prints_every_step_in_order_under_a_header_each(server: Server) -> None:
    run = _finished_run(server)
    result = server.scd("logs", run.id)
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.index("step setup") < out.index("cloned acme/web") < out.index("step 0 (0)")
    assert out.index("hello") < out.index("step test") < out.index("3 passed")
    assert "\x1b[32mgreen\x1b[0m" in out  # the log's own colours pass through
    assert STAMP.strip() not in out


def test_logs_of_one_step_prints_only_its_text_and_timestamps_on_request(server: Server) -> None:
    run = _finished_run(server)
    plain = server.scd("logs", run.id, "test")
    assert (plain.exit_code, plain.output) == (0, "3 passed\n")
    stamped = server.scd("logs", run.id, "1", "--timestamps")
    assert (stamped.exit_code, stamped.output) == (0, f"{STAMP}3 passed\n")


def test_logs_of_an_unknown_run_says_not_found_and_exits_1(server: Server) -> None:
    result = server.scd("logs", uuid.uuid4().hex)
    assert result.exit_code == 1
    assert "scd logs:" in result.output
    assert "(HTTP 404)" in result.output


def test_logs_of_a_run_id_with_dot_dot_is_refused_by_the_server(server: Server) -> None:
    result = server.scd("logs", "..", "setup")
    assert result.exit_code == 1
    assert "(HTTP 400)" in result.output or "(HTTP 404)" in result.output


def test_logs_follow_prints_lines_written_live_and_exits_0_on_success(server: Server) -> None:
    server.needs_sse()
    run = _run(server, status="running")
    _step(server, run, "build", 0, "running", "first")
    written = threading.Event()

    def write_rest() -> None:
        written.wait(10)  # the follower is connected once `first` was served
        server.sink.append(run.id, "build", f"{STAMP}second\n{STAMP}third\n".encode())
        _finish(server, run, "build", "success")

    writer = threading.Thread(target=write_rest, daemon=True)
    writer.start()
    with _Proxy(server.url, on_first_event=written.set) as proxy:
        result = server.scd("logs", run.id, "build", "-f", url=proxy.url)
    writer.join(10)
    assert result.exit_code == 0, result.output
    assert result.output == "first\nsecond\nthird\n"


def test_logs_follow_exits_1_when_the_step_fails(server: Server) -> None:
    server.needs_sse()
    run = _run(server, status="failure")
    _step(server, run, "build", 0, "failure", "boom")
    result = server.scd("logs", run.id, "build", "-f")
    assert result.exit_code == 1
    assert result.output.startswith("boom\n")
    stamped = server.scd("logs", run.id, "build", "-f", "--timestamps")
    assert stamped.output.startswith(STAMP[:23])
    assert stamped.output.splitlines()[0].endswith("Z boom")


def test_logs_follow_resumes_after_a_dropped_connection_without_losing_or_repeating(
    server: Server,
) -> None:
    server.needs_sse()
    run = _run(server, status="running")
    _step(server, run, "build", 0, "running", "one")
    dropped = threading.Event()

    def write_rest() -> None:
        dropped.wait(10)
        server.sink.append(run.id, "build", f"{STAMP}two\n{STAMP}three\n".encode())
        _finish(server, run, "build", "success")

    writer = threading.Thread(target=write_rest, daemon=True)
    writer.start()
    with _Proxy(server.url, on_first_event=dropped.set, drop_first=True) as proxy:
        result = server.scd("logs", run.id, "build", "-f", url=proxy.url)
    writer.join(10)
    assert result.exit_code == 0, result.output
    assert result.output == "one\ntwo\nthree\n"
    assert len(proxy.requests) >= 2
    assert "last-event-id:" not in proxy.requests[0].lower()
    first_line = len(f"{STAMP}one\n".encode())
    assert f"last-event-id: {first_line}" in proxy.requests[1].lower()


def test_logs_follow_of_a_whole_run_waits_for_later_steps_and_exits_with_its_status(
    server: Server,
) -> None:
    server.needs_sse()
    run = _run(server, status="running")
    _step(server, run, "setup", -1, "success", "set up")
    _step(server, run, "0", 0, "running", "building")
    followed = threading.Event()

    def worker() -> None:
        followed.wait(10)
        server.sink.append(run.id, "0", f"{STAMP}built\n".encode())
        _finish(server, run, "0", "success")
        _step(server, run, "1", 1, "failure", "tests failed")
        current = server.store.get_run(run.id)
        current.status = "failure"
        current.finished_at = datetime.now(timezone.utc)
        server.store.update_run(current)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    with _Proxy(server.url, on_first_event=followed.set) as proxy:
        result = server.scd("logs", run.id, "-f", url=proxy.url)
    thread.join(10)
    assert result.exit_code == 1, result.output
    out = result.output
    assert out.index("set up") < out.index("building") < out.index("built")
    assert out.index("built") < out.index("step 1 (1)") < out.index("tests failed")
    assert out.count(f"run {run.id}: failure") == 1  # the final status line, once


# -- runs, apps ---------------------------------------------------------------------


def test_runs_shows_a_table_newest_first_filtered_by_app(server: Server) -> None:
    server.needs("GET", "/api/v1/runs")
    older = _run(server, status="failure", branch="feature/x")
    newer = _run(server, status="success")
    result = server.scd("runs", "--app", "web", "--limit", "100")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].split()[:3] == ["ID", "RUN", "EVENT"]
    row_new = next(line for line in lines if line.startswith(newer.id[:12]))
    row_old = next(line for line in lines if line.startswith(older.id[:12]))
    assert lines.index(row_new) < lines.index(row_old)
    assert older.number is not None
    assert newer.number == older.number + 1
    fields = ["web", f"#{older.number}", "push", "feature/x", COMMIT[:7], "failure"]
    assert row_old.split()[1:7] == fields
    assert "1m 05s" in row_new


def test_runs_json_prints_the_api_answer(server: Server) -> None:
    server.needs("GET", "/api/v1/runs")
    run = _run(server, status="success", branch="json-branch")
    result = server.scd("runs", "--branch", "json-branch", "--json")
    assert result.exit_code == 0, result.output
    page = json.loads(result.output)
    assert [r["id"] for r in page["runs"]] == [run.id]
    assert "next_cursor" in page


def test_apps_shows_each_app_with_its_webhook_url(server: Server) -> None:
    server.needs("GET", "/api/v1/apps")
    result = server.scd("apps")
    assert result.exit_code == 0, result.output
    row = next(line for line in result.output.splitlines() if line.startswith("web "))
    assert "/webhooks/web" in row
    assert "github" in row


# -- trigger, cancel, rerun -----------------------------------------------------------


def test_trigger_prints_the_new_run_id_and_sends_ref_commit_and_inputs(server: Server) -> None:
    result = server.scd(
        "trigger", "web", "--ref", "main", "--commit", COMMIT,
        "--input", "env=prod", "--input", "note=a=b", token=TRIGGER,
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    run_id = result.output.strip()
    run = server.store.get_run(run_id)
    assert (run.event.event_name, run.event.commit) == ("manual", COMMIT)
    assert run.event.inputs == {"env": "prod", "note": "a=b"}
    assert run_id in [job.id for job in server.invoker.jobs]


def test_trigger_rejects_an_input_without_equals_sign(server: Server) -> None:
    result = server.scd("trigger", "web", "--ref", "main", "--input", "oops", token=TRIGGER)
    assert result.exit_code == 2
    assert "key=value" in result.output


def test_cancel_prints_the_run_status_and_a_second_cancel_is_a_conflict(server: Server) -> None:
    run = _run(server, status="queued")
    first = server.scd("cancel", run.id, token=TRIGGER)
    assert (first.exit_code, first.output) == (0, f"{run.id} cancelled\n")
    again = server.scd("cancel", run.id, token=TRIGGER)
    assert again.exit_code == 1
    assert again.output.startswith("scd cancel: ")
    assert "(HTTP 409)" in again.output


def test_rerun_prints_a_new_run_of_the_same_commit_linked_to_the_first(server: Server) -> None:
    server.needs("POST", "/api/v1/runs/{run_id}/rerun")
    run = _run(server, status="failure")
    result = server.scd("rerun", run.id, token=TRIGGER)
    assert result.exit_code == 0, result.output
    new = server.store.get_run(result.output.strip())
    assert new.id != run.id
    assert new.rerun_of == run.id
    assert new.event.commit == run.event.commit


def test_rerun_follow_prints_the_new_run_id_then_its_logs_and_exits_0(server: Server) -> None:
    server.needs("POST", "/api/v1/runs/{run_id}/rerun")
    first = _run(server, status="failure")

    def worker() -> None:  # plays the worker for the rerun once it is recorded
        for _ in range(400):
            runs, _ = server.store.list_runs(app="web", limit=50)
            rerun = next((r for r in runs if r.rerun_of == first.id), None)
            if rerun is not None:
                _step(server, rerun, "0", 0, "success", "again")
                rerun.status, rerun.finished_at = "success", datetime.now(timezone.utc)
                server.store.update_run(rerun)
                return
            threading.Event().wait(0.05)

    thread = threading.Thread(target=worker, daemon=True)
    thread.start()
    result = server.scd("rerun", first.id, "-f", token=ADMIN)
    thread.join(10)
    assert result.exit_code == 0, result.output
    new_id, *rest = result.output.splitlines()
    assert server.store.get_run(new_id).rerun_of == first.id
    assert "again" in rest


# -- short run ids ------------------------------------------------------------------


def test_a_unique_prefix_of_a_run_id_as_the_table_shows_it_names_the_run(server: Server) -> None:
    server.needs("GET", "/api/v1/runs")
    run = _finished_run(server)
    result = server.scd("logs", run.id[:12], "test")
    assert (result.exit_code, result.output) == (0, "3 passed\n")


def test_an_ambiguous_run_id_prefix_is_refused_naming_the_candidates(server: Server) -> None:
    server.needs("GET", "/api/v1/runs")
    one = _run(server, run_id="fedcba" + uuid.uuid4().hex[6:])
    two = _run(server, run_id="fedcba" + uuid.uuid4().hex[6:])
    result = server.scd("cancel", "fedcba", token=ADMIN)
    assert result.exit_code == 1
    assert "ambiguous" in result.output
    assert one.id in result.output
    assert two.id in result.output


# -- errors -------------------------------------------------------------------------


def test_no_token_is_a_401_with_a_hint_and_exit_1(server: Server) -> None:
    result = server.scd("logs", uuid.uuid4().hex, token=None)
    assert result.exit_code == 1
    assert "(HTTP 401)" in result.output
    assert "SCD_TOKEN" in result.output


def test_a_token_without_the_scope_is_a_403_naming_the_scope_but_not_the_token(
    server: Server,
) -> None:
    run = _run(server, status="running")
    result = server.scd("cancel", run.id, token=READ)
    assert result.exit_code == 1
    assert "(HTTP 403)" in result.output
    assert "trigger" in result.output
    assert READ not in result.output


def test_an_unreachable_server_exits_2_naming_it(server: Server) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # bound, never listening: connections are refused
        result = server.scd("runs", url=f"http://user:pw@127.0.0.1:{port}")
    assert result.exit_code == 2
    assert f"cannot reach SCD_SERVER http://127.0.0.1:{port}" in result.output
    assert "pw" not in result.output


def test_client_commands_import_neither_httpx_nor_rich_until_they_run() -> None:
    code = (
        "import sys; from functions.cli import build_app; build_app(); "
        "print(sorted(m for m in ('httpx', 'rich') if m in sys.modules))"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, timeout=60)
    assert done.stdout.decode().strip() == "[]"


# -- helpers ------------------------------------------------------------------------


def _finish(server: Server, run: Run, key: str, status: str) -> None:
    state = next(s for s in server.store.list_steps(run.id) if s.id == key)
    state.status = status  # type: ignore[assignment]
    server.store.put_step(run.id, state)
    server.sink.close(run.id, key)


class _Proxy:
    """A loopback TCP relay to the server that records each request's head.

    ``on_first_event`` is called once the first SSE line event has been relayed to the
    client; with ``drop_first`` the first connection is then cut, as a network would.
    """

    def __init__(self, target: str, *, on_first_event: object, drop_first: bool = False) -> None:
        host, port = target.removeprefix("http://").split(":")
        self.target = (host, int(port))
        self.on_first_event = on_first_event
        self.drop_first = drop_first
        self.requests: list[str] = []
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}"
        self._fired = False
        self._sockets: list[socket.socket] = []

    def __enter__(self) -> _Proxy:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._listener.close()
        for sock in self._sockets:
            sock.close()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            upstream = socket.create_connection(self.target)
            self._sockets += [client, upstream]
            number = len(self.requests)
            self.requests.append("")
            threading.Thread(target=self._up, args=(client, upstream, number), daemon=True).start()
            threading.Thread(target=self._down, args=(upstream, client), daemon=True).start()

    def _up(self, client: socket.socket, upstream: socket.socket, number: int) -> None:
        try:
            while data := client.recv(65536):
                self.requests[number] += data.decode("latin-1")
                upstream.sendall(data)
        except OSError:
            pass

    def _down(self, upstream: socket.socket, client: socket.socket) -> None:
        try:
            while data := upstream.recv(65536):
                client.sendall(data)
                if b"event: line" in data and not self._fired:
                    self._fired = True
                    if self.drop_first:
                        for sock in (client, upstream):
                            sock.shutdown(socket.SHUT_RDWR)
                            sock.close()
                    self.on_first_event()  # type: ignore[operator]
                    if self.drop_first:
                        return
        except OSError:
            pass


OSC52 = "\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\x07"  # writes the clipboard
TITLE = "\x1b]0;owned\x07"  # sets the window title


def test_logs_show_terminal_control_sequences_escaped_and_keep_colours(server: Server) -> None:
    run = _run(server)
    _step(server, run, "evil", 0, "success", f"copy{OSC52}me", f"\x1b[31mred\x1b[0m{TITLE}")
    result = server.scd("logs", run.id, "evil")
    assert result.exit_code == 0, result.output
    assert "\x1b]" not in result.output
    assert "\x07" not in result.output
    assert "copy\\x1b]52;c;Y3VybCBldmlsLnNoIHwgc2g=\\x07me" in result.output
    assert "\x1b[31mred\x1b[0m" in result.output


def test_runs_show_a_branch_name_holding_control_sequences_escaped(server: Server) -> None:
    _run(server, branch=f"x{TITLE}")
    result = server.scd("runs", "--app", "web", "--limit", "100")
    assert result.exit_code == 0, result.output
    assert "\x1b]" not in result.output
    assert "\x07" not in result.output


def test_approve_lets_a_forks_waiting_run_go_and_a_second_approve_is_a_conflict(
    server: Server,
) -> None:
    from scd_core.lifecycle import Lifecycle

    from functions.trigger.approvals import AWAITING_APPROVAL

    server.needs("POST", "/api/v1/runs/{run_id}/approve")
    run = _run(server, status="queued")
    assert Lifecycle(server.store).hold(run.id, AWAITING_APPROVAL) is not None
    first = server.scd("approve", run.id, token=TRIGGER)
    assert (first.exit_code, first.output) == (0, f"{run.id} queued\n")
    assert server.store.get_run(run.id).approved_by is not None
    again = server.scd("approve", run.id, token=TRIGGER)
    assert again.exit_code == 1
    assert "(HTTP 409)" in again.output


def test_logs_of_a_run_with_tasks_shows_each_task_step_and_one_by_task(server: Server) -> None:
    from scd_core.lifecycle_keys import log_key
    from scd_core.models import TaskState

    run = _run(server)
    run.tasks = [TaskState(id=t, task=t.split(" ")[0]) for t in ("a", "b (1)")]
    run = server.store.update_run(run)
    for task, text in (("a", "from a"), ("b (1)", "from b one")):
        state = StepState(id="0", task=task, name="echo", index=0, status="success")
        server.store.put_step(run.id, state)
        key = log_key(task, "0")
        server.sink.append(run.id, key, f"{STAMP}{text}\n".encode())
        server.sink.close(run.id, key)
    one = server.scd("logs", run.id, "0", "--task", "b (1)")
    assert (one.exit_code, one.output) == (0, "from b one\n")
    every = server.scd("logs", run.id)
    assert every.exit_code == 0, every.output
    out = every.output
    assert out.index("a › echo (0)") < out.index("from a") < out.index("b (1) › echo (0)")
    assert out.index("b (1) › echo (0)") < out.index("from b one")
