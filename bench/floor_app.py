"""The floor: the least a webhook receiver can do and still record every delivery durably.

``webhook_throughput.py`` measures it beside scd and the bare app, so that the
gap between the bare app and scd splits into what the work itself costs (this
floor) and what scd spends on top of it. It is a benchmark baseline, not a
product: one app, one provider, no spec, no error answers beyond a status.

Per request, on a raw ASGI app (no framework): read the body, check
``X-Hub-Signature-256`` (HMAC-SHA256 over the raw bytes, constant time), parse
the JSON and compare ``ref``, then hand the delivery to one writer thread and
answer 202 once its row is committed. The writer takes every delivery waiting
and inserts them with one statement (one SQLite transaction; a redelivered id
is skipped), in a SQLite file in WAL mode with ``synchronous = NORMAL`` and the
WAL copied back in the background by scd's own ``Checkpointer``, as scd's store
does. Configured from the environment: ``FLOOR_DB`` (the SQLite file),
``FLOOR_SECRET`` and ``FLOOR_REF``.

Run: ``uvicorn --app-dir bench floor_app:app``.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import sqlite3
import threading
from pathlib import Path
from queue import Empty, SimpleQueue
from typing import Any

from pydantic_core import from_json
from scd_core.stores.checkpointer import Checkpointer

__all__ = ["app"]

_Delivery = tuple[str, str, asyncio.AbstractEventLoop, "asyncio.Future[None]"]
_ACCEPTED = b'{"run_id":"%s","status":"queued"}'


class _Writer:
    """One thread inserting waiting deliveries in batches, one statement each."""

    def __init__(self, path: Path) -> None:
        self.lock = threading.Lock()
        self.db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
        self.db.execute("PRAGMA journal_mode = WAL")
        self.db.execute("PRAGMA synchronous = NORMAL")
        self.db.execute("PRAGMA wal_autocheckpoint = 8000")  # scd's safety net
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS deliveries (id TEXT PRIMARY KEY, payload TEXT NOT NULL)"
        )
        self.queue: SimpleQueue[_Delivery] = SimpleQueue()
        self.checkpointer = Checkpointer(path, lock=self.lock)
        self.checkpointer.start()
        threading.Thread(target=self._serve, name="floor-writer", daemon=True).start()

    def _serve(self) -> None:
        while True:
            batch = [self.queue.get()]
            while True:
                try:
                    batch.append(self.queue.get_nowait())
                except Empty:
                    break
            marks = ", ".join(["(?, ?)"] * len(batch))
            values = [value for delivery, payload, _, _ in batch for value in (delivery, payload)]
            statement = f"INSERT INTO deliveries VALUES {marks} ON CONFLICT DO NOTHING"
            with self.lock:
                self.db.execute(statement, values)
            for _, _, loop, future in batch:
                loop.call_soon_threadsafe(future.set_result, None)


class _Floor:
    def __init__(self) -> None:
        self.secret = os.environ.get("FLOOR_SECRET", "").encode()
        self.ref = os.environ.get("FLOOR_REF", "refs/heads/main")
        self.writer: _Writer | None = None

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await receive()  # lifespan.startup
            self.writer = _Writer(Path(os.environ.get("FLOOR_DB", "floor.db")))
            await send({"type": "lifespan.startup.complete"})
            await receive()  # lifespan.shutdown
            await send({"type": "lifespan.shutdown.complete"})
            return
        status, answer = await self._answer(scope, receive)
        headers = [(b"content-type", b"application/json")]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": answer})

    async def _answer(self, scope: dict[str, Any], receive: Any) -> tuple[int, bytes]:
        parts = []
        while True:
            message = await receive()
            parts.append(message.get("body", b""))
            if not message.get("more_body", False):
                break
        body = b"".join(parts)
        headers = dict(scope["headers"])
        expected = b"sha256=" + hmac.digest(self.secret, body, "sha256").hex().encode()
        if not hmac.compare_digest(expected, headers.get(b"x-hub-signature-256", b"")):
            return 401, b"{}"
        if from_json(body).get("ref") != self.ref:
            return 200, b'{"ignored":"ref"}'
        delivery = headers.get(b"x-github-delivery", b"").decode()
        assert self.writer is not None
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self.writer.queue.put((delivery, body.decode(), loop, future))
        await future
        return 202, _ACCEPTED % os.urandom(16).hex().encode()


app = _Floor()
