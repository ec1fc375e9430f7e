"""Helpers for the worker and checkout tests: real git repositories, a real worker process,
and a loopback git smart-HTTP server (``git http-backend`` behind a tiny WSGI app).

Holds no tests itself; it is named ``test_worker_*`` only to live among the files it serves.
"""

from __future__ import annotations

import base64
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import httpx
from netutil import free_port
from scd_core.logs import strip_timestamps
from scd_core.models import Event, Job, Run
from scd_core.settings import WORKER_TOKEN_HEADER
from scd_core.sinks.file import FileLogSink
from scd_core.store import RunStore

__all__ = [
    "GitHttp",
    "WorkerProcess",
    "git",
    "log_text",
    "new_job",
]

REPO_ROOT = Path(__file__).resolve().parents[2]
_GIT_ENV = {
    "GIT_AUTHOR_NAME": "Test",
    "GIT_AUTHOR_EMAIL": "test@example.com",
    "GIT_COMMITTER_NAME": "Test",
    "GIT_COMMITTER_EMAIL": "test@example.com",
}


def git(*args: str, cwd: Path | None = None, stdin: bytes | None = None) -> str:
    env = {**os.environ, **_GIT_ENV}
    done = subprocess.run(
        ["git", *args], cwd=cwd, env=env, check=True, capture_output=True, input=stdin
    )
    return done.stdout.decode().strip()


def new_job(
    store: RunStore,
    clone_url: str,
    sha: str | None,
    *,
    ref: str | None = "refs/heads/main",
    app: str = "web",
    pipeline: str = "serverless-pipeline.yaml",
) -> Job:
    """Record a queued run in ``store`` and return the job the trigger would dispatch."""
    run_id = secrets.token_hex(16)
    event = Event(provider="github", event_name="push", ref=ref, commit=sha, clone_url=clone_url)
    run = Run(id=run_id, app=app, dedup_key=f"test-{run_id}", event=event, pipeline=pipeline)
    store.create_run(run)
    return Job(id=run_id, app=app, clone_url=clone_url, ref=ref, commit=sha, pipeline=pipeline)


def log_text(data_dir: Path, run_id: str, step: str) -> str:
    """The step's log as plain text (timestamps stripped)."""
    chunk = FileLogSink(data_dir / "logs").read(run_id, step)
    return strip_timestamps(chunk.data).decode("utf-8", "replace")


class WorkerProcess:
    """``uvicorn functions.worker.app:app`` in a subprocess on a free loopback port."""

    def __init__(
        self, data_dir: Path, env: Mapping[str, str] | None = None, token: str | None = None
    ) -> None:
        """``token``: the worker token it is started with and this client sends."""
        self.data_dir = data_dir
        self.headers = {WORKER_TOKEN_HEADER: token} if token else {}
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        full_env = {
            **os.environ,
            "SCD_DATA_DIR": str(data_dir),
            "SCD_CONFIG": str(data_dir / "scd.yaml"),
            "SCD_STEP_GRACE_SECONDS": "1",
            # tests watch steps through files under their temp dir: no sandbox unless asked
            "SCD_SANDBOX": "none",
            **(env or {}),
            **({"SCD_WORKER_TOKEN": token} if token else {}),
        }
        data_dir.mkdir(parents=True, exist_ok=True)
        self.output = data_dir / "worker-output.txt"
        with self.output.open("ab") as sink:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    *("-m", "uvicorn", "functions.worker.app:app"),
                    *("--host", "127.0.0.1", "--port", str(self.port), "--log-level", "warning"),
                ],
                cwd=REPO_ROOT,
                env=full_env,
                stdout=sink,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"worker exited: {self.output.read_text()}")
            try:
                answer = httpx.post(f"{self.url}/initialize", headers=self.headers, timeout=2)
                if answer.status_code == 200:
                    return
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("worker did not start")

    def invoke(self, job: Job, request_id: str = "req-1") -> httpx.Response:
        return httpx.post(
            f"{self.url}/invoke",
            content=job.model_dump_json(),
            headers={
                "x-fc-request-id": request_id,
                "content-type": "application/octet-stream",
                **self.headers,
            },
            timeout=120,
        )

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.kill()


@contextmanager
def worker_process(data_dir: Path, env: Mapping[str, str] | None = None) -> Iterator[WorkerProcess]:
    worker = WorkerProcess(data_dir, env)
    try:
        yield worker
    finally:
        worker.stop()


class _QuietHandler(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


class GitHttp:
    """Serves the bare repositories under ``root`` over smart HTTP on loopback.

    With ``token`` set, a request must carry ``Authorization: Basic`` credentials
    whose password is the token, as GitHub checks a private repository's clone.
    ``authorizations`` records each Authorization header seen.
    """

    def __init__(self, root: Path, token: str | None = None) -> None:
        self.root = root
        self.token = token
        self.authorizations: list[str] = []
        self.server: WSGIServer = make_server(
            "127.0.0.1", 0, self._app, handler_class=_QuietHandler
        )
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> GitHttp:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def _authorised(self, header: str) -> bool:
        if self.token is None:
            return True
        scheme, _, value = header.partition(" ")
        if scheme != "Basic":
            return False
        try:
            _, _, password = base64.b64decode(value).decode().partition(":")
        except ValueError:
            return False
        return password == self.token

    def _app(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        header = environ.get("HTTP_AUTHORIZATION", "")
        self.authorizations.append(header)
        if not self._authorised(header):
            start_response("401 Unauthorized", [("WWW-Authenticate", 'Basic realm="git"')])
            return [b"unauthorised\n"]
        length = int(environ.get("CONTENT_LENGTH") or 0)
        body = environ["wsgi.input"].read(length) if length else b""
        cgi_env = {
            "PATH": os.environ["PATH"],
            "GIT_PROJECT_ROOT": str(self.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "REQUEST_METHOD": environ["REQUEST_METHOD"],
            "PATH_INFO": environ.get("PATH_INFO", ""),
            "QUERY_STRING": environ.get("QUERY_STRING", ""),
            "CONTENT_TYPE": environ.get("CONTENT_TYPE", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": "127.0.0.1",
        }
        if environ.get("HTTP_GIT_PROTOCOL"):
            cgi_env["GIT_PROTOCOL"] = environ["HTTP_GIT_PROTOCOL"]
        done = subprocess.run(
            ["git", "http-backend"], input=body, env=cgi_env, capture_output=True, check=False
        )
        head, _, payload = done.stdout.partition(b"\r\n\r\n")
        status = "200 OK"
        headers: list[tuple[str, str]] = []
        for line in head.decode("latin-1").split("\r\n"):
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = value.strip()
            elif name:
                headers.append((name.strip(), value.strip()))
        start_response(status, headers)
        return [payload]
