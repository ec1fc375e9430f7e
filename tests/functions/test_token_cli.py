"""``scd token hash`` and ``scd token new``."""

from __future__ import annotations

import hashlib
import subprocess
import sys

from typer.testing import CliRunner

from functions.cli import app


def test_token_hash_prints_the_sha256_of_stdin_without_its_trailing_newline() -> None:
    result = CliRunner().invoke(app, ["token", "hash"], input="my-token\n")
    assert result.exit_code == 0
    assert result.output.strip() == hashlib.sha256(b"my-token").hexdigest()


def test_token_hash_strips_only_one_trailing_newline() -> None:
    result = CliRunner().invoke(app, ["token", "hash"], input="tok\n\n")
    assert result.output.strip() == hashlib.sha256(b"tok\n").hexdigest()


def test_token_hash_refuses_empty_input() -> None:
    result = CliRunner().invoke(app, ["token", "hash"], input="")
    assert result.exit_code == 2


def test_token_new_prints_a_token_and_its_digest() -> None:
    result = CliRunner().invoke(app, ["token", "new"])
    assert result.exit_code == 0
    token, digest = result.output.split()
    assert token.startswith("scd_")
    assert len(token) > 40
    assert digest == hashlib.sha256(token.encode()).hexdigest()


def test_scd_token_hash_works_as_a_real_process() -> None:
    code = "from functions.cli import main; main()"
    done = subprocess.run(
        [sys.executable, "-c", code, "token", "hash"],
        input=b"piped-token\n",
        capture_output=True,
        check=True,
        timeout=60,
    )
    assert done.stdout.decode().strip() == hashlib.sha256(b"piped-token").hexdigest()
