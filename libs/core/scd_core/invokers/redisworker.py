"""``RedisConsumer``: the reading side of ``RedisInvoker``'s stream, for ``scd worker``.

Contract. ``concurrency`` threads each take one entry at a time from the consumer
group ``workers`` of the stream (``XREADGROUP``) and hand it to ``handle(job,
delivery)``, which runs the job and returns whether the entry is done: True
acknowledges and deletes it (``XACK``, ``XDEL``), False leaves it pending so that
it is delivered again later. While a handler runs, a keeper thread resets the
entry's idle time every third of ``lease_s`` (``XCLAIM ... JUSTID`` if this
consumer still owns it), so only the entries of a consumer that died (its process
killed, its machine gone) stay idle longer than ``lease_s``; any consumer then
takes them over with ``XAUTOCLAIM`` and handles them with ``delivery.count`` > 1.
An entry delivered more than ``max_deliveries`` times is moved to the dead-letter
stream (``S:dead``, with the reason) and ``on_dead(job_id, payload, count)`` is
called instead of the handler. An entry marked stopped (``RedisInvoker.stop``)
reaches the handler with ``delivery.stopped`` set; the handler must not run it.
A message on the control channel calls ``on_control(job_id)`` (cancel what runs it).

Delivery is at least once; the handler's claim in the run store (a lease per
task) keeps execution at most once at a time. ``run()`` blocks until ``stop()``
(from any thread or a signal handler), then waits for running handlers; a
handler's exception is logged and its entry left pending. Redis being away is
waited out (retried every second), never fatal.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from scd_core.invokers.redisstream import GROUP, StreamKeys, connect, ensure_group
from scd_core.models import Job

if TYPE_CHECKING:
    from redis import Redis

__all__ = ["Delivery", "RedisConsumer"]

log = logging.getLogger(__name__)

# Reset the idle time of an entry only while this consumer still owns it: an entry
# taken over by another consumer must not be taken back.
_KEEP = """
local p = redis.call('XPENDING', KEYS[1], ARGV[1], ARGV[3], ARGV[3], 1)
if p[1] and p[1][2] == ARGV[2] then
  redis.call('XCLAIM', KEYS[1], ARGV[1], ARGV[2], 0, ARGV[3], 'JUSTID')
  return 1
