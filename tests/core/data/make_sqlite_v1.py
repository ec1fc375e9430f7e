"""Write ``sqlite-v1.sql`` and ``sqlite-v1.expected.json``: a run store as scd's schema
version 1 left it, and what that release read back from it.

Run with scd_core as of schema version 1 (commit d6ebc7c) on the path, not today's::

    git archive d6ebc7c libs/core | tar -x -C /tmp/v1
    PYTHONPATH=/tmp/v1/libs/core uv run python tests/core/data/make_sqlite_v1.py

The expected file holds each run, step, control, app and token as that release's
models wrote them (``dump_model``), so a later schema is checked against the old
code's own reading, not against a re-derivation.
"""

from __future__ import annotations

import json
import sqlite3
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from scd_core.models import Event, Run, StepState
from scd_core.store import dump_model
from scd_core.stores.sqlite import SCHEMA_VERSION, SqliteRunStore

HERE = Path(__file__).resolve().parent
BASE = datetime(2026, 11, 1, 8, 30, 0, 250000, tzinfo=timezone.utc)
STATUSES = ("queued", "running", "success", "failure", "cancelled", "error", "paused")


def event(n: int) -> Event:
    half = "\\ud83d" if n % 3 == 0 else "\\ud83d\\ude00"  # a lone surrogate in some
    payload = json.loads(
        f'{{"ref": "refs/heads/main", "n": {n}, "head_commit": {{"message": "fix {half}"}},'
        ' "nested": {"list": [1, 2.5, null, true, "ünïcødé ✓"], "empty": {}},'
        ' "big": 2305843009213693952}'
    )
    return Event(
        provider=("github", "gitee", "gitlab", "codeup")[n % 4],
        event_name=("push", "tag", "pull_request", "manual")[n % 4],
        ref="refs/heads/main",
        branch="main" if n % 2 else "dev",
        commit=f"{n:040x}",
        message="bad \udcff text" if n == 3 else f"commit {n}",
        pusher="alice",
        clone_url="https://github.com/acme/web.git",
        repository="acme/web",
        added=[f"src/{n}.py"],
        inputs={"level": "debug"} if n % 4 == 3 else {},
        delivery_id=f"delivery-{n}",
        payload=payload,
    )


def main() -> None:
    assert SCHEMA_VERSION == 1, "run this with the schema version 1 release of scd_core"
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "scd.db"
        store = SqliteRunStore(path, checkpoint_interval_s=0)
        for n, status in enumerate(STATUSES):
            created = BASE + timedelta(seconds=n // 2)  # pairs share a time: the id breaks ties
            run = Run(
                id=f"run-{n}",
                app=("web", "api")[n % 2],
                dedup_key=f"web:github:delivery-{n}",
                event=event(n),
                created_at=created,
                attempt=1 + n % 2,
                rerun_of="run-0" if n == 5 else None,
            )
            stored, _ = store.create_run(run)
            if status != "queued":
                started = created + timedelta(seconds=1)
                finished = None if status in ("running", "paused") else started + timedelta(5)
                store.update_run(
                    stored.model_copy(
                        update={
                            "status": status,
                            "started_at": started,
                            "finished_at": finished,
                            "message": "exit 1 \ud800" if status == "failure" else None,
                        }
                    )
                )
                store.put_step(
                    run.id,
                    StepState(
                        id="setup", name="Set up", index=-1, status="success", started_at=started
                    ),
                )
                for i in range(3):
                    store.put_step(
                        run.id,
                        StepState(
                            id=f"{i}" if i != 1 else "test",
                            name=f"step {i}",
                            index=i,
                            status="success" if i < 2 else status,
                            outcome="success",
                            conclusion="success",
                            started_at=started + timedelta(seconds=i),
                            finished_at=started + timedelta(seconds=i + 1),
                            outputs={"k": f"v{i}", "odd": "\udfff"} if i == 1 else {},
                            message="exit 1" if i == 2 and status == "failure" else None,
                        ),
                    )
        store.request_control("run-1", "cancel")
        store.request_control("run-6", "pause")
        store.acquire_lease("run:run-1", "worker-a", 3600)
        store.claim_once("schedule:web:2026-11-01T00:00:00Z")
        store.put_app("docs", {"repo": "https://github.com/acme/docs.git", "secret": "s3cr3t"})
        store.put_token("ci", "ab" * 32, ["read", "trigger"], BASE)
        store.put_token("old", "cd" * 32, ["admin"], BASE)
        store.revoke_token("old")
        runs, _ = store.list_runs(limit=100)
        expected = {
            "schema_version": SCHEMA_VERSION,
            "runs": [json.loads(dump_model(run)) for run in runs],
            "steps": {
                r.id: [json.loads(dump_model(s)) for s in store.list_steps(r.id)] for r in runs
            },
            "controls": {r.id: store.get_control(r.id) for r in runs},
            "apps": store.list_apps(),
            "tokens": [json.loads(t.model_dump_json()) for t in store.list_tokens()],
        }
        store.close()
        with sqlite3.connect(path) as db:
            dump = "\n".join(db.iterdump())
        db.close()
    header = "-- A run store written by scd at schema version 1 (d6ebc7c); see make_sqlite_v1.py.\n"
    (HERE / "sqlite-v1.sql").write_text(header + dump + "\n", encoding="utf-8")
    text = json.dumps(expected, indent=1, sort_keys=True, ensure_ascii=True)
    (HERE / "sqlite-v1.expected.json").write_text(text + "\n", encoding="ascii")


if __name__ == "__main__":
    main()
