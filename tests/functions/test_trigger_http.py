"""The trigger over real HTTP on loopback: uvicorn, a SQLite file, httpx."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from scd_core.errors import ConfigError
from scd_core.settings import Settings
from scd_core.stores import open_store

from functions.trigger.app import create_app
from functions.trigger.testing import asgi_client, github_push, github_signature, serve

SECRET = "http-secret-value"
CONFIG = """
apps:
  - name: web
    repo: https://github.com/acme/web.git
    secret: ${env:WEB_SECRET}
    trigger:
      push: {branches: [main]}
"""


def push_headers(body: bytes, delivery: str) -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": github_signature(SECRET, body),
    }


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("WEB_SECRET", SECRET)
    (tmp_path / "scd.yaml").write_text(CONFIG, encoding="utf-8")
    return Settings(config=tmp_path / "scd.yaml", data_dir=tmp_path / "state", max_body_bytes=65536)


def test_push_over_http_is_recorded_durably_once(settings: Settings) -> None:
    body = github_push(size=9000)
    with serve(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        first = client.post("/webhooks/web", content=body, headers=push_headers(body, "d-1"))
        again = client.post("/webhooks/web", content=body, headers=push_headers(body, "d-1"))
    assert first.status_code == 202
    run_id = first.json()["run_id"]
    assert again.json() == {"run_id": run_id, "duplicate": True}
    store = open_store(settings.store)  # a fresh connection after the server stopped
    try:
        assert store.get_run(run_id).app == "web"
        assert store.list_runs()[0] == [store.get_run(run_id)]
    finally:
        store.close()


def test_chunked_body_over_the_cap_is_refused_with_413(settings: Settings) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(16):
            yield b" " * 8192

    headers = {"Content-Type": "application/json", "X-GitHub-Event": "push"}
    with serve(create_app(settings)) as url, httpx.Client(base_url=url) as client:
        response = client.post("/webhooks/web", content=chunks(), headers=headers)
    assert "content-length" not in {k.lower() for k in headers}
    assert response.status_code == 413
    assert response.json()["error"] == "payload_too_large"


def test_start_up_fails_on_a_bad_config(settings: Settings) -> None:
    Path(settings.config).write_text("apps:\n  - name: web\n    repo: x\n", encoding="utf-8")
    with pytest.raises(RuntimeError), serve(create_app(settings)):
        pass


def test_uvicorn_serves_the_module_app_configured_from_the_environment(
    settings: Settings, tmp_path: Path
) -> None:
    env = {
        **os.environ,
        "SCD_CONFIG": str(settings.config),
        "SCD_DATA_DIR": str(tmp_path / "env-state"),
        "WEB_SECRET": SECRET,
    }
    command = [sys.executable, "-m", "uvicorn", "functions.trigger.app:app", "--port", "0"]
    proc = subprocess.Popen(command, env=env, stderr=subprocess.PIPE, text=True)
    try:
        port = None
        assert proc.stderr is not None
        for line in proc.stderr:
            found = re.search(r"http://127\.0\.0\.1:(\d+)", line)
            if found:
                port = found.group(1)
                break
        assert port, "uvicorn did not report its address"
        body = github_push()
        response = httpx.post(
            f"http://127.0.0.1:{port}/webhooks/web", content=body, headers=push_headers(body, "x")
        )
        assert response.status_code == 202
        assert (tmp_path / "env-state" / "scd.db").exists()
    finally:
        proc.terminate()
        proc.wait(timeout=30)
        if proc.stderr is not None:
            proc.stderr.close()


def test_lifespan_raises_the_config_error_naming_the_file(settings: Settings) -> None:

    Path(settings.config).write_text("apps:\n  - name: web\n    repo: x\n", encoding="utf-8")
    with (
        pytest.raises(
            ConfigError, match=r"scd.yaml:2:5: apps\[0\]: app 'web' has no webhook secret"
        ),
        asgi_client(create_app(settings)),
    ):
        time.sleep(0)


def test_serving_webhooks_imports_neither_fastapi_nor_cloud_sdks(settings: Settings) -> None:
    code = f"""
import sys
from pathlib import Path
from scd_core.settings import Settings
from functions.trigger.app import create_app
from functions.trigger.testing import asgi_client, github_push, github_signature
settings = Settings(
    config=Path({str(settings.config)!r}), data_dir=Path({str(settings.data_dir)!r})
)
body = github_push()
headers = {{"Content-Type": "application/json", "X-GitHub-Event": "push",
           "X-GitHub-Delivery": "i-1", "X-Hub-Signature-256": github_signature({SECRET!r}, body)}}
with asgi_client(create_app(settings)) as client:
    assert client.post("/webhooks/web", content=body, headers=headers).status_code == 202
    heavy = [m for m in ("fastapi", "boto3", "tablestore", "opentelemetry") if m in sys.modules]
    assert heavy == [], heavy
    assert client.get("/openapi.json").status_code == 200  # built on first use
    assert "fastapi" in sys.modules
"""
    env = {**os.environ, "WEB_SECRET": SECRET}
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