end
return 0
"""


@dataclass(frozen=True)
class Delivery:
    """One delivery of an entry: its stream id, how many times it was delivered
    (1 the first time; more when taken over from a consumer that died) and whether
    the job was stopped before it started."""

    entry_id: str
    count: int
    stopped: bool = False


Handler = Callable[[Job, Delivery], bool]


class RedisConsumer:
    """Consumes the stream of ``base_url``/``stream``; see the module docstring."""

    def __init__(
        self,
        base_url: str,
        stream: str,
        handle: Handler,
        *,
        concurrency: int = 1,
        lease_s: float = 60.0,
        max_deliveries: int = 5,
        on_dead: Callable[[str, str, int], None] | None = None,
        on_control: Callable[[str], None] | None = None,
        name: str | None = None,
        block_s: float = 1.0,
    ) -> None:
        if concurrency < 1 or max_deliveries < 1 or lease_s <= 0:
            raise ValueError("concurrency and max_deliveries must be >= 1, lease_s > 0")
        self.keys = StreamKeys(stream)
        self.name = name or f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"
        self._client: Redis = connect(base_url, socket_timeout=block_s + 10)
        self._keep = self._client.register_script(_KEEP)
        self._handle = handle
        self._concurrency = concurrency
        self._lease_ms = int(lease_s * 1000)
        self._max = max_deliveries
        self._on_dead = on_dead
        self._on_control = on_control
        self._block_ms = int(block_s * 1000)
        self._stopping = threading.Event()
        self._lock = threading.Lock()
        self._inflight: set[str] = set()
        self._next_claim = 0.0

    def stop(self) -> None:
        """Ask ``run()`` to return once the running handlers end; idempotent."""
        self._stopping.set()

    @property
    def inflight(self) -> int:
        """How many entries this consumer is handling now."""
        with self._lock:
            return len(self._inflight)

    def run(self) -> None:
        """Consume until ``stop()``; see the module docstring."""
        try:
            ensure_group(self._client, self.keys.stream)
        except Exception as exc:  # Redis away: the loops wait for it
            log.warning("consumer %s: cannot create the group yet (%s)", self.name, exc)
        threads = [
            threading.Thread(target=self._loop, name=f"scd-consumer-{i}", daemon=True)
            for i in range(self._concurrency)
        ]
        helpers = [
            threading.Thread(target=self._keeper, name="scd-consumer-keeper", daemon=True),
            threading.Thread(target=self._control, name="scd-consumer-control", daemon=True),
        ]
        for thread in (*threads, *helpers):
            thread.start()
        for thread in threads:
            thread.join()
        for thread in helpers:
            thread.join(5)
        self._client.close()

    # -- taking entries ----------------------------------------------------------------

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                entry = self._take()
            except Exception as exc:  # Redis away, restarting: wait it out
                log.warning("consumer %s: cannot read the stream (%s)", self.name, exc)
                self._stopping.wait(1.0)
                continue
            if entry is not None:
                self._dispatch(*entry)

    def _take(self) -> tuple[str, dict[str, str], int] | None:
        claimed = self._autoclaim()
        if claimed is not None:
            return claimed
        answer: Any = self._client.xreadgroup(
            GROUP, self.name, {self.keys.stream: ">"}, count=1, block=self._block_ms
        )
        if not answer:
            return None
        entries = answer[0][1]
        if not entries:
            return None
        entry_id, fields = entries[0]
        return entry_id, fields, 1

    def _autoclaim(self) -> tuple[str, dict[str, str], int] | None:
        """An entry idle past the lease (its consumer died), at most every half second."""
        with self._lock:
            now = time.monotonic()
            if now < self._next_claim:
                return None
            self._next_claim = now + 0.5
        try:
            answer: Any = self._client.xautoclaim(
                self.keys.stream, GROUP, self.name, self._lease_ms, "0-0", count=1
            )
        except Exception as exc:
            if "NOGROUP" not in str(exc):
                raise
            ensure_group(self._client, self.keys.stream)
            return None
        claimed = answer[1]
        if not claimed or claimed[0] is None:
            return None
        entry_id, fields = claimed[0]
        info = self._client.xpending_range(self.keys.stream, GROUP, entry_id, entry_id, 1)
        count = int(info[0]["times_delivered"]) if info else 2
        log.warning("consumer %s took over entry %s (delivery %d)", self.name, entry_id, count)
        return entry_id, fields, count

    def _dispatch(self, entry_id: str, fields: dict[str, str], count: int) -> None:
        job_id, payload = fields.get("id", "?"), fields.get("job", "")
        if count > self._max:
            self._bury(entry_id, job_id, payload, count)
            return
        try:
            job = Job.model_validate_json(payload)
        except ValidationError:
            log.error("entry %s holds no valid job; moved to %s", entry_id, self.keys.dead)
            self._bury(entry_id, job_id, payload, count, "not a job")
            return
        stopped = bool(self._client.exists(self.keys.stop(job.id)))
        with self._lock:
            self._inflight.add(entry_id)
        try:
            done = self._handle(job, Delivery(entry_id, count, stopped))
        except Exception:
            log.exception("job %s: the handler raised; left for another delivery", job.id)
            done = False
        finally:
            with self._lock:
                self._inflight.discard(entry_id)
        if done:
            self._ack(entry_id)

    def _ack(self, entry_id: str) -> None:
        pipe = self._client.pipeline(transaction=True)
        pipe.xack(self.keys.stream, GROUP, entry_id)
        pipe.xdel(self.keys.stream, entry_id)
        pipe.execute()

    def _bury(
        self, entry_id: str, job_id: str, payload: str, count: int, reason: str | None = None
    ) -> None:
        why = reason or f"delivered {count} times without finishing"
        fields = {"id": job_id, "job": payload, "reason": why, "deliveries": str(count)}
        self._client.xadd(self.keys.dead, fields)  # type: ignore[arg-type]
        self._ack(entry_id)
        log.error("job %s moved to %s: %s", job_id, self.keys.dead, why)
        if self._on_dead is not None and reason is None:
            try:
                self._on_dead(job_id, payload, count)
            except Exception:
                log.exception("the on_dead callback raised for job %s", job_id)

    # -- helpers -----------------------------------------------------------------------

    def _keeper(self) -> None:
        """Reset the idle time of the entries in flight every third of the lease."""
        interval = self._lease_ms / 3000
        while not self._stopping.wait(interval) or self.inflight:
            with self._lock:
                entries = list(self._inflight)
            for entry_id in entries:
                try:
                    self._keep([self.keys.stream], [GROUP, self.name, entry_id])
                except Exception as exc:
                    log.warning("consumer %s: cannot keep entry %s (%s)", self.name, entry_id, exc)
            if self._stopping.is_set():
                time.sleep(min(interval, 1.0))

    def _control(self) -> None:
        """Hand every job id published on the control channel to ``on_control``."""
        while not self._stopping.is_set():
            pubsub: Any = None
            try:
                pubsub = self._client.pubsub(ignore_subscribe_messages=True)
                pubsub.subscribe(self.keys.control)
                while not self._stopping.is_set():
                    message = pubsub.get_message(timeout=0.5)
                    if message is not None and self._on_control is not None:
                        self._on_control(str(message["data"]))
            except Exception as exc:
                log.warning("consumer %s: control channel lost (%s)", self.name, exc)
                self._stopping.wait(1.0)
            finally:
                if pubsub is not None:
                    pubsub.close()
