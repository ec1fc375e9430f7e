"""``RedisInvoker``: jobs on a Redis Stream, consumed by ``scd worker`` on any machine.

Layout, for a stream named S (``?stream=S``, default ``scd:jobs``): the stream S
holds one entry per job (fields ``id`` and ``job``, the job's JSON); the consumer
group ``workers`` reads it (``scd_core.invokers.redisworker``); ``S:seen:<job id>``
marks a job id dispatched (kept ``dedup_ttl_s``, a week by default, so a retried
webhook is a no-op even after its job finished); ``S:stop:<job id>`` marks a job
stopped (a worker that reads it never starts it); the channel ``S:control`` carries
the ids of jobs to cancel to every worker; the stream ``S:dead`` holds jobs given
up after too many deliveries. The server should run with AOF on (``appendonly
yes``) so that queued jobs survive its restart.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit

from scd_core.errors import BackendError, ConfigError
from scd_core.models import Job
from scd_core.stores.rows import dump_model

if TYPE_CHECKING:
    from redis import Redis

__all__ = ["GROUP", "RedisInvoker", "StreamKeys", "connect", "ensure_group", "parse_redis_url"]

log = logging.getLogger(__name__)

GROUP = "workers"
_DEDUP_TTL_S = 7 * 86400
_STOP_TTL_S = 7 * 86400
# Set the dedup mark and append the job in one step: a job is queued exactly when its
# id was new, and a failure between the two cannot lose it or mark it without queuing.
_DISPATCH = """
if redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then
  return redis.call('XADD', KEYS[2], '*', 'id', ARGV[2], 'job', ARGV[3])
