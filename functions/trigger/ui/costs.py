"""What runs cost on Function Compute, as the dashboard shows it: per run, and per app for
the current calendar month (UTC).

Contract: pure reads of the store; prices come from the trigger's settings
(``SCD_FC_PRICES`` over ``scd_core.billing.DEFAULT_FC_PRICES``). A month's sum
reads at most ``MONTH_RUNS`` runs of the app, newest first, and says so when it
stopped before the month's first run.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from scd_core.billing import Bill, FcPrices, bill_tasks
from scd_core.models import utcnow
from scd_core.store import RunRecords

__all__ = ["MONTH_RUNS", "cost_text", "month_cost"]

MONTH_RUNS = 2000
_PAGE = 200


def cost_text(bill: Bill | None, table: FcPrices) -> dict[str, Any] | None:
    """A bill for people: ``2.1 vCPU-s · 4.2 GB-s · 1 invocation ≈ USD 0.000090``."""
    if bill is None:
        return None
    calls = f"{bill.invocations} invocation" + ("" if bill.invocations == 1 else "s")
    parts = [f"{bill.vcpu_seconds:,.1f} vCPU-s", f"{bill.gb_seconds:,.1f} GB-s", calls]
    text = " · ".join(parts) + f" ≈ USD {bill.usd:.6f}"
    if not bill.complete:
        text += " (vCPU time unknown: set SCD_FC_VCPU on the worker)"
    return {"text": text, "usd": bill.usd, "prices": f"FC prices as of {table.as_of}"}


def month_cost(
    store: RunRecords, app: str, table: FcPrices, now: datetime | None = None
) -> dict[str, Any] | None:
    """The summed cost of ``app``'s runs created this month (UTC), None when none of
    them ran on FC; ``partial`` when more than ``MONTH_RUNS`` runs were not read."""
    now = now or utcnow()
    start = now.astimezone(timezone.utc).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    total: Bill | None = None
    read, cursor, partial = 0, None, False
    while True:
        runs, cursor = store.list_runs(app=app, limit=_PAGE, cursor=cursor)
        fresh = [run for run in runs if run.created_at >= start]
        for run in fresh:
            bill = bill_tasks(run.tasks, table)
            if bill is not None:
                total = bill if total is None else total + bill
        read += len(runs)
        if cursor is None or len(fresh) < len(runs):
            break
        if read >= MONTH_RUNS:
            partial = True
            break
    shown = cost_text(total, table)
    if shown is not None:
        shown["month"] = start.strftime("%B %Y")
        shown["partial"] = partial
    return shown
