"""The Tablestore run store beyond the conformance suite: large events, the double's
limits, retries and error translation, selection by ``SCD_STORE``, and a live check."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest
from factories import make_run
from netutil import free_port
from scd_core.errors import BackendError, ConfigError, Conflict
from scd_core.stores import open_store
from scd_core.stores.otsdouble import OtsDouble
from scd_core.stores.tablestore import TablestoreRunStore
from scd_core.stores.tablestore_schema import TableNames, create_tables
from tablestore import (
    CapacityUnit,
    Condition,
    OTSServiceError,
    ReservedThroughput,
    Row,
    RowExistenceExpectation,
    TableMeta,
    TableOptions,
)

SECRET = "s3cr3t-key-never-shown"


@pytest.fixture
def double() -> OtsDouble:
    made = OtsDouble()
    create_tables(made)
    return made


def test_a_5mb_delivery_round_trips_through_chunks_and_is_written_once(double: OtsDouble) -> None:
    store = TablestoreRunStore(double)
    payload = {"commits": [{"message": "x" * 1000, "n": n} for n in range(5000)]}  # ~5 MB
    run = make_run(1, payload=payload, number=1)  # the store numbers it: the first of web
    created, new = store.create_run(run)
    assert new
    assert created == run
    names = TableNames()
    chunk_writes = double.calls["PutRow"]
    assert store.get_run("run-1") == run
    assert store.find_run("github:delivery-1") == run
    # the run row stayed small: the event lives in 1 MB parts
    row = double._tables[names.runs].rows[("run-1",)]
    assert len(row["data"]) < 10_000
    assert row["event_parts"] == 5
    updated = store.update_run(store.get_run("run-1").model_copy(update={"status": "running"}))
    assert double.calls["PutRow"] == chunk_writes  # an unchanged event is not written again
    assert store.get_run("run-1") == updated
    assert store.list_runs(status="running")[0] == [updated]


def test_an_event_shrunk_by_an_update_is_stored_inline_again(double: OtsDouble) -> None:
    store = TablestoreRunStore(double)
    store.create_run(make_run(1, payload={"big": "y" * 3_000_000}))
    small = make_run(1, payload={"n": 1})
    store.update_run(small)
    stored = double._tables[TableNames().runs].rows[("run-1",)]
    assert "event_sha" not in stored
    assert "event_parts" not in stored
    assert store.get_run("run-1") == small.model_copy(update={"version": 1, "number": 1})


def test_the_double_refuses_what_tablestore_refuses(double: OtsDouble) -> None:
    def code(call: Any) -> str:
        with pytest.raises(OTSServiceError) as caught:
            call()
        return str(caught.value.get_error_code())

    five = [(f"k{n}", "STRING") for n in range(5)]
    meta = TableMeta("wide", five)
    options, reserved = TableOptions(), ReservedThroughput(CapacityUnit(0, 0))
    assert code(lambda: double.create_table(meta, options, reserved)) == "OTSParameterInvalid"
    kv = TableNames().kv
    assert code(lambda: double.create_table(TableMeta(kv, [("k", "STRING")]), options, reserved))
    big = Row([("k", "a")], [("v", "z" * (2 * 1024 * 1024 + 1))])
    assert code(lambda: double.put_row(kv, big)) == "OTSParameterInvalid"
    wide_row = Row([("k", "a")], [(f"c{n}", "x" * 1_000_000) for n in range(5)])
    assert code(lambda: double.put_row(kv, wide_row)) == "OTSParameterInvalid"  # > 4 MB
    long_key = Row([("k", "k" * 1025)], [("v", 1)])
    assert code(lambda: double.put_row(kv, long_key)) == "OTSParameterInvalid"
    wrong_type = Row([("k", 7)], [("v", 1)])
    assert code(lambda: double.put_row(kv, wrong_type)) == "OTSParameterInvalid"
    runs = TableNames().runs
    typed = Row([("id", "r")], [("created_us", "not an integer")])
    assert code(lambda: double.put_row(runs, typed)) == "OTSParameterInvalid"
    double.put_row(kv, Row([("k", "a")], [("v", 1)]))
    once = Condition(RowExistenceExpectation.EXPECT_NOT_EXIST)
    again = Row([("k", "a")], [("v", 2)])
    assert code(lambda: double.put_row(kv, again, once)) == "OTSConditionCheckFail"
    assert code(lambda: double.get_row("missing", [("k", "a")])) == "OTSObjectNotExist"


def test_get_range_answers_in_pages_with_a_next_start_key(double: OtsDouble) -> None:
    from tablestore import INF_MAX, INF_MIN

    double.page_rows = 3
    kv = TableNames().kv
    for n in range(8):
        double.put_row(kv, Row([("k", f"x{n}")], [("v", n)]))
    start: Any = [("k", INF_MIN)]
    pages = []
    while start is not None:
        _, start, rows, _ = double.get_range(kv, "FORWARD", start, [("k", INF_MAX)])
        pages.append([row.primary_key[0][1] for row in rows])
    assert [len(page) for page in pages] == [3, 3, 2]
    assert [key for page in pages for key in page] == [f"x{n}" for n in range(8)]


def test_throttling_is_retried_and_other_errors_become_backend_errors(double: OtsDouble) -> None:
    store = TablestoreRunStore(double, retry_delay_s=0.001)
    double.fail_next = ["OTSServerBusy", "OTSNotEnoughCapacityUnit"]
    assert store.create_run(make_run(1))[1]
    assert double.fail_next == []
    double.fail_next = ["OTSServerBusy"] * 6  # more than the attempts
    with pytest.raises(BackendError) as busy:
        store.get_run("run-1")
    assert "OTSServerBusy" in str(busy.value)
    assert isinstance(busy.value.__cause__, OTSServiceError)
    double.fail_next = ["OTSAuthFailed"]
    with pytest.raises(BackendError, match="OTSAuthFailed"):
        store.get_run("run-1")


def test_a_lost_condition_is_a_conflict(double: OtsDouble) -> None:
    store = TablestoreRunStore(double)
    run, _ = store.create_run(make_run(1))
    store.update_run(run)
    with pytest.raises(Conflict):
        store.update_run(run)


def test_open_store_names_the_missing_variable(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID", raising=False)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    with pytest.raises(ConfigError, match="ALIBABA_CLOUD_ACCESS_KEY_ID"):
        open_store("tablestore://inst?endpoint=http://127.0.0.1:1")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "id")
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    with pytest.raises(ConfigError, match="ALIBABA_CLOUD_ACCESS_KEY_SECRET"):
        open_store("tablestore://inst?endpoint=http://127.0.0.1:1")


@pytest.mark.parametrize(
    "url",
    [
        "tablestore://",
        "tablestore://inst/path",
        "tablestore://inst?endpoint=ftp://x",
        "tablestore://inst?bogus=1",
        "tablestore://inst?endpoint=http://x&prefix=9-bad",
        "tablestore://inst",  # no endpoint and no region
    ],
)
def test_malformed_tablestore_urls_are_config_errors_naming_scd_store(
    url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.delenv("FC_REGION", raising=False)
    with pytest.raises(ConfigError, match="SCD_STORE"):
        open_store(url)


def test_an_unreachable_endpoint_is_a_backend_error_without_credentials(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAIidshown")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", "sts-token-never-shown")
    store = open_store(f"tablestore://inst?endpoint=http://127.0.0.1:{free_port()}")
    assert isinstance(store, TablestoreRunStore)
    with pytest.raises(BackendError) as caught:
        store.get_run("run-1")
    text = f"{caught.value!s} {caught.value!r}"
    assert SECRET not in text
    assert "sts-token-never-shown" not in text
    store.close()


def test_the_sdk_is_imported_only_when_a_tablestore_store_is_opened() -> None:
    code = (
        "import sys; from scd_core.stores import open_store; open_store('memory://').close();"
        "print('tablestore' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


@pytest.mark.live
@pytest.mark.skipif(
    not os.environ.get("SCD_LIVE_TABLESTORE"),
    reason="set SCD_LIVE_TABLESTORE=tablestore://INSTANCE?region=... and the credentials",
)
def test_live_tablestore_round_trip() -> None:
    url = os.environ["SCD_LIVE_TABLESTORE"]
    store = open_store(url)
    assert isinstance(store, TablestoreRunStore)
    create_tables(store._calls.client, store._prefix)
    run = make_run(os.urandom(6).hex())
    created, _ = store.create_run(run)
    assert store.get_run(created.id) == created
    assert store.update_run(created).version == created.version + 1
    store.close()


def test_get_control_reads_tablestore_at_most_once_a_ttl(double: OtsDouble) -> None:
    worker = TablestoreRunStore(double, control_ttl_s=1.0)
    client = TablestoreRunStore(double)
    client.create_run(make_run(1))
    assert worker.get_control("run-1") is None
    reads = double.calls["GetRow"]
    for _ in range(20):
        assert worker.get_control("run-1") is None
    assert double.calls["GetRow"] == reads  # the heartbeat's 0.25 s polls cost nothing
    client.request_control("run-1", "cancel")
    deadline = time.monotonic() + 30
    while worker.get_control("run-1") != "cancel":
        assert time.monotonic() < deadline, "a cancel was never seen"
        time.sleep(0.05)
    seen = double.calls["GetRow"]
    assert worker.get_control("run-1") == "cancel"
    assert double.calls["GetRow"] == seen  # cancel is final: never read again


def test_get_control_without_a_ttl_reads_every_time(double: OtsDouble) -> None:
    store = TablestoreRunStore(double, control_ttl_s=0)
    other = TablestoreRunStore(double)
    other.create_run(make_run(1))
    assert store.get_control("run-1") is None
    other.request_control("run-1", "pause")
    assert store.get_control("run-1") == "pause"


def test_a_bad_control_ttl_is_a_config_error(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "id")
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    with pytest.raises(ConfigError, match="control_ttl"):
        open_store("tablestore://inst?endpoint=http://127.0.0.1:1&control_ttl=soon")


def test_a_page_of_250_runs_is_read_in_batches_of_at_most_100(double: OtsDouble) -> None:
    from tablestore import BatchGetRowRequest, TableInBatchGetRowItem

    store = TablestoreRunStore(double)
    store.create_runs([make_run(n) for n in range(1, 301)])
    double.reset_counts()
    page, cursor = store.list_runs(limit=250)
    assert len(page) == 250
    assert cursor is not None
    assert double.calls["BatchGetRow"] == 3
    request = BatchGetRowRequest()
    keys = [[("id", f"run-{n}")] for n in range(1, 102)]
    request.add(TableInBatchGetRowItem(TableNames().runs, keys))
    with pytest.raises(OTSServiceError) as caught:
        double.batch_get_row(request)
    assert caught.value.get_error_code() == "OTSParameterInvalid"


def test_the_real_client_encodes_every_request_the_store_makes(double: OtsDouble) -> None:
    from scd_core.stores.otsdouble import sdk_client

    store = TablestoreRunStore(sdk_client(double))
    run = make_run(1, payload={"big": "é" * 1_500_000}, number=1)  # 3 MB of UTF-8: chunked
    assert store.create_run(run) == (run, True)
    assert store.get_run("run-1") == run
    assert store.list_runs(app="web", branch="main")[0] == [run]
    assert store.acquire_lease("task:run-1:default", "worker-1", 30)
    store.put_app("web", {"repo": "https://example.com/web.git"})
    assert store.list_apps() == [("web", {"repo": "https://example.com/web.git"})]


def test_the_double_counts_rows_and_capacity_units(double: OtsDouble) -> None:
    kv = TableNames().kv
    double.reset_counts()
    double.put_row(kv, Row([("k", "a")], [("v", "x" * 5000)]))  # 2 write CUs (4 KB each)
    double.get_row(kv, [("k", "a")])
    double.get_row(kv, [("k", "missing")])
    assert (double.writes, double.write_cu) == (1, 2)
    assert (double.reads, double.read_cu) == (2, 3)
    assert double.table_calls["GetRow", kv] == 2
