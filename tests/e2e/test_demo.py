"""``scd demo`` against ``scd serve`` on its embedded defaults, and what those defaults hold."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from e2e_support import ScdServer
from scd_core.errors import ConfigError

from functions.appconfig import parse_config
from functions.serve import ServeOptions, serve
from functions.serve.defaults import DEMO_PIPELINE, choose_config, embedded_config

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _scd(server: ScdServer, *args: str, by_env: bool = False) -> subprocess.CompletedProcess[str]:
    """``scd ARGS`` in a subprocess, the server named by ``--server`` or ``SCD_SERVER``."""
    env = {k: v for k, v in os.environ.items() if k not in ("SCD_DEMO_SECRET", "SCD_TOKEN")}
    env.pop("SCD_SERVER", None)
    if by_env:
        env["SCD_SERVER"] = server.url
    return subprocess.run(
        [
            sys.executable,
            "-c",
            "from functions.cli import main; main()",
            *args,
            *([] if by_env else ["--server", server.url]),
        ],
        env=env,
        cwd=server.root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def _demo(server: ScdServer, *, by_env: bool = False) -> subprocess.CompletedProcess[str]:
    args = ("--data-dir", str(server.data_dir), "--timeout", "90")
    return _scd(server, "demo", *args, by_env=by_env)


@pytest.mark.slow
@pytest.mark.timeout(120)
def test_scd_demo_gets_a_successful_run_from_serve_on_embedded_defaults(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    scd = ScdServer(tmp_path / "cwd", embedded=True)
    scd.start()
    try:
        assert "embedded defaults" in scd.output()
        assert f"POST {scd.url}/webhooks/demo" in scd.output()
        assert f"dashboard {scd.url}/ui/" in scd.output()
        assert "with the demo token scd-demo-token" in scd.output()
        first = _demo(scd)
        second = _demo(scd, by_env=True)  # a second demo adds a commit and runs again
        runs = _scd(scd, "runs", by_env=True)  # no token given: the demo saved its own
        runs_json = _scd(scd, "runs", "--json")
    finally:
        scd.stop()
        scd.client.close()
    assert first.returncode == 0, first.stdout + first.stderr
    assert "ended success" in first.stdout
    assert "hello from scd" in first.stdout
    assert "tests passed" in first.stdout
    assert second.returncode == 0, second.stdout + second.stderr
    assert "saved the demo token" in first.stdout
    assert "saved the demo token" not in second.stdout  # kept, not saved again
    assert f"see it in the dashboard: {scd.url}/ui/runs/" in first.stdout
    assert runs.returncode == 0, runs.stderr
    assert "demo" in runs.stdout
    demo_runs = json.loads(runs_json.stdout)["runs"]
    assert len(demo_runs) == 2
    assert all(len(run["commit"]) == 40 for run in demo_runs)


def test_scd_demo_without_a_server_says_so_and_exits_2(tmp_path: Path) -> None:
    if shutil.which("git") is None:
        pytest.skip("git is not installed")
    scd = ScdServer(tmp_path / "cwd", embedded=True)  # never started: nothing listens
    done = _demo(scd, by_env=True)
    assert done.returncode == 2
    assert "start `scd serve`" in done.stderr
    assert scd.url in done.stderr  # SCD_SERVER was honoured
    assert not (scd.data_dir / "demo" / "repo").exists()  # nothing committed first


def test_embedded_defaults_refuse_a_non_loopback_address(tmp_path: Path) -> None:
    options = ServeOptions(host="0.0.0.0", port=0, data_dir=tmp_path / "d", environ={})
    os.chdir(tmp_path)  # no scd.yaml here
    with pytest.raises(ConfigError, match="embedded demo defaults"):
        serve(options, echo=lambda _: None)


def test_embedded_config_serves_the_demo_app_from_the_local_repository(tmp_path: Path) -> None:
    choice = choose_config(None, tmp_path, {})
    assert choice.embedded
    config = parse_config(choice.path.read_text(), environ={"SCD_DEMO_SECRET": "s"})
    assert config.apps["demo"].repo == (tmp_path.resolve() / "demo" / "repo").as_uri()
    assert len(config.tokens) == 1
    assert embedded_config(tmp_path) == choice.path.read_text()


def test_a_config_option_or_scd_config_wins_over_the_embedded_defaults(tmp_path: Path) -> None:
    assert choose_config(tmp_path / "x.yaml", tmp_path, {}).path == tmp_path / "x.yaml"
    chosen = choose_config(None, tmp_path, {"SCD_CONFIG": "/etc/scd.yaml"})
    assert (chosen.path, chosen.embedded) == (Path("/etc/scd.yaml"), False)


def test_the_example_demo_pipeline_is_the_embedded_one_and_valid() -> None:
    from scd_engine.spec import load_pipeline

    example = EXAMPLES / "demo" / "serverless-pipeline.yaml"
    if not example.exists():
        pytest.skip("examples/ is not in this tree")
    assert example.read_text(encoding="utf-8") == DEMO_PIPELINE
    assert [s.id for s in load_pipeline(example.name, text=DEMO_PIPELINE).steps] == [
        "hello",
        "build",
        "test",
    ]
