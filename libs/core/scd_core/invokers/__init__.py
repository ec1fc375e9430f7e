"""Invoker backends and ``open_invoker``, which picks one from a URL.

URLs: ``memory://``; ``local:///PATH?endpoint=URL&endpoint=URL&max_retries=N&...``,
a ``LocalInvoker`` on the SQLite file PATH: everything after ``local:///`` up to
``?``, as for ``sqlite:///`` run stores, so ``local:////var/scd/queue.db`` is
absolute and ``f"local:///{data_dir}/queue.db"`` works for both. Its other options
are ``max_event_age_s``, ``lease_s``, ``retry_backoff_s`` and ``request_timeout_s``;
with at least one ``endpoint`` it is started, without any it only enqueues (as a
trigger does).

``fc://ACCOUNT.REGION/FUNCTION?qualifier=LATEST&endpoint=URL`` is an ``FcInvoker``
on FC 3.0's async invocation of the worker function FUNCTION in that account and
region; ``endpoint`` replaces FC's (a loopback double), ``endpoint.REGION=URL``
replaces it for the jobs routed to REGION (``Job.region``), ``stop_grace_s``
(20) is how long a cancelled running job has before StopAsyncTask, ``timeout_s`` and
``attempts`` tune its requests. ``scd_core.invokers.fcdouble.FcDouble`` is FC's
async API on loopback for tests (signature checks, delivery, destinations).

``redis://HOST:PORT/DB?stream=NAME`` (or ``rediss://``) is a ``RedisInvoker``: jobs on
the Redis Stream NAME (default ``scd:jobs``), run by ``scd worker --redis URL``
processes on any number of machines.
"""

from __future__ import annotations

import re
from pathlib import Path
from urllib.parse import parse_qs

from scd_core.errors import ConfigError
from scd_core.invoker import Invoker

__all__ = ["ACCEPTED_URLS", "open_invoker"]

ACCEPTED_URLS = (
    "memory://",
    "local:///PATH?endpoint=URL",
    "fc://ACCOUNT.REGION/FUNCTION?qualifier=LATEST&endpoint=URL",
    "redis://HOST:PORT/DB?stream=NAME",
)
_FC_PLACE = re.compile(r"(\d+)\.([a-z0-9-]+)")
_FC_REGION = re.compile(r"[a-z]{2}-[a-z0-9-]+")
# local:// options holding seconds, with LocalInvoker's defaults
_LOCAL_SECONDS = {
    "max_event_age_s": 86400.0,
    "lease_s": 30.0,
    "retry_backoff_s": 1.0,
    "request_timeout_s": 86400.0,
}


def open_invoker(url: str) -> Invoker:
    """Open the invoker named by ``url``; ``ConfigError`` for an unknown or bad URL."""
    scheme, sep, rest = url.partition("://")
    if sep and scheme == "memory":
        if rest:
            raise ConfigError(f"invoker URL {url!r}: memory:// takes no path")
        from scd_core.invokers.memory import MemoryInvoker

        return MemoryInvoker()
    if sep and scheme == "local":
        return _open_local(url, rest)
    if sep and scheme == "fc":
        return _open_fc(url, rest)
    if sep and scheme in ("redis", "rediss"):
        from scd_core.invokers.redisstream import RedisInvoker

        return RedisInvoker(url)
    raise ConfigError(f"unknown invoker URL {url!r} (accepted: {', '.join(ACCEPTED_URLS)})")


def _open_local(url: str, rest: str) -> Invoker:
    from scd_core.invokers.local import LocalInvoker

    path, _, query = rest.partition("?")
    if not path.startswith("/") or path == "/":
        raise ConfigError(f"invoker URL {url!r}: expected local:///PATH")
    path = path[1:]
    try:
        options = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise ConfigError(f"invoker URL {url!r}: bad query") from exc
    endpoints = options.pop("endpoint", [])
    unknown = set(options) - {"max_retries", *_LOCAL_SECONDS}
    if unknown or any(len(values) != 1 for values in options.values()):
        raise ConfigError(f"invoker URL {url!r}: unknown or repeated option")
    try:
        f = {
            key: float(options[key][0]) if key in options else default
            for key, default in _LOCAL_SECONDS.items()
        }
        retries = int(options.get("max_retries", ["0"])[0])
    except ValueError as exc:
        raise ConfigError(f"invoker URL {url!r}: options must be numbers") from exc
    invoker = LocalInvoker(
        Path(path),
        endpoints,
        max_retries=retries,
        max_event_age_s=f["max_event_age_s"],
        lease_s=f["lease_s"],
        retry_backoff_s=f["retry_backoff_s"],
        request_timeout_s=f["request_timeout_s"],
    )
    if endpoints:
        invoker.start()
    return invoker


def _open_fc(url: str, rest: str) -> Invoker:
    from scd_core.invokers.fc import DEFAULT_STOP_GRACE_S, FcInvoker

    where, _, query = rest.partition("?")
    place, _, function = where.partition("/")
    match = _FC_PLACE.fullmatch(place)
    if match is None or not function:
        raise ConfigError(f"invoker URL {url!r}: expected fc://ACCOUNT-ID.REGION/FUNCTION")
    try:
        options = parse_qs(query, keep_blank_values=True, strict_parsing=bool(query))
    except ValueError as exc:
        raise ConfigError(f"invoker URL {url!r}: bad query") from exc
    known = {"qualifier", "endpoint", "timeout_s", "attempts", "stop_grace_s"}
    endpoints = {
        key.removeprefix("endpoint."): values[0]
        for key, values in options.items()
        if key.startswith("endpoint.") and _FC_REGION.fullmatch(key.removeprefix("endpoint."))
    }
    unknown = set(options) - known - {f"endpoint.{region}" for region in endpoints}
    if unknown or any(len(values) != 1 for values in options.values()):
        raise ConfigError(f"invoker URL {url!r}: unknown or repeated option")
    one = {key: values[0] for key, values in options.items()}
    try:
        timeout_s = float(one.get("timeout_s", "3"))
        stop_grace_s = float(one.get("stop_grace_s", str(DEFAULT_STOP_GRACE_S)))
        attempts = int(one.get("attempts", "3"))
    except ValueError as exc:
        raise ConfigError(
            f"invoker URL {url!r}: timeout_s, attempts, stop_grace_s are numbers"
        ) from exc
    return FcInvoker(
        match.group(1),
        match.group(2),
        function,
        qualifier=one.get("qualifier") or "LATEST",
        endpoint=one.get("endpoint") or None,
        timeout_s=timeout_s,
        attempts=attempts,
        endpoints=endpoints,
        stop_grace_s=stop_grace_s,
    )
