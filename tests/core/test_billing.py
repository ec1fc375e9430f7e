"""Run cost on Function Compute: the instance size from FC's environment, the dated price
table and its override, and the bill of a run's tasks."""

from __future__ import annotations

from datetime import timedelta

import pytest
from factories import BASE
from scd_core.billing import DEFAULT_FC_PRICES, FcSize, bill_tasks, fc_size, prices
from scd_core.errors import ConfigError
from scd_core.models import TaskState


def _task(seconds: float, memory_mb: int | None, vcpu: float | None) -> TaskState:
    return TaskState(
        status="success",
        started_at=BASE,
        finished_at=BASE + timedelta(seconds=seconds),
        memory_mb=memory_mb,
        vcpu=vcpu,
    )


def test_the_size_comes_from_fc_memory_and_the_deployments_vcpu_count() -> None:
    assert fc_size({}) is None
    assert fc_size({"FC_FUNCTION_MEMORY_SIZE": "4096", "SCD_FC_VCPU": "2"}) == FcSize(4096, 2.0)
    assert fc_size({"FC_FUNCTION_MEMORY_SIZE": "512"}) == FcSize(512, None)
    with pytest.raises(ConfigError, match="FC_FUNCTION_MEMORY_SIZE"):
        fc_size({"FC_FUNCTION_MEMORY_SIZE": "big"})
    with pytest.raises(ConfigError, match="SCD_FC_VCPU"):
        fc_size({"FC_FUNCTION_MEMORY_SIZE": "512", "SCD_FC_VCPU": "two"})


def test_a_five_minute_build_on_2_vcpu_4_gb_costs_what_the_table_says() -> None:
    bill = bill_tasks([_task(300, 4096, 2.0)])
    assert bill is not None
    assert (bill.vcpu_seconds, bill.gb_seconds, bill.invocations) == (600.0, 1200.0, 1)
    assert bill.cu == pytest.approx(0.0075 + 600 + 0.15 * 1200)
    assert bill.usd == pytest.approx(780.0075 * 0.000020)


def test_tasks_add_up_and_one_without_a_vcpu_count_makes_the_bill_incomplete() -> None:
    bill = bill_tasks([_task(60, 1024, 1.0), _task(30, 2048, None), _task(99, None, None)])
    assert bill is not None
    assert (bill.vcpu_seconds, bill.gb_seconds, bill.invocations) == (60.0, 120.0, 2)
    assert not bill.complete
    assert bill_tasks([_task(99, None, None), TaskState(memory_mb=512)]) is None  # off FC, open


def test_prices_are_a_dated_table_that_settings_override_in_part() -> None:
    assert DEFAULT_FC_PRICES.as_of.startswith("2024-08-27")
    assert prices(None) == DEFAULT_FC_PRICES
    changed = prices("usd_per_cu=0.00001, cu_per_gb_second=0.1")
    assert (changed.usd_per_cu, changed.cu_per_gb_second) == (0.00001, 0.1)
    assert changed.cu_per_vcpu_second == DEFAULT_FC_PRICES.cu_per_vcpu_second
    assert changed.as_of == "SCD_FC_PRICES"
    with pytest.raises(ConfigError, match="usd_per_cu"):
        prices("usd_per_cpu=1")
    with pytest.raises(ConfigError, match="not a number"):
        prices("usd_per_cu=cheap")


def test_settings_take_fc_prices_from_the_environment_and_name_a_bad_one() -> None:
    from scd_core.settings import Settings

    assert Settings.from_env({"SCD_FC_PRICES": "usd_per_cu=0.00003"}).fc_prices
    with pytest.raises(ConfigError, match="SCD_FC_PRICES"):
        Settings.from_env({"SCD_FC_PRICES": "usd=1"})
