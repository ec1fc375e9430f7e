"""``scd run``'s start-up fast path: same arguments as typer, no typer imported."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from functions.cli import build_app
from functions.commands import run as run_module
from functions.commands.run import parse_fast

AGREED = [
    [],
    ["p.yaml"],
    ["--json", "p.yaml", "--grace", "0.5"],
    ["--grace=2", "--data-dir=out", "--event", "ev.json", "--ref", "refs/tags/v1"],
    ["--input", "a=1", "--input=b=2", "--env", "X=y", "--secret", "TOKEN", "--secret", "KEY"],
    ["--ref", "main", "--ref", "dev", "p.yaml", "--json"],
]


def typer_keywords(argv: list[str], monkeypatch: pytest.MonkeyPatch) -> dict[str, Any]:
    seen: dict[str, Any] = {}

    def record(**kwargs: Any) -> int:
        seen.update(kwargs)
        return 0

    monkeypatch.setattr(run_module, "_session", record)
    result = CliRunner().invoke(build_app(), ["run", *argv])
    assert result.exit_code == 0, result.output
    return seen


@pytest.mark.parametrize("argv", AGREED)
def test_fast_parse_gives_what_typer_gives(
    argv: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    assert parse_fast(argv) == typer_keywords(argv, monkeypatch)


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["--unknown"],
        ["--grace"],
        ["--grace", "abc"],
        ["--ref", "-x"],
        ["--ref="],
        ["a.yaml", "b.yaml"],
        ["--", "a.yaml"],
        ["--json=1"],
        [""],
    ],
)
def test_fast_parse_leaves_anything_unusual_to_typer(argv: list[str]) -> None:
    assert parse_fast(argv) is None


def test_scd_run_imports_neither_typer_nor_server_libraries(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text('steps:\n  - run: "true"\n')
    code = textwrap.dedent(
        """
        import sys
        from functions.cli import main
        sys.argv = ["scd", "run", "p.yaml", "--data-dir", "d"]
        try:
            main()
        except SystemExit as exc:
            heavy = ["typer", "rich", "fastapi", "httpx", "uvicorn", "croniter", "click"]
            print(exc.code, [m for m in heavy if m in sys.modules])
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    assert proc.stdout.splitlines()[-1] == "0 []", proc.stderr


def test_a_bad_option_value_still_gets_typers_usage_error(tmp_path: Path) -> None:
    code = "import sys; from functions.cli import main; sys.argv[0] = 'scd'; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "run", "--grace", "abc"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 2
    assert "--grace" in proc.stderr


def test_steps_do_not_see_the_variable_that_silences_pydantic_plugins(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text(
        'steps:\n  - run: echo "plugins=${PYDANTIC_DISABLE_PLUGINS:-unset}"\n'
    )
    env = {k: v for k, v in os.environ.items() if k != "PYDANTIC_DISABLE_PLUGINS"}
    code = "import sys; from functions.cli import main; sys.argv[0] = 'scd'; main()"
    proc = subprocess.run(
        [sys.executable, "-c", code, "run", "p.yaml", "--data-dir", "d"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    assert "plugins=unset" in proc.stdout
