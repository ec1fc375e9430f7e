"""``TablestoreRunStore``: the ``RunStore`` on Alibaba Cloud Tablestore (``SCD_STORE=
tablestore://INSTANCE[?endpoint=URL&prefix=scd_]``), for Function Compute, where no
local disk lasts.

The table and index design is in ``scd_core.stores.tablestore_schema`` (``scd cloud
init`` creates them); the runs role is ``tablestore_runs``, the keyed roles
(controls, leases, apps, tokens) ``tablestore_kv``; ``tablestore_client`` is the one
place that calls the SDK (retries throttling with backoff, maps
``OTSConditionCheckFail`` to ``Conflict`` and every other failure to ``BackendError``).
Each method is the row operations its Protocol docstring names, so the store holds no
lock and any number of functions may share one instance; ``close`` only stops this
object. Tests run it on ``scd_core.stores.otsdouble.OtsDouble``.

What a run costs in reads and writes is printed by ``bench/tablestore_cost.py``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from scd_core.stores.tablestore_client import OtsCalls, control_ttl, open_client
from scd_core.stores.tablestore_kv import TablestoreKeyed
from scd_core.stores.tablestore_runs import TablestoreRuns
from scd_core.stores.tablestore_schema import TableNames

__all__ = ["TablestoreRunStore", "open_tablestore"]


class TablestoreRunStore(TablestoreRuns, TablestoreKeyed):
    """Every ``RunStore`` role on one Tablestore client (``tablestore.OTSClient`` or a
    double with its methods); tables named with ``prefix``. The tables must exist
    (``scd_core.stores.tablestore_schema.create_tables``). ``control_ttl_s``: how long
    ``get_control`` may answer from its cache (``TablestoreKeyed``; ``?control_ttl=``
    in the URL)."""

    def __init__(
        self,
        client: Any,
        *,
        prefix: str = "scd_",
        clock: Callable[[], float] = time.time,
        retry_delay_s: float = 0.05,
        control_ttl_s: float = 1.0,
    ) -> None:
        self._prefix = prefix
        calls = OtsCalls(client, base_delay_s=retry_delay_s)
        names = TableNames(prefix)
        TablestoreRuns.__init__(self, calls, names)
        TablestoreKeyed.__init__(self, calls, names, clock, control_ttl_s)

    def __repr__(self) -> str:
        return f"TablestoreRunStore(prefix={self._prefix!r})"

    def close(self) -> None:
        self._calls.close()


def open_tablestore(url: str) -> TablestoreRunStore:
    """The store for ``SCD_STORE=url`` (credentials from the environment); ``ConfigError``
    for a malformed URL or a missing credential, naming the variable."""
    client, prefix = open_client(url)
    return TablestoreRunStore(client, prefix=prefix, control_ttl_s=control_ttl(url))