end
return false
"""


@dataclass(frozen=True)
class StreamKeys:
    """The Redis keys of one stream name (see the module docstring)."""

    stream: str

    @property
    def control(self) -> str:
        return f"{self.stream}:control"

    @property
    def dead(self) -> str:
        return f"{self.stream}:dead"

    def seen(self, job_id: str) -> str:
        return f"{self.stream}:seen:{job_id}"

    def stop(self, job_id: str) -> str:
        return f"{self.stream}:stop:{job_id}"


def parse_redis_url(url: str) -> tuple[str, str]:
    """``redis://host:port/db?stream=S`` → (the URL redis-py takes, the stream name).

    ``ConfigError`` for another scheme or an unknown option; a password in the URL
    (``redis://:secret@host``) is passed on to redis-py and never echoed in errors.
    """
    parts = urlsplit(url)
    if parts.scheme not in ("redis", "rediss") or not parts.hostname:
        raise ConfigError("Redis URL: expected redis://HOST:PORT/DB[?stream=NAME]")
    options = parse_qs(parts.query, keep_blank_values=True)
    if set(options) - {"stream"} or any(len(v) != 1 or not v[0] for v in options.values()):
        raise ConfigError("Redis URL: the only option is stream=NAME (once, not empty)")
    db = parts.path.strip("/") or "0"
    if not db.isdigit():
        raise ConfigError("Redis URL: the path is a database number (redis://HOST:PORT/0)")
    try:
        parts.port  # noqa: B018 - raises ValueError for a bad port
    except ValueError as exc:
        raise ConfigError("Redis URL: bad port") from exc
    base = f"{parts.scheme}://{parts.netloc}/{db}"
    return base, options.get("stream", ["scd:jobs"])[0]


def connect(base_url: str, **options: Any) -> Redis:
    """A redis-py client (imported here: only a Redis configuration pays for it)."""
    try:
        import redis
    except ImportError as exc:  # the optional dependency scd-core[redis]
        raise ConfigError(
            "the redis invoker needs redis-py: pip install 'scd-core[redis]'"
        ) from exc
    return redis.Redis.from_url(base_url, decode_responses=True, **options)


def ensure_group(client: Redis, stream: str) -> None:
    """Create the stream and its consumer group if missing (from the first entry, so
    jobs added before the group existed are read too); idempotent."""
    from redis.exceptions import ResponseError

    try:
        client.xgroup_create(stream, GROUP, id="0", mkstream=True)
    except ResponseError as exc:
        if "BUSYGROUP" not in str(exc):
            raise


class RedisInvoker:
    """An ``Invoker`` on a Redis Stream; the workers are ``scd worker`` processes.

    ``dispatch`` appends the job unless its id was dispatched before (atomically, in
    a script); it never waits for a worker. ``stop(job_id)`` marks the job stopped
    (a worker that reads it acknowledges it without running it), publishes its id on
    the control channel (a worker running it cancels it within a second), then calls
    ``on_stop(job_id)``, which ``scd serve`` uses to record the store's cancel
    request too. Thread-safe (redis-py's pool); ``close()`` is idempotent and after
    it ``dispatch`` raises ``BackendError``. A Redis error raises ``BackendError``
    with the cause chained; the URL's password never appears in it.
    """

    def __init__(
        self,
        url: str,
        *,
        on_stop: Callable[[str], None] | None = None,
        dedup_ttl_s: int = _DEDUP_TTL_S,
    ) -> None:
        base, stream = parse_redis_url(url)
        self.keys = StreamKeys(stream)
        self._client = connect(base, socket_timeout=10, socket_connect_timeout=5)
        self._dispatch = self._client.register_script(_DISPATCH)
        self._dedup_ttl_s = dedup_ttl_s
        self._on_stop = on_stop
        self._closed = False
        self._group_ready = False
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"RedisInvoker(stream={self.keys.stream!r})"

    def dispatch(self, job: Job) -> None:
        """Append ``job`` to the stream unless ``job.id`` was dispatched before."""
        self.dispatch_many([job])

    def dispatch_many(self, jobs: Sequence[Job]) -> None:
        """``dispatch`` of each job, in one round trip (a pipeline of scripts)."""
        if self._closed:
            raise BackendError("the invoker is closed")
        with _translated("dispatch"):
            self._ensure_group()
            pipe = self._client.pipeline(transaction=False)
            for job in jobs:
                keys = [self.keys.seen(job.id), self.keys.stream]
                self._dispatch(keys, [self._dedup_ttl_s, job.id, dump_model(job)], client=pipe)
            pipe.execute()

    def stop(self, job_id: str) -> None:
        """Queued: it never starts. Running: its worker cancels it (see the class)."""
        with _translated("stop"):
            self._client.set(self.keys.stop(job_id), "1", ex=_STOP_TTL_S)
            self._client.publish(self.keys.control, job_id)
        if self._on_stop is not None:
            try:
                self._on_stop(job_id)
            except Exception:
                log.exception("the on_stop callback raised for job %s", job_id)

    def close(self) -> None:
        """Close the connections; idempotent. Queued jobs stay in Redis."""
        if not self._closed:
            self._closed = True
            self._client.close()

    # -- beyond the Protocol -----------------------------------------------------------

    def counts(self) -> dict[str, int]:
        """Entries in the stream (queued or in flight), pending (in flight) and dead."""
        with _translated("count"):
            self._ensure_group()
            pending = self._client.xpending(self.keys.stream, GROUP)
            return {
                "stream": int(self._client.xlen(self.keys.stream)),
                "pending": int(pending["pending"]),
                "dead": int(self._client.xlen(self.keys.dead)),
            }

    def _ensure_group(self) -> None:
        with self._lock:
            if not self._group_ready:
                ensure_group(self._client, self.keys.stream)
                self._group_ready = True


@contextlib.contextmanager
def _translated(what: str) -> Iterator[None]:
    """Turn redis-py's errors into ``BackendError`` (chained, without the URL)."""
    from redis.exceptions import RedisError

    try:
        yield
    except RedisError as exc:
        raise BackendError(f"redis invoker: {what} failed: {type(exc).__name__}") from exc
