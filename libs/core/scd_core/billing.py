"""What a run cost on Function Compute: billed vCPU-seconds, GB-seconds and invocations
from the worker's configured size and each task's measured duration, priced in CUs.

Contract: pure functions of recorded data. The size is read where the worker runs
(``fc_size``: FC sets ``FC_FUNCTION_MEMORY_SIZE`` in MB; it publishes no vCPU
variable, so the worker's vCPU count comes from ``SCD_FC_VCPU``, which the
deployment sets beside it) and recorded on each task as it is claimed; a task
without a size (run off FC) costs nothing here and counts as not billed. Prices
are a dated table, ``DEFAULT_FC_PRICES``, replaced whole or in part by
``SCD_FC_PRICES`` (``usd_per_cu=0.00002,cu_per_gb_second=0.15``). Duration is the
task's ``started_at`` to ``finished_at`` (the worker's own account of its
invocation, not FC's billing record, which rounds to its own granularity).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, fields, replace

from scd_core.errors import ConfigError
from scd_core.models import TaskState

__all__ = ["DEFAULT_FC_PRICES", "Bill", "FcPrices", "FcSize", "bill_tasks", "fc_size", "prices"]


@dataclass(frozen=True)
class FcPrices:
    """FC 3.0 pay-as-you-go prices in compute units (CU), and the CU's price."""

    as_of: str
    usd_per_cu: float
    cu_per_invocation: float
    cu_per_vcpu_second: float
    cu_per_gb_second: float


DEFAULT_FC_PRICES = FcPrices(
    # Alibaba Cloud's "Pay-as-you-go" billing page as quoted in README.md's schedule
    # section (tier 1): no dated primary source was at hand, so the date is the quote's.
    as_of="2024-08-27 (FC 3.0 pay-as-you-go page, tier 1 list price)",
    usd_per_cu=0.000020,
    cu_per_invocation=75 / 10_000,
    cu_per_vcpu_second=1.0,
    cu_per_gb_second=0.15,
)
_NUMBERS = tuple(f.name for f in fields(FcPrices) if f.name != "as_of")


@dataclass(frozen=True)
class FcSize:
    """The FC instance a worker runs on: memory in MB, vCPUs (None when not told)."""

    memory_mb: int
    vcpu: float | None = None


@dataclass(frozen=True)
class Bill:
    """Billed usage and its price; ``complete`` is False when some task ran on FC with
    no vCPU count (its vCPU-seconds are then missing from the figures)."""

    vcpu_seconds: float = 0.0
    gb_seconds: float = 0.0
    invocations: int = 0
    cu: float = 0.0
    usd: float = 0.0
    complete: bool = True

    def __add__(self, other: Bill) -> Bill:
        return Bill(
            vcpu_seconds=self.vcpu_seconds + other.vcpu_seconds,
            gb_seconds=self.gb_seconds + other.gb_seconds,
            invocations=self.invocations + other.invocations,
            cu=self.cu + other.cu,
            usd=self.usd + other.usd,
            complete=self.complete and other.complete,
        )


def fc_size(environ: Mapping[str, str]) -> FcSize | None:
    """The size of the FC instance this process runs on; None off FC (no
    ``FC_FUNCTION_MEMORY_SIZE``). ``ConfigError`` for a malformed value."""
    memory = environ.get("FC_FUNCTION_MEMORY_SIZE", "").strip()
    if not memory:
        return None
    try:
        memory_mb = int(memory)
    except ValueError as exc:
        raise ConfigError(f"FC_FUNCTION_MEMORY_SIZE: not a number of MB: {memory!r}") from exc
    vcpu = environ.get("SCD_FC_VCPU", "").strip()
    try:
        count = float(vcpu) if vcpu else None
    except ValueError as exc:
        raise ConfigError(f"environment variable SCD_FC_VCPU: not a number: {vcpu!r}") from exc
    if memory_mb <= 0 or (count is not None and count <= 0):
        raise ConfigError("FC_FUNCTION_MEMORY_SIZE and SCD_FC_VCPU must be positive")
    return FcSize(memory_mb=memory_mb, vcpu=count)


def prices(text: str | None) -> FcPrices:
    """``DEFAULT_FC_PRICES`` with the ``name=value`` pairs of ``text`` (``SCD_FC_PRICES``)
    in place; ``ConfigError`` naming an unknown name or a bad value."""
    if not text or not text.strip():
        return DEFAULT_FC_PRICES
    changes: dict[str, float | str] = {"as_of": "SCD_FC_PRICES"}
    for part in text.split(","):
        name, sep, value = (piece.strip() for piece in part.partition("="))
        if not sep or name not in _NUMBERS:
            raise ConfigError(
                f"SCD_FC_PRICES: {part.strip()!r} is not name=value with a name of "
                + ", ".join(_NUMBERS)
            )
        try:
            changes[name] = float(value)
        except ValueError as exc:
            raise ConfigError(f"SCD_FC_PRICES: {name} is not a number: {value!r}") from exc
    return replace(DEFAULT_FC_PRICES, **changes)  # type: ignore[arg-type]


def bill_tasks(tasks: Iterable[TaskState], table: FcPrices = DEFAULT_FC_PRICES) -> Bill | None:
    """What the finished tasks that ran on FC cost together; None when none did."""
    total: Bill | None = None
    for task in tasks:
        if task.memory_mb is None or task.started_at is None or task.finished_at is None:
            continue
        seconds = max((task.finished_at - task.started_at).total_seconds(), 0.0)
        gb_seconds = seconds * task.memory_mb / 1024
        vcpu_seconds = 0.0 if task.vcpu is None else seconds * task.vcpu
        cu = (
            table.cu_per_invocation
            + vcpu_seconds * table.cu_per_vcpu_second
            + gb_seconds * table.cu_per_gb_second
        )
        one = Bill(vcpu_seconds, gb_seconds, 1, cu, cu * table.usd_per_cu, task.vcpu is not None)
        total = one if total is None else total + one
    return total
