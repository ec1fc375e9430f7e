"""Secrets stay masked when a step re-encodes them with real tools (coreutils ``base64``)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from test_runtime_steps import run_yaml

LONG = "tok-" + "Zq7xW2mP9k" * 10 + "e"  # 105 characters: base64 wraps onto two lines

pytestmark = pytest.mark.skipif(shutil.which("base64") is None, reason="coreutils base64 absent")


@pytest.mark.parametrize(
    "command",
    ['printf %s "$TOKEN" | base64', 'echo "$TOKEN" | base64', 'printf %s "$TOKEN" | base64 -w 64'],
)
def test_a_long_secret_piped_through_base64_leaks_no_line(tmp_path: Path, command: str) -> None:
    text = (
        "steps:\n  - id: enc\n    env: {TOKEN: \"${{ secrets.TOKEN }}\"}\n"
        f"    run: {command!r}\n"
    )
    result, log, _ = run_yaml(tmp_path, text, secrets={"TOKEN": LONG})
    assert result.status == "success"
    out = log("enc")
    lines = [line for line in out.splitlines() if line.strip()]
    assert lines
    assert all("***" in line for line in lines), out
