"""``scd cloud init``: creates the Tablestore tables and indexes once, safe to repeat."""

from __future__ import annotations

from typing import Any

import pytest
from factories import make_run
from scd_core.stores import tablestore_client
from scd_core.stores.otsdouble import OtsDouble
from scd_core.stores.tablestore import TablestoreRunStore
from typer.testing import CliRunner

from functions.cli import app

URL = "tablestore://inst?endpoint=http://127.0.0.1:1&prefix=ci_"


@pytest.fixture
def double(monkeypatch: pytest.MonkeyPatch) -> OtsDouble:
    made = OtsDouble()

    def open_client(url: str, environ: Any = None) -> tuple[OtsDouble, str]:
        return made, tablestore_client.parse_url(url)[2]

    monkeypatch.setattr(tablestore_client, "open_client", open_client)
    monkeypatch.setenv("SCD_STORE", URL)
    return made


def test_cloud_init_creates_the_tables_once_and_is_safe_to_repeat(double: OtsDouble) -> None:
    first = CliRunner().invoke(app, ["cloud", "init"])
    assert first.exit_code == 0, first.output
    assert double.list_table() == ("ci_chunks", "ci_kv", "ci_runs", "ci_steps")
    assert "created table ci_runs" in first.output
    second = CliRunner().invoke(app, ["cloud", "init"])
    assert second.exit_code == 0, second.output
    assert "every Tablestore table exists" in second.output
    assert double.calls["CreateTable"] == 4
    # the tables it made are the ones the store uses, indexes included
    store = TablestoreRunStore(double, prefix="ci_")
    store.create_run(make_run(1))
    assert [run.id for run in store.list_runs(app="web")[0]] == ["run-1"]


def test_cloud_init_with_a_local_store_has_nothing_to_do(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    monkeypatch.setenv("SCD_STORE", f"sqlite:///{tmp_path}/scd.db")
    result = CliRunner().invoke(app, ["cloud", "init"])
    assert result.exit_code == 0
    assert "sqlite needs no set-up" in result.output


def test_cloud_init_without_credentials_names_the_variable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SCD_STORE", URL)
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_ID", raising=False)
    result = CliRunner().invoke(app, ["cloud", "init"])
    assert result.exit_code == 1
    assert "ALIBABA_CLOUD_ACCESS_KEY_ID" in result.output
