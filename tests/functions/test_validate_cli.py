"""`scd validate` and `scd schema`: output and exit codes, in-process and as a real command."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from functions.cli import app

GOOD = "steps:\n  - run: make\n"
WARN = "steps:\n  - run: echo ${{ steps.later.outputs.x }}\n  - id: later\n    run: 'true'\n"
BAD = "steps:\n  - rnu: make\n  - run: echo ${{ git.message }}\n"


def write(directory: Path, text: str, name: str = "serverless-pipeline.yaml") -> Path:
    path = directory / name
    path.write_text(text, encoding="utf-8")
    return path


def test_validate_prints_each_error_located_and_exits_1(tmp_path: Path) -> None:
    path = write(tmp_path, BAD)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert lines[0] == f"{path}:2:5: error: unknown key 'rnu' in step 1; did you mean 'run'?"
    assert lines[1].startswith(f"{path}:3:15: error: run: uses untrusted value git.message")
    assert "2 error(s), 0 warning(s)" in result.stderr


def test_validate_exits_0_for_a_valid_spec(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(write(tmp_path, GOOD))])
    assert result.exit_code == 0
    assert result.stdout == ""
    assert "valid" in result.stderr


def test_validate_exits_0_when_there_are_only_warnings(tmp_path: Path) -> None:
    path = write(tmp_path, WARN)
    result = CliRunner().invoke(app, ["validate", str(path)])
    assert result.exit_code == 0
    assert result.stdout.startswith(f"{path}:2:15: warning: steps.later refers to no earlier step")


def test_validate_exits_2_for_a_missing_file(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["validate", str(tmp_path / "nope.yaml")])
    assert result.exit_code == 2
    assert "pipeline file not found" in result.stderr


def test_validate_reads_serverless_pipeline_yaml_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, BAD)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["validate"])
    assert result.exit_code == 1
    assert result.stdout.startswith("serverless-pipeline.yaml:2:5: error:")


def test_schema_prints_the_json_schema() -> None:
    result = CliRunner().invoke(app, ["schema"])
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert "plugin" in schema["$defs"]["step"]["properties"]


def _scd() -> str:
    found = shutil.which("scd") or str(Path(sys.executable).parent / "scd")
    if not Path(found).exists():
        pytest.skip("the scd console script is not installed in this environment")
    return found


def test_scd_validate_runs_as_a_real_command_with_plain_output(tmp_path: Path) -> None:
    write(tmp_path, BAD)
    done = subprocess.run(
        [_scd(), "validate"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[0] == (
        "serverless-pipeline.yaml:2:5: error: unknown key 'rnu' in step 1; did you mean 'run'?"
    )
    assert "\x1b[" not in done.stdout  # no colours when stdout is not a terminal
    missing = subprocess.run(
        [_scd(), "validate", "nope.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert missing.returncode == 2
