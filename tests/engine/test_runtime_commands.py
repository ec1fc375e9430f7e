"""$SCD_OUTPUT / $SCD_ENV parsing: exactly GitHub's file-command format."""

from __future__ import annotations

from pathlib import Path

import pytest
from scd_engine.runtime.commands import FileCommandError, parse_file_command, read_file_command


def test_name_value_lines_split_at_the_first_equals() -> None:
    assert parse_file_command("a=1\nb=x=y\nempty=\n") == {"a": "1", "b": "x=y", "empty": ""}


def test_a_heredoc_block_keeps_inner_newlines_but_not_the_last() -> None:
    text = "multi<<EOF\nline one\n\nline three\nEOF\nafter=yes\n"
    assert parse_file_command(text) == {"multi": "line one\n\nline three", "after": "yes"}


def test_an_empty_heredoc_block_is_an_empty_value() -> None:
    assert parse_file_command("v<<END\nEND\n") == {"v": ""}


def test_crlf_line_endings_are_accepted() -> None:
    assert parse_file_command("a=1\r\nm<<D\r\nx\r\nD\r\n") == {"a": "1", "m": "x"}


def test_whichever_of_equals_and_heredoc_comes_first_decides() -> None:
    assert parse_file_command("a=b<<c\n") == {"a": "b<<c"}
    assert parse_file_command("a<<E=\nv\nE=\n") == {"a": "v"}


def test_a_later_assignment_wins_and_blank_lines_are_skipped() -> None:
    assert parse_file_command("a=1\n\n\na=2\n") == {"a": "2"}


def test_a_missing_delimiter_is_an_error() -> None:
    with pytest.raises(FileCommandError, match="delimiter"):
        parse_file_command("a<<EOF\nvalue\n")


def test_a_line_without_equals_or_heredoc_is_an_error() -> None:
    with pytest.raises(FileCommandError, match="invalid line"):
        parse_file_command("justtext\n")


def test_an_empty_name_is_an_error() -> None:
    with pytest.raises(FileCommandError):
        parse_file_command("=value\n")
    with pytest.raises(FileCommandError):
        parse_file_command("<<EOF\nx\nEOF\n")


def test_a_block_value_without_final_newline_before_eof_is_an_error() -> None:
    with pytest.raises(FileCommandError, match="newline"):
        parse_file_command("a<<EOF\nvalue")


def test_a_missing_file_means_no_values(tmp_path: Path) -> None:
    assert read_file_command(tmp_path / "absent") == {}
