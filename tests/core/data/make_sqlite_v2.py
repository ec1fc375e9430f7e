"""Write ``sqlite-v2.sql``: a run store as scd's schema version 2 left it (before runs
had numbers), for the migration to version 3 to number.

Run with scd_core as of schema version 2 (commit d262d1d) on the path, not today's::

    git archive d262d1d libs/core | tar -x -C /tmp/v2
    PYTHONPATH=/tmp/v2/libs/core uv run python tests/core/data/make_sqlite_v2.py

Runs of two apps are created in an order unlike their ids and creation times, and
two share a creation time, so numbering "in creation order" is checked for real.
"""

from __future__ import annotations

import sqlite3
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from scd_core.models import Event, Run
from scd_core.stores.sqlite import SCHEMA_VERSION, SqliteRunStore

HERE = Path(__file__).resolve().parent
BASE = datetime(2026, 11, 20, 9, 0, 0, tzinfo=timezone.utc)
# (run id, app, seconds after BASE), in the order they are written
RUNS = (
    ("run-c", "web", 30),
    ("run-a", "web", 10),
    ("run-e", "api", 20),
    ("run-b", "web", 20),
    ("run-d", "api", 5),
    ("run-f", "web", 20),
)


def main() -> None:
    assert SCHEMA_VERSION == 2, "run this with the schema version 2 release of scd_core"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scd.db"
        store = SqliteRunStore(path, checkpoint_interval_s=0)
        for run_id, app, seconds in RUNS:
            event = Event(provider="github", event_name="push", branch="main", commit="c" * 40)
            run = Run(
                id=run_id,
                app=app,
                dedup_key=f"{app}:github:{run_id}",
                event=event,
                created_at=BASE + timedelta(seconds=seconds),
            )
            store.create_run(run)
        store.close()
        with sqlite3.connect(path) as db:
            dump = "\n".join(db.iterdump())
        db.close()
    header = "-- A run store written by scd at schema version 2 (d262d1d); see make_sqlite_v2.py.\n"
    (HERE / "sqlite-v2.sql").write_text(header + dump + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
