"""open_sink picks a log sink from SCD_LOG_SINK's URL; bad URLs fail start-up clearly."""

from __future__ import annotations

from pathlib import Path

import pytest
from scd_core.errors import ConfigError
from scd_core.settings import Settings
from scd_core.sinks import FileLogSink, MemoryLogSink, open_sink


def test_a_file_url_opens_a_file_sink_on_that_directory(tmp_path: Path) -> None:
    sink = open_sink(f"file:///{tmp_path / 'logs'}")
    assert isinstance(sink, FileLogSink)
    sink.append("run-1", "build", b"hello\n")
    sink.close("run-1", "build")
    assert (tmp_path / "logs" / "run-1" / "build.log").read_bytes() == b"hello\n"


def test_two_file_sinks_on_one_directory_share_their_logs(tmp_path: Path) -> None:
    url = f"file:///{tmp_path}"
    open_sink(url).append("run-1", "build", b"line\n")
    chunk = open_sink(url).read("run-1", "build")
    assert chunk.data == b"line\n"


def test_a_relative_file_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    sink = open_sink("file:///.scd/logs")
    sink.append("r", "s", b"x\n")
    assert (tmp_path / ".scd" / "logs" / "r" / "s.log").is_file()


def test_memory_url_opens_an_in_process_sink() -> None:
    assert isinstance(open_sink("memory://"), MemoryLogSink)


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("s3://bucket/prefix?region=cn-hangzhou", "unknown scheme 's3'"),
        ("/var/logs", "has no scheme"),
        ("file://", "needs a directory"),
        ("file:///", "needs a directory"),
        ("file://host/logs", "needs a directory"),
        ("file:///logs?x=1", "needs a directory"),
        ("memory://somewhere", "takes no path"),
    ],
)
def test_bad_urls_name_the_variable_and_the_accepted_forms(url: str, why: str) -> None:
    with pytest.raises(ConfigError) as caught:
        open_sink(url)
    message = str(caught.value)
    assert message.startswith("SCD_LOG_SINK: ")
    assert why in message
    assert "file:///PATH" in message
    assert "memory://" in message


def test_the_default_sink_lives_in_the_data_dir() -> None:
    assert Settings.from_env({}).log_sink == "file:///.scd/logs"
    moved = Settings.from_env({"SCD_DATA_DIR": "/var/lib/scd"})
    assert moved.log_sink == "file:////var/lib/scd/logs"
    assert moved.store == "sqlite:////var/lib/scd/scd.db"


def test_scd_log_sink_overrides_the_default_and_leaves_the_store_alone() -> None:
    settings = Settings.from_env({"SCD_DATA_DIR": "/d", "SCD_LOG_SINK": "memory://"})
    assert settings.log_sink == "memory://"
    assert settings.store == "sqlite:////d/scd.db"
    both = Settings.from_env({"SCD_STORE": "memory://", "SCD_LOG_SINK": "file:///x"})
    assert (both.store, both.log_sink) == ("memory://", "file:///x")
