"""An in-process double of SLS at the ``LogClient`` method boundary, for the SLS sink's tests.

It takes the SDK's own request objects (``PutLogsRequest`` of ``LogItem``) and
answers with its own ``QueriedLog``, and refuses what SLS refuses, with SLS's
error codes as ``LogException``: an unknown logstore (``LogStoreNotExist``); a
PutLogs of more than 4,096 entries or 5 MB (``InvalidLogSize``/``PostBodyTooLarge``)
or with a non-string value; a GetLogs page above 100 (``InvalidParameter``); a
query on a logstore without an index (``IndexConfigNotExist``), on a field the
index lacks, or a range on a field not indexed as ``long`` (``ParameterInvalid``).

Query language: the subset the sink uses — ``key: "value"`` or ``key: word``
terms, ``key in [low high)`` ranges, ``and``, ``or`` and parentheses.

``indexing_delay`` (seconds) is how long an entry stays unsearchable after
PutLogs, as SLS's index lags its writes; ``puts`` and ``queries`` count calls.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

__all__ = ["GetLogsAnswer", "SlsDouble"]

_TOKEN = re.compile(r'\s*(\(|\)|\[|\]|"[^"]*"|[^\s()\[\]]+)')
_Match = Callable[[dict[str, str]], bool]


@dataclass(frozen=True)
class GetLogsAnswer:
    """The part of ``GetLogsResponse`` the sink reads."""

    logs: list[Any]

    def get_logs(self) -> list[Any]:
        return self.logs

    def is_completed(self) -> bool:
        return True


@dataclass
class _Store:
    entries: list[tuple[float, int, dict[str, str]]] = field(default_factory=list)
    index: dict[str, str] | None = None
    ttl: int = 30


class SlsDouble:
    """``LogClient``'s ``put_logs``/``get_log``/index calls on logstores kept in memory."""

    def __init__(self, indexing_delay: float = 0.0) -> None:
        self.indexing_delay = indexing_delay
        self.puts = 0
        self.queries = 0
        self._lock = threading.Lock()
        self._stores: dict[tuple[str, str], _Store] = {}

    @staticmethod
    def _fail(code: str, message: str) -> Exception:
        from aliyun.log import LogException

        failure: Exception = LogException(code, message, "double-request", 400)
        return failure

    def _store(self, project: str, logstore: str) -> _Store:
        store = self._stores.get((project, logstore))
        if store is None:
            raise self._fail("LogStoreNotExist", f"logstore {logstore} does not exist")
        return store

    def create_logstore(self, project: str, logstore: str, ttl: int = 30, **_: Any) -> None:
        with self._lock:
            self._stores.setdefault((project, logstore), _Store(ttl=ttl))

    def create_index(self, project: str, logstore: str, config: Any) -> None:
        with self._lock:
            store = self._store(project, logstore)
            if store.index is not None:
                raise self._fail("IndexAlreadyExist", "the index exists")
            store.index = {k: c.index_type for k, c in config.key_config_list.items()}

    def update_index(self, project: str, logstore: str, config: Any) -> None:
        with self._lock:
            store = self._store(project, logstore)
            store.index = {k: c.index_type for k, c in config.key_config_list.items()}

    def update_logstore(
        self, project: str, logstore: str, ttl: int | None = None, **_: Any
    ) -> None:
        with self._lock:
            if ttl is not None:
                self._store(project, logstore).ttl = ttl

    def index_of(self, project: str, logstore: str) -> tuple[dict[str, str] | None, int]:
        """The indexed fields (name → type) and the retention in days, for tests."""
        with self._lock:
            store = self._store(project, logstore)
            return (dict(store.index) if store.index else None), store.ttl

    def put_logs(self, request: Any) -> None:
        items = request.get_log_items()
        if len(items) > 4096:
            raise self._fail("InvalidLogSize", "more than 4096 logs in one request")
        size = 0
        for item in items:
            for key, value in item.get_contents():
                if not isinstance(key, str) or not isinstance(value, str):
                    raise self._fail("ParameterInvalid", "log keys and values must be strings")
                size += len(key.encode()) + len(value.encode())
        if size > 5 << 20:
            raise self._fail("PostBodyTooLarge", "a PutLogs body is at most 5 MB")
        visible = time.monotonic() + self.indexing_delay
        with self._lock:
            store = self._store(request.get_project(), request.get_logstore())
            self.puts += 1
            for item in items:
                store.entries.append((visible, int(item.get_time()), dict(item.get_contents())))

    def get_log(
        self,
        project: str,
        logstore: str,
        from_time: int,
        to_time: int,
        topic: str | None = None,
        query: str | None = None,
        reverse: bool = False,
        offset: int = 0,
        size: int = 100,
        **_: Any,
    ) -> GetLogsAnswer:
        from aliyun.log.queriedlog import QueriedLog

        if size > 100:
            raise self._fail("InvalidParameter", "line must be at most 100")
        with self._lock:
            store = self._store(project, logstore)
            self.queries += 1
            if store.index is None:
                raise self._fail("IndexConfigNotExist", "logstore without index config")
            match = _parse(query or "*", store.index, self._fail)
            now = time.monotonic()
            hits = [
                (stamp, entry)
                for visible, stamp, entry in store.entries
                if visible <= now and from_time <= stamp < to_time and match(entry)
            ]
        if reverse:
            hits.reverse()
        page = hits[offset : offset + size]
        return GetLogsAnswer([QueriedLog(stamp, "", dict(entry)) for stamp, entry in page])


def _parse(query: str, index: dict[str, str], fail: Callable[[str, str], Exception]) -> _Match:
    """Compile the query subset named in the module docstring into a predicate."""
    tokens = [t for t in _TOKEN.findall(query) if t]
    pos = 0

    def take() -> str:
        nonlocal pos
        if pos >= len(tokens):
            raise fail("ParameterInvalid", f"query ends early: {query}")
        pos += 1
        token: str = tokens[pos - 1]
        return token

    def field_name(name: str, kind: str | None = None) -> str:
        if name not in index or (kind is not None and index[name] != kind):
            raise fail("ParameterInvalid", f"field {name} is not indexed as {kind or 'a field'}")
        return name

    def term() -> _Match:
        word = take()
        if word == "(":
            inner = chain("or")
            if take() != ")":
                raise fail("ParameterInvalid", f"unbalanced parentheses: {query}")
            return inner
        if word == "*":
            return lambda e: True
        if word.endswith(":"):
            name, value = field_name(word[:-1]), take().strip('"')
            return lambda e: e.get(name) == value
        if pos < len(tokens) and tokens[pos] == "in":
            take()
            name = field_name(word, "long")
            if take() != "[":
                raise fail("ParameterInvalid", f"a range starts with [: {query}")
            low, high, end = int(take()), int(take()), take()
            inclusive = end == "]"
            return lambda e: (
                name in e
                and low <= int(e[name])
                and (int(e[name]) <= high if inclusive else int(e[name]) < high)
            )
        raise fail("ParameterInvalid", f"cannot parse {word!r} in {query}")

    def chain(word: str) -> _Match:
        parts = [chain("and") if word == "or" else term()]
        while pos < len(tokens) and tokens[pos] == word:
            take()
            parts.append(chain("and") if word == "or" else term())
        if word == "or":
            return lambda e: any(p(e) for p in parts)
        return lambda e: all(p(e) for p in parts)

    match = chain("or")
    if pos != len(tokens):
        raise fail("ParameterInvalid", f"unexpected {tokens[pos]!r} in {query}")
    return match
