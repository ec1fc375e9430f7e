"""End-to-end helpers: ``scd serve`` as a real subprocess, real git repositories, loopback HTTP.

``ScdServer`` starts ``scd serve`` on a free port with a tmp data dir and a tmp
scd.yaml (one app, ``web``, secret ``SECRET``; one admin token ``TOKEN``), and
stops it with SIGINT like Ctrl-C. ``GitRepo`` is a local repository whose
commits are pushed by posting GitHub's signed ``push`` webhook to the server.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest
from factories import scd_yaml, token_entry
from netutil import free_port

from functions.serve.demo import DemoPush, commit_demo, push_webhook

SECRET = "e2e-webhook-secret"
TOKEN = "e2e-admin-token"
START_TIMEOUT_S = 60.0

CONFIG = scd_yaml(tokens=[token_entry("e2e", TOKEN, "admin")])


class ScdServer:
    """One ``scd serve`` process over a data dir that outlives restarts."""

    def __init__(
        self,
        root: Path,
        *,
        workers: int = 2,
        grace_s: float = 10.0,
        embedded: bool = False,
        sandbox: bool = False,
        extra_args: Sequence[str] = (),
    ) -> None:
        """``embedded``: no --config and no scd.yaml in the working directory (``root``);
        ``extra_args`` are added to ``scd serve``'s command line. ``sandbox``: steps
        confined as ``scd serve`` does by default; off otherwise, so that tests can
        watch steps through files under the test's temp dir."""
        self.sandbox = sandbox
        self.extra_args = list(extra_args)
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.data_dir = root / "data"
        self.config = root / "scd.yaml"
        self.embedded = embedded
        if not embedded:
            self.config.write_text(CONFIG, encoding="utf-8")
        self.workers = workers
        self.grace_s = grace_s
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = root / "serve.log"
        self.client = httpx.Client(base_url=self.url, timeout=30.0)
        self.apps: set[str] = set()

    def start(self) -> None:
        env = dict(os.environ, E2E_SECRET=SECRET, SCD_LEASE_TTL_SECONDS="5")
        env["SCD_SANDBOX"] = "auto" if self.sandbox else "none"
        for name in ("SCD_CONFIG", "SCD_DEMO_SECRET", "SCD_TOKEN", "SCD_STORE", "SCD_DATA_DIR"):
            env.pop(name, None)
        cmd = [
            sys.executable,
            "-c",
            "from functions.cli import main; main()",
            "serve",
            *([] if self.embedded else ["--config", str(self.config)]),
            "--port",
            str(self.port),
            "--data-dir",
            str(self.data_dir),
            "--workers",
            str(self.workers),
            "--grace",
            str(self.grace_s),
            *self.extra_args,
        ]
        offset = len(self.output()) if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(
                cmd, env=env, stdout=out, stderr=subprocess.STDOUT, cwd=self.root
            )
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"scd serve exited with {self.proc.returncode}:\n{self.output()}")
            try:
                healthy = self.client.get("/healthz", timeout=2.0).status_code == 200
                if healthy and "Press Ctrl-C to stop." in self.output()[offset:]:
                    return  # serving, and the banner of this start is out
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        pytest.fail(f"scd serve did not answer within {START_TIMEOUT_S}s:\n{self.output()}")

    def stop(self, sig: int = signal.SIGINT, timeout_s: float = 60.0) -> int:
        """Signal scd serve and wait for it; its exit status."""
        assert self.proc is not None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout_s)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                pytest.fail(f"scd serve did not stop within {timeout_s}s:\n{self.output()}")
        return self.proc.returncode

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    # -- the API ---------------------------------------------------------------

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {TOKEN}"}

    def app_for(self, repo: Path) -> str:
        """The app that builds ``repo``, registered through the apps API on first use.

        A job clones its app's repository, so each test repository is an app of its own.
        """
        name = "repo-" + hashlib.sha256(str(repo).encode()).hexdigest()[:12]
        if name not in self.apps:
            spec = {
                "name": name,
                "repo": repo.resolve().as_uri(),
                "secret": SECRET,
                "trigger": {"push": {"branches": ["main"]}, "manual": True},
            }
            answer = self.client.put(f"/api/v1/apps/{name}", json=spec, headers=self.auth)
            assert answer.status_code in (200, 201), answer.text
            self.apps.add(name)
        return name

    def post_push(self, push: DemoPush, delivery: str | None = None) -> httpx.Response:
        body, headers = push_webhook(push, SECRET)
        if delivery is not None:
            headers["x-github-delivery"] = delivery
        app = self.app_for(push.repo)
        return self.client.post(f"/webhooks/{app}", content=body, headers=headers)

    def push(self, push: DemoPush) -> str:
        """Post ``push`` and return the new run's id."""
        answer = self.post_push(push)
        assert answer.status_code == 202, answer.text
        run_id: str = answer.json()["run_id"]
        return run_id

    def run(self, run_id: str) -> dict[str, Any]:
        answer = self.client.get(f"/api/v1/runs/{run_id}", headers=self.auth)
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def log_of(self, run_id: str, step: str) -> str:
        answer = self.client.get(f"/api/v1/runs/{run_id}/steps/{step}/logs", headers=self.auth)
        assert answer.status_code == 200, answer.text
        return answer.text

    def wait_run(
        self,
        run_id: str,
        until: Callable[[dict[str, Any]], bool] | None = None,
        timeout_s: float = 60.0,
    ) -> dict[str, Any]:
        """Poll the run until ``until(run)`` (default: it is final); fail at the deadline."""
        final = {"success", "failure", "cancelled", "error", "skipped"}
        check = until or (lambda run: run["status"] in final)
        deadline = time.monotonic() + timeout_s
        run = self.run(run_id)
        while not check(run):
            if time.monotonic() > deadline:
                pytest.fail(f"run {run_id} stuck at {run}:\n{self.output()[-4000:]}")
            time.sleep(0.1)
            run = self.run(run_id)
        return run


class GitRepo:
    """A local git repository whose ``commit`` returns a push to post."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def commit(self, pipeline: str) -> DemoPush:
        return commit_demo(self.path, pipeline)


def parent_pid(pid: int) -> int:
    stat = Path(f"/proc/{pid}/stat").read_text()
    return int(stat.rsplit(")", 1)[1].split()[1])


def cmdline(pid: int) -> str:
    return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()


def worker_of(pid: int) -> int:
    """The scd worker process that is an ancestor of ``pid``."""
    current = pid
    while current > 1:
        if "functions.serve.child" in cmdline(current):
            return current
        current = parent_pid(current)
    raise AssertionError(f"process {pid} does not run under an scd worker")


def kill_group(pid: int) -> None:
    """SIGKILL the process group of ``pid`` (a step this test started), if still there."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(os.getpgid(pid), signal.SIGKILL)


def wait_for_file(path: Path, timeout_s: float = 60.0) -> str:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if path.exists() and path.read_text().strip():
            return path.read_text().strip()
        time.sleep(0.05)
    pytest.fail(f"{path} never appeared")


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid``."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError, IndexError, ValueError):
                if parent_pid(int(entry.name)) == pid:
                    found.append(int(entry.name))
    return found


def wait_gone(pids: list[int], timeout_s: float) -> list[int]:
    """Wait until none of ``pids`` exists (zombies count as gone); those still alive."""
    deadline = time.monotonic() + timeout_s
    alive = list(pids)
    while alive and time.monotonic() < deadline:
        alive = [pid for pid in alive if _running(pid)]
        time.sleep(0.1)
    return alive


def _running(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"
