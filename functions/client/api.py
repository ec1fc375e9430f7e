"""``ApiClient``: the scd trigger's ``/api/v1`` over HTTP, with typed methods.

Contract: every method sends ``Authorization: Bearer <token>`` (when a token is
given) and returns the decoded JSON answer; an error answer raises the
``scd_core.errors`` class of its status, a server that cannot be reached raises
:class:`~functions.client.errors.Unreachable` (see ``functions.client.errors``).
Run ids, app names and step keys are sent as one escaped path segment each, so
a ``../`` in them never changes the route. The token is never part of an
exception, a repr or a message. One client is one ``httpx.Client``: close it,
or use it as a context manager. Not thread-safe beyond what httpx allows.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import httpx
from scd_core.errors import AuthError, BadRequest

from functions.client.config import DEFAULT_SERVER
from functions.client.errors import error_for_answer, error_for_transport, public_url
from functions.client.sse import parse_events

__all__ = ["DEFAULT_SERVER", "ApiClient", "LogEnd", "LogLine", "LogPage"]

_TIMEOUT = httpx.Timeout(30.0, connect=10.0)
# Keepalives come every 15 s; a stream silent for much longer than that is dead.
_STREAM_TIMEOUT = httpx.Timeout(10.0, read=45.0)
_RETRY_DELAYS = (0.1, 0.25, 0.5, 1.0, 2.0, 2.0, 2.0, 2.0, 2.0, 2.0)

_PREFIX = re.compile(r"[0-9a-f]{4,31}")
_PREFIX_PAGE, _PREFIX_PAGES = 200, 5

Json = dict[str, Any]


@dataclass(frozen=True)
class LogPage:
    """One plain-text read of a step's log: its text, where to read next, and whether it ended."""

    text: str
    next_offset: int | None
    closed: bool


@dataclass(frozen=True)
class LogLine:
    """One line of a followed log: its timestamp, its text, and the offset after it."""

    t: str
    text: str
    offset: int | None


@dataclass(frozen=True)
class LogEnd:
    """The end of a followed log: the step's final status."""

    status: str


