"""`scd package`: each function's code directory starts with its bootstrap and answers.

The build downloads linux wheels once per test session (a session cache). The
bootstraps run with a Python of the runtime's version when this machine has one
(``find_python``); otherwise the packages are built for the host's Python and
run with it, and the test says so.
"""

from __future__ import annotations

import http.client
import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from functions.fc.package import find_python
from functions.fc.runtime import FUNCTIONS, PYTHON_VERSION

pytestmark = pytest.mark.slow

SCD_YAML = """
apps:
  - name: web
    repo: https://github.com/acme/web.git
    secret: ${env:WEB_WEBHOOK_SECRET}
    trigger:
      push: {branches: [main]}
"""


@pytest.fixture(scope="session")
def packages(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str, str]:
    """(dist dir, the interpreter to run, the CLI's output) of one build per session."""
    if not (os.environ.get("UV") or shutil.which("uv")):
        pytest.skip("scd package needs uv: run the tests with uv run")
    base = tmp_path_factory.mktemp("package")
    config = base / "scd.yaml"
    config.write_text(SCD_YAML, encoding="utf-8")
    python = find_python(PYTHON_VERSION)
    version = PYTHON_VERSION
    if python is None:  # no runtime Python here: build for, and run with, the host's
        version = "{}.{}".format(*sys.version_info[:2])
        python = sys.executable
        print(f"no Python {PYTHON_VERSION} here: packages built for and run with {version}")
    out = base / "dist"
    env = {**os.environ, "SCD_PACKAGE_PYTHON": python, "UV_CACHE_DIR": str(base / "cache")}
    command = [*_scd(), "package", "--out", str(out), "--config", str(config)]
    command += ["--python-version", version]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=1200)
    assert done.returncode == 0, done.stderr
    return out, python, done.stdout


def _scd() -> list[str]:
    return [sys.executable, "-c", "from functions.cli import main; main()"]


def test_the_cli_prints_each_directory_with_its_size(packages: tuple[Path, str, str]) -> None:
    out, _, printed = packages
    lines = printed.splitlines()
    assert [line.split()[0] for line in lines] == [f.name for f in FUNCTIONS]
    for line in lines:
        name, size, unit, path = line.split()
        assert unit == "MB"
        assert 1.0 < float(size) < 250.0  # FC's code package limit is far above
        assert Path(path) == out / name


def test_each_function_ships_only_what_it_needs(packages: tuple[Path, str, str]) -> None:
    out, _, _ = packages
    trigger, worker = out / "trigger", out / "worker"
    for code in (trigger, worker):
        assert (code / "bootstrap").stat().st_mode & 0o111
        assert (code / "scd.yaml").read_text(encoding="utf-8") == SCD_YAML
        assert (code / "scd_core").is_dir()
        assert (code / "pydantic_core").is_dir()  # linux wheels, compiled parts included
        linux = list((code / "pydantic_core").glob("_pydantic_core*.so"))
        assert linux, "a linux shared object"
        assert not (code / "bin").exists()
        assert not list(code.rglob("tests"))
        assert not list((code / "functions").rglob("testing.py"))  # test helpers
        for tool in ("pytest", "mypy", "ruff", "typer", "rich", "alibabacloud_fc20230330"):
            assert not (code / tool).exists(), tool
        assert not (code / "functions" / "commands").exists()
        assert not (code / "functions" / "cli.py").exists()
    assert not (trigger / "scd_engine").exists()  # the trigger ships no engine runtime
    assert not (trigger / "functions" / "worker").exists()
    assert (worker / "scd_engine").is_dir()
    assert not (worker / "functions" / "trigger" / "webhooks.py").exists()  # no webhook code
    assert not (worker / "functions" / "trigger" / "app.py").exists()
    assert not (worker / "jinja2").exists()  # the dashboard's templates stay with the trigger


def test_the_failure_handler_ships_the_store_and_nothing_else(
    packages: tuple[Path, str, str],
) -> None:
    out, _, _ = packages
    handler = out / "failure-handler"
    assert (handler / "bootstrap").stat().st_mode & 0o111
    assert (handler / "functions" / "failure_handler" / "app.py").is_file()
    assert (handler / "scd_core").is_dir()
    for heavy in ("scd_engine", "scd_trigger_spec", "fastapi", "jinja2", "croniter", "uvloop"):
        assert not (handler / heavy).exists(), heavy
    assert not (handler / "functions" / "trigger").exists()  # no webhook code
    assert not (handler / "functions" / "worker").exists()


def test_bytecode_is_compiled_for_the_target_python(packages: tuple[Path, str, str]) -> None:
    out, python, _ = packages
    tag = subprocess.run(
        [python, "-c", "import sys; print(sys.implementation.cache_tag)"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    compiled = list((out / "trigger" / "functions" / "trigger" / "__pycache__").glob("*.pyc"))
    assert compiled
    assert all(f".{tag}." in path.name for path in compiled)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _answer(port: int, method: str, path: str, proc: subprocess.Popen[bytes]) -> tuple[int, bytes]:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        try:
            conn.request(method, path, body=b"" if method == "POST" else None)
            response = conn.getresponse()
            return response.status, response.read()
        except OSError:
            time.sleep(0.1)
        finally:
            conn.close()
    raise AssertionError(f"no answer on port {port} within 120 s")


@pytest.mark.parametrize(
    ("function", "method", "path"),
    [
        ("trigger", "GET", "/healthz"),
        ("worker", "POST", "/initialize"),
        ("failure-handler", "POST", "/initialize"),
    ],
)
def test_each_bootstrap_starts_the_function_on_fc_s_port(
    packages: tuple[Path, str, str], tmp_path: Path, function: str, method: str, path: str
) -> None:
    out, python, _ = packages
    port = _free_port()
    # what FC gives a custom runtime, and nothing of this project's environment
    env = {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "SCD_PYTHON": python,
        "FC_CUSTOM_LISTEN_PORT": str(port),
        "FC_FUNCTION_NAME": f"scd-{function}",
        "SCD_CONFIG": str(out / function / "scd.yaml"),
        "SCD_DATA_DIR": str(tmp_path / "data"),
        "WEB_WEBHOOK_SECRET": "s3cr3t",
    }
    proc = subprocess.Popen(
        [str(out / function / "bootstrap")],
        env=env,
        cwd=tmp_path,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    try:
        status, body = _answer(port, method, path, proc)
        assert status == 200, body
        if function == "trigger":
            assert body == b'{"ok":true}'
        assert (tmp_path / "data").is_dir()
    finally:
        proc.terminate()
        proc.wait(timeout=60)
        if proc.stderr:
            proc.stderr.close()
