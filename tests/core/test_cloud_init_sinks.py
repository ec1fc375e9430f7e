"""scd cloud init gives the configured log sink its retention: an OSS lifecycle rule on
the sink's prefix, or the SLS logstore's field index and retention; safe twice."""

from __future__ import annotations

from pathlib import Path

from oss_support import OssWorld
from scd_core.settings import Settings
from scd_core.sinks.oss import OssLogSink
from scd_core.sinks.sls import SlsLogSink
from scd_core.sinks.slsdouble import SlsDouble

from functions.commands.cloud import init_log_sink


def test_an_oss_sink_gets_a_lifecycle_rule_on_its_prefix_twice_safely(
    oss_world: OssWorld, tmp_path: Path
) -> None:
    client, bucket = oss_world.client(), oss_world.bucket()
    sink = OssLogSink(client, bucket, "ci/logs")
    settings = Settings(data_dir=tmp_path, log_sink=oss_world.url(bucket, "ci/logs"))
    said: list[str] = []
    init_log_sink(settings, said.append, sink=sink, days=14)
    init_log_sink(settings, said.append, sink=sink, days=14)
    rules = client.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"]
    assert len(rules) == 1
    assert rules[0]["Filter"]["Prefix"] == "ci/logs/"
    assert rules[0]["Expiration"]["Days"] == 14
    assert said[-1] == f"log sink: oss://{bucket}/ci/logs objects expire after 14 days"


def test_an_sls_sink_gets_its_index_and_retention(tmp_path: Path) -> None:
    double = SlsDouble()
    double.create_logstore("scd", "logs")
    settings = Settings(data_dir=tmp_path, log_sink="sls://scd/logs?region=cn-hangzhou")
    said: list[str] = []
    init_log_sink(settings, said.append, sink=SlsLogSink(double, "scd", "logs"), days=7)
    sink = SlsLogSink(double, "scd", "logs")
    sink.append("run-1", "build", b"2026-12-06T00:00:00.000Z hello\n")
    assert said == ["log sink: sls://scd/logs indexed, kept 7 days"]


def test_a_file_sink_needs_no_set_up(tmp_path: Path) -> None:
    said: list[str] = []
    init_log_sink(Settings(data_dir=tmp_path), said.append)
    assert said == ["log sink: file needs no set-up (scd prune keeps files in check)"]