class ApiClient:
    """A client of one scd server (``server`` is its base URL)."""

    def __init__(
        self,
        server: str = DEFAULT_SERVER,
        token: str | None = None,
        *,
        transport: httpx.BaseTransport | None = None,
        retry_delays: tuple[float, ...] = _RETRY_DELAYS,
    ) -> None:
        self.server = server.rstrip("/")
        self.retry_delays = retry_delays
        headers = {"user-agent": "scd-cli", "accept": "application/json"}
        if token:
            headers["authorization"] = f"Bearer {token}"
        self._http = httpx.Client(
            base_url=self.server, headers=headers, timeout=_TIMEOUT, transport=transport
        )

    def __repr__(self) -> str:
        return f"ApiClient({public_url(self.server)!r})"

    def __enter__(self) -> ApiClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()

    # -- runs -------------------------------------------------------------------------

    def list_runs(
        self,
        *,
        app: str | None = None,
        status: str | None = None,
        event: str | None = None,
        branch: str | None = None,
        limit: int | None = None,
        cursor: str | None = None,
    ) -> Json:
        """A page of runs, newest first: ``{"runs": [RunSummary], "next_cursor"}``."""
        query = {"app": app, "status": status, "event": event, "branch": branch}
        query.update({"limit": None if limit is None else str(limit), "cursor": cursor})
        return self._json("GET", "/api/v1/runs", params=_present(query))

    def resolve_run_id(self, run_id: str) -> str:
        """The full id of the one recent run whose id starts with ``run_id``.

        Only a short hex prefix (4 to 31 characters, as the ``scd runs`` table shows)
        is looked up, among the newest runs this token may list; anything else, a
        prefix matching no run, or a token that may not list runs gives ``run_id``
        back unchanged (the server then says what is wrong with it). A prefix
        matching several runs is ``BadRequest`` naming them.
        """
        if not _PREFIX.fullmatch(run_id):
            return run_id
        matches: list[str] = []
        cursor: str | None = None
        try:
            for _ in range(_PREFIX_PAGES):
                page = self.list_runs(limit=_PREFIX_PAGE, cursor=cursor)
                ids = [str(r.get("id")) for r in page.get("runs", []) if isinstance(r, dict)]
                matches += [i for i in ids if i.startswith(run_id)]
                cursor = page.get("next_cursor")
                if not cursor:
                    break
        except AuthError:
            return run_id
        if len(matches) > 1:
            shown = ", ".join(matches[:5])
            raise BadRequest(f"run id prefix {run_id!r} is ambiguous: {shown}")
        return matches[0] if matches else run_id

    def get_run(self, run_id: str) -> Json:
        """One run with its steps, in order (the set-up step first)."""
        return self._json("GET", f"/api/v1/runs/{_seg(run_id)}")

    def cancel(self, run_id: str) -> Json:
        """Ask for the run to stop: ``{"run_id", "status"}``; ``Conflict`` if it ended."""
        return self._json("POST", f"/api/v1/runs/{_seg(run_id)}/cancel")

    def approve(self, run_id: str) -> Json:
        """Let a fork's run that waits for approval run: ``{"run_id", "status"}``."""
        return self._json("POST", f"/api/v1/runs/{_seg(run_id)}/approve")

    def rerun(self, run_id: str) -> Json:
        """Start a new run of the same commit and event: ``{"run_id", "status", "rerun_of"}``."""
        return self._json("POST", f"/api/v1/runs/{_seg(run_id)}/rerun")

    def trigger(
        self,
        app: str,
        ref: str,
        *,
        commit: str | None = None,
        inputs: Mapping[str, str] | None = None,
    ) -> Json:
        """Start a manual run of ``app`` at ``ref``: ``{"run_id", "status"}``."""
        body: Json = {"ref": ref}
        if commit:
            body["commit"] = commit
        if inputs:
            body["inputs"] = dict(inputs)
        return self._json("POST", f"/api/v1/apps/{_seg(app)}/runs", json=body)

    # -- apps -------------------------------------------------------------------------

    def list_apps(self) -> list[Json]:
        """Every app the server knows (from scd.yaml and from the API)."""
        apps = self._json("GET", "/api/v1/apps").get("apps", [])
        return [a for a in apps if isinstance(a, dict)]

    def get_app(self, name: str) -> Json:
        """One app's view."""
        return self._json("GET", f"/api/v1/apps/{_seg(name)}")

    # -- logs -------------------------------------------------------------------------

    def read_log(
        self,
        run_id: str,
        step: str,
        *,
        offset: int = 0,
        limit: int | None = None,
        timestamps: bool = False,
        task: str | None = None,
    ) -> LogPage:
        """The stored log of a step (of task instance ``task``; None: ``default``) from
        byte ``offset`` (one page)."""
        params = {"offset": str(offset), "timestamps": "true" if timestamps else None}
        params["limit"] = None if limit is None else str(limit)
        answer = self._send(
            "GET", _log_path(run_id, step, task), params=_present(params), accept="text/plain"
        )
        raw_next = answer.headers.get("x-next-offset")
        next_offset = int(raw_next) if raw_next and raw_next.isdigit() else None
        closed = answer.headers.get("x-log-closed", "").lower() == "true"
        return LogPage(answer.text, next_offset, closed)

    def iter_log(
        self, run_id: str, step: str, *, timestamps: bool = False, task: str | None = None
    ) -> Iterator[str]:
        """The whole stored log of a step, page by page (stops at the current end)."""
        offset = 0
        while True:
            page = self.read_log(run_id, step, offset=offset, timestamps=timestamps, task=task)
            if page.text:
                yield page.text
            # A server without X-Next-Offset sends the whole log in one answer.
            if not page.text or page.next_offset is None or page.next_offset <= offset:
                return
            offset = page.next_offset

    def follow_log(
        self, run_id: str, step: str, *, offset: int = 0, task: str | None = None
    ) -> Iterator[LogLine | LogEnd]:
        """Follow a step's log live (server-sent events) until its final status.

        A dropped connection is resumed with ``Last-Event-ID`` (the byte offset
        after the last line received), so no line is lost or repeated; the first
        connection failing raises at once, later ones are retried with backoff.
        """
        path, resume, connected, failures = _log_path(run_id, step, task), offset, False, 0
        while True:
            headers = {"accept": "text/event-stream"}
            if resume:
                headers["last-event-id"] = str(resume)
            try:
                with self._http.stream(
                    "GET",
                    path,
                    params={"offset": str(resume)},
                    headers=headers,
                    timeout=_STREAM_TIMEOUT,
                ) as answer:
                    if answer.status_code >= 400:
                        answer.read()
                        raise error_for_answer(answer)
                    connected = True
                    for item in _log_items(answer.iter_lines()):
                        failures = 0
                        yield item
                        if isinstance(item, LogEnd):
                            return
                        if item.offset is not None:
                            resume = item.offset
            except (httpx.TransportError, httpx.StreamError) as exc:
                if not connected or failures >= len(self.retry_delays):
                    raise error_for_transport(exc, self.server, connected=connected) from exc
            else:
                if failures >= len(self.retry_delays):
                    raise error_for_transport(
                        httpx.RemoteProtocolError("the log stream kept ending early"),
                        self.server,
                        connected=True,
                    )
            time.sleep(self.retry_delays[min(failures, len(self.retry_delays) - 1)])
            failures += 1

    # -- plumbing ---------------------------------------------------------------------

    def _json(self, method: str, path: str, **options: Any) -> Json:
        answer = self._send(method, path, **options)
        try:
            body = answer.json()
        except ValueError as exc:
            raise error_for_transport(exc, self.server, connected=True) from exc
        return body if isinstance(body, dict) else {"items": body}

    def _send(
        self, method: str, path: str, *, accept: str | None = None, **options: Any
    ) -> httpx.Response:
        if accept:
            options["headers"] = {"accept": accept}
        try:
            answer = self._http.request(method, path, **options)
        except (httpx.TransportError, httpx.InvalidURL) as exc:
            raise error_for_transport(exc, self.server, connected=False) from exc
        if answer.status_code >= 400:
            raise error_for_answer(answer)
        return answer


def _seg(value: str) -> str:
    """``value`` as one path segment: every reserved character escaped, dots too."""
    escaped = quote(value, safe="")
    return escaped.replace(".", "%2E") if escaped.strip(".") == "" else escaped


def _log_path(run_id: str, step: str, task: str | None = None) -> str:
    if task is None or task == "default":
        return f"/api/v1/runs/{_seg(run_id)}/steps/{_seg(step)}/logs"
    return f"/api/v1/runs/{_seg(run_id)}/tasks/{_seg(task)}/steps/{_seg(step)}/logs"


def _present(query: Mapping[str, str | None]) -> dict[str, str]:
    return {k: v for k, v in query.items() if v is not None}


def _log_items(lines: Iterator[str]) -> Iterator[LogLine | LogEnd]:
    for event in parse_events(lines):
        try:
            data = json.loads(event.data) if event.data else {}
        except ValueError:
            data = {"text": event.data}
        if not isinstance(data, dict):
            data = {"text": str(data)}
        if event.event == "end":
            yield LogEnd(str(data.get("status", "unknown")))
            return
        if event.event == "line":
            offset = int(event.id) if event.id and event.id.isdigit() else None
            yield LogLine(str(data.get("t", "")), str(data.get("text", "")), offset)
