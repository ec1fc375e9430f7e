"""Tablestore reads and writes per run: one 5-step run, webhook to end, on the double.

What it does: the real trigger app on loopback and the real worker (``WorkerState``)
share one ``TablestoreRunStore`` on the real ``tablestore.OTSClient`` answered by
``OtsDouble`` (``sdk_client``: Tablestore's limits; it counts rows and capacity units
as Tablestore bills them). A signed GitHub
push webhook creates a run of a 5-step pipeline (each step prints a line and sleeps
``--step-seconds``); the worker checks the commit out of a local repository and runs
it; a client follows every step's live log over the API (server-sent events) while
the run goes on, as the dashboard does. The worker's heartbeat polls the control
request every 0.25 s and renews the lease every ttl/3 (``SCD_LEASE_TTL_SECONDS``,
30 s): both are part of the count, as they are on Function Compute.

Prints: calls of each store method; Tablestore API calls, rows read and written and
read/write CUs; the read CUs the polling costs per running minute; the price per
1,000 runs. Price source (dated): Tablestore billing examples,
https://www.alibabacloud.com/help/en/tablestore/latest/billing-examples — additional
read throughput USD 0.0030 per 10,000 CUs (high-performance instance, unit price
released 2018-08-01). No dated write-CU price was at hand: pass
``--write-usd-per-10k`` to include writes, otherwise they are counted, not priced.

Usage: ``uv run python bench/tablestore_cost.py [--step-seconds 2]``. Needs git.
"""

from __future__ import annotations

import argparse
import collections
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from factories import pipeline_yaml, scd_yaml, token_entry  # noqa: E402
from scd_core.invokers.memory import MemoryInvoker  # noqa: E402
from scd_core.settings import Settings  # noqa: E402
from scd_core.stores.otsdouble import OtsDouble, sdk_client  # noqa: E402
from scd_core.stores.tablestore import TablestoreRunStore  # noqa: E402
from scd_core.stores.tablestore_schema import create_tables  # noqa: E402

from functions.appconfig import parse_config  # noqa: E402
from functions.serve.demo import commit_demo, push_webhook  # noqa: E402
from functions.trigger.app import create_app  # noqa: E402
from functions.trigger.testing import serve  # noqa: E402
from functions.worker.app import WorkerState  # noqa: E402

SECRET = "bench-secret-0123456789abcdef"
TOKEN = "bench-token-0123456789abcdef"
READ_USD_PER_10K = 0.0030
STEPS = 5


class Counted:
    """A store proxy counting calls of each method (the store operations of a run)."""

    def __init__(self, store: Any) -> None:
        self._store = store
        self.calls: collections.Counter[str] = collections.Counter()
        self._lock = threading.Lock()

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._store, name)
        if not callable(attr):
            return attr

        def counted(*args: Any, **kwargs: Any) -> Any:
            with self._lock:
                self.calls[name] += 1
            return attr(*args, **kwargs)

        return counted


def follow(url: str, run_id: str, out: list[str]) -> None:
    """Follow each step's live log to its end, as the dashboard does."""
    headers = {"authorization": f"Bearer {TOKEN}", "accept": "text/event-stream"}
    for n in range(1, STEPS + 1):
        path = f"{url}/api/v1/runs/{run_id}/steps/s{n}/logs"
        with httpx.stream("GET", path, headers=headers, timeout=120) as answer:
            for line in answer.iter_lines():
                if line.startswith("data:"):
                    out.append(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--step-seconds", type=float, default=2.0)
    parser.add_argument("--write-usd-per-10k", type=float, default=None)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="scd-ots-cost-"))
    steps = [
        {"id": f"s{n}", "run": f"echo step {n}; sleep {args.step_seconds}"}
        for n in range(1, STEPS + 1)
    ]
    push = commit_demo(root / "repo", pipeline_yaml(*steps))
    app = {
        "name": "demo",
        "repo": push.repo.resolve().as_uri(),
        "secret": SECRET,
        "trigger": {"push": {}},
    }
    config_text = scd_yaml(app, tokens=[token_entry("bench", TOKEN, "admin")])
    (root / "scd.yaml").write_text(config_text, encoding="utf-8")
    settings = Settings(
        data_dir=root / "data", config=root / "scd.yaml", log_sink=f"file:///{root}/logs"
    )
    double = OtsDouble()
    client = sdk_client(double)  # the real OTSClient and its encoder, answered by the double
    create_tables(client)
    store = Counted(TablestoreRunStore(client))
    double.reset_counts()
    invoker = MemoryInvoker()
    trigger = create_app(settings, config=parse_config(config_text), store=store, invoker=invoker)
    lines: list[str] = []
    with serve(trigger) as url:
        body, headers = push_webhook(push, SECRET)
        answer = httpx.post(f"{url}/webhooks/demo", content=body, headers=headers, timeout=30)
        if answer.status_code != 202:
            raise SystemExit(f"webhook refused: {answer.status_code} {answer.text}")
        run_id = answer.json()["run_id"]
        follower = threading.Thread(target=follow, args=(url, run_id, lines), daemon=True)
        follower.start()
        worker = WorkerState(settings, store)
        started = time.monotonic()
        try:
            [job] = invoker.jobs
            worker.execute(job, "bench-1")
        finally:
            worker.close()
        running = time.monotonic() - started
        follower.join(timeout=60)
        final = store.get_run(run_id).status
    report(store.calls, double, running, final, len(lines), args.write_usd_per_10k)


def report(
    calls: collections.Counter[str],
    double: OtsDouble,
    running_s: float,
    status: str,
    lines: int,
    write_price: float | None,
) -> None:
    print(f"one run of {STEPS} steps: {status}, worker busy {running_s:.1f} s, {lines} log events")
    print("store operations:", ", ".join(f"{k} {v}" for k, v in sorted(calls.items())))
    print("tablestore calls:", ", ".join(f"{k} {v}" for k, v in sorted(double.calls.items())))
    print(f"rows read {double.reads}, rows written {double.writes}")
    print(f"read CUs {double.read_cu}, write CUs {double.write_cu}")
    polls = calls["get_control"]
    per_table = ", ".join(
        f"{api} {table} {n}" for (api, table), n in sorted(double.table_calls.items())
    )
    print(f"tablestore calls by table: {per_table}")
    print(
        f"get_control polls: {polls} ({polls / (running_s / 60):.0f} a running minute);"
        f" kv GetRows (controls, leases, dedup): {double.table_calls['GetRow', 'scd_kv']}"
    )
    read_usd = double.read_cu / 10_000 * READ_USD_PER_10K * 1000
    print(f"price per 1,000 runs, reads: USD {read_usd:.4f} (USD 0.0030 per 10,000 read CUs)")
    if write_price is None:
        print("price per 1,000 runs, writes: price missing (pass --write-usd-per-10k)")
    else:
        write_usd = double.write_cu / 10_000 * write_price * 1000
        print(f"price per 1,000 runs, writes: USD {write_usd:.4f}")


if __name__ == "__main__":
    main()
