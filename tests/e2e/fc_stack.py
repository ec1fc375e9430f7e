"""scd as it runs on Function Compute, on loopback: three real uvicorn processes and FC doubles.

``FcStack`` starts the failure handler, the worker and the trigger as separate
``uvicorn`` processes (what each function's ``bootstrap`` runs), sharing one
SQLite store file and one log directory, as on FC with a NAS mount. Between
them stand two in-process ``FcDouble``s: ``home`` (cn-hangzhou, the trigger's
region) and ``away`` (ap-southeast-1), both delivering to the one worker
process and sending failures to the failure handler. The trigger's
``SCD_INVOKER`` is ``fc://...`` pointed at them, so every job crosses FC's API:
a signed InvokeFunction with a task id, a delivery with FC's headers, and on a
crash a destination record.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from e2e_support import CONFIG, SECRET, TOKEN
from netutil import free_port
from scd_core.invokers.fcdouble import FcDouble

from functions.serve.demo import DemoPush, push_webhook

__all__ = ["ACCOUNT", "AWAY", "KEY_ID", "FcStack"]

ACCOUNT = "1234567890123456"
AWAY = "ap-southeast-1"
KEY_ID, KEY_SECRET = "LTAI-e2e-key", "e2e-key-secret-never-shown"
START_TIMEOUT_S = 90.0


class Function:
    """One function's uvicorn process, its output in ``<root>/<name>.log``."""

    def __init__(self, root: Path, name: str, app: str, env: dict[str, str], probe: str) -> None:
        self.name, self.app, self.env, self.probe = name, app, env, probe
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = root / f"{name}.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        command = [sys.executable, "-m", "uvicorn", self.app, "--host", "127.0.0.1"]
        command += ["--port", str(self.port), "--no-access-log"]
        with self.log.open("ab") as out:
            self.proc = subprocess.Popen(command, env=self.env, stdout=out, stderr=out)
        method, _, path = self.probe.partition(" ")
        deadline = time.monotonic() + START_TIMEOUT_S
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                pytest.fail(f"{self.name} exited with {self.proc.returncode}:\n{self.output()}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.request(method, self.url + path, timeout=5.0).status_code == 200:
                    return
            time.sleep(0.1)
        pytest.fail(f"{self.name} did not answer within {START_TIMEOUT_S}s:\n{self.output()}")

    def kill(self) -> None:
        """SIGKILL, as an instance that crashes or is reclaimed."""
        assert self.proc is not None
        self.proc.kill()
        self.proc.wait(60)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""


class FcStack:
    """The trigger, worker and failure handler, and two FC doubles between them."""

    def __init__(self, root: Path) -> None:
        self.root = root
        data = root / "data"
        data.mkdir(parents=True, exist_ok=True)
        config = root / "scd.yaml"
        config.write_text(CONFIG, encoding="utf-8")
        base = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SCD_", "ALIBABA_CLOUD_", "FC_"))
        }
        self.env = {
            **base,
            "E2E_SECRET": SECRET,
            "SCD_CONFIG": str(config),
            "SCD_DATA_DIR": str(data),
            "SCD_STORE": f"sqlite:///{data / 'scd.db'}",
            "SCD_LOG_SINK": f"file:///{data / 'logs'}",  # file:////abs, as sqlite:////abs
            "SCD_STEP_GRACE_SECONDS": "5",
            # steps report through files under the test's temp dir: no sandbox here
            "SCD_SANDBOX": "none",
        }
        self.handler = Function(
            root, "failure-handler", "functions.failure_handler.app:app", self.env, "GET /healthz"
        )
        self.worker = Function(
            root, "worker", "functions.worker.app:app", self.env, "POST /initialize"
        )
        keys = {KEY_ID: KEY_SECRET}
        self.home = FcDouble(keys, account_id=ACCOUNT, region="cn-hangzhou", instances=4)
        self.away = FcDouble(keys, account_id=ACCOUNT, region=AWAY, instances=4)
        self.trigger: Function | None = None
        self.client = httpx.Client(timeout=60.0, headers={"authorization": f"Bearer {TOKEN}"})
        self.apps: set[str] = set()

    def start(self) -> None:
        self.handler.start()
        self.worker.start()
        for double in (self.home, self.away):
            double.worker_url, double.failure_url = self.worker.url, self.handler.url
            double.start()
        invoker = (
            f"fc://{ACCOUNT}.cn-hangzhou/scd-worker?endpoint={self.home.url}"
            f"&endpoint.{AWAY}={self.away.url}&stop_grace_s=15"
        )
        env = {
            **self.env,
            "SCD_INVOKER": invoker,
            "ALIBABA_CLOUD_ACCESS_KEY_ID": KEY_ID,
            "ALIBABA_CLOUD_ACCESS_KEY_SECRET": KEY_SECRET,
        }
        self.trigger = Function(
            self.root, "trigger", "functions.trigger.app:app", env, "GET /healthz"
        )
        self.trigger.start()
        self.client.base_url = httpx.URL(self.trigger.url)

    def close(self) -> None:
        for function in (self.trigger, self.worker, self.handler):
            if function is not None:
                function.stop()
        self.home.close()
        self.away.close()
        self.client.close()

    def output(self) -> str:
        parts = [self.trigger, self.worker, self.handler]
        return "\n".join(f"--- {f.name}\n{f.output()[-3000:]}" for f in parts if f is not None)

    # -- the API ---------------------------------------------------------------

    def register(self, name: str, repo: Path, **extra: Any) -> str:
        """Register ``name`` building ``repo`` through the apps API (once)."""
        if name not in self.apps:
            spec = {
                "name": name,
                "repo": repo.resolve().as_uri(),
                "secret": SECRET,
                "trigger": {"push": {"branches": ["main"]}, "manual": True},
                **extra,
            }
            answer = self.client.put(f"/api/v1/apps/{name}", json=spec)
            assert answer.status_code in (200, 201), answer.text
            self.apps.add(name)
        return name

    def post(self, app: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return self.client.post(f"/webhooks/{app}", content=body, headers=headers)

    def push(self, app: str, push: DemoPush) -> str:
        body, headers = push_webhook(push, SECRET)
        answer = self.post(app, body, headers)
        assert answer.status_code == 202, answer.text
        run_id: str = answer.json()["run_id"]
        return run_id

    def run(self, run_id: str) -> dict[str, Any]:
        answer = self.client.get(f"/api/v1/runs/{run_id}")
        assert answer.status_code == 200, answer.text
        body: dict[str, Any] = answer.json()
        return body

    def log_of(self, run_id: str, step: str) -> str:
        answer = self.client.get(f"/api/v1/runs/{run_id}/steps/{step}/logs")
        assert answer.status_code == 200, answer.text
        return answer.text

    def wait_run(self, run_id: str, until: Any = None, timeout_s: float = 120.0) -> dict[str, Any]:
        """Poll the run until ``until(run)`` (default: final and no step open)."""
        check = until or _settled
        deadline = time.monotonic() + timeout_s
        run = self.run(run_id)
        while not check(run):
            if time.monotonic() > deadline:
                pytest.fail(f"run {run_id} stuck at {run}:\n{self.output()}")
            time.sleep(0.05)
            run = self.run(run_id)
        return run


def _settled(run: dict[str, Any]) -> bool:
    open_steps = [s for s in run["steps"] if s["status"] in ("running", "pending", "queued")]
    final = ("success", "failure", "cancelled", "error", "skipped")
    return run["status"] in final and not open_steps
