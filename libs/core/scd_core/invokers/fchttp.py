"""``Pool``: kept-alive ``http.client`` connections to one endpoint, shared by threads.

``send`` makes one exchange on an idle connection (or a new one) and returns the
status, the lower-cased headers and the body (at most 1 MB read); a kept-alive
connection the server had closed is replaced once, transparently. Errors of the
connection (``OSError``, ``http.client.HTTPException``) propagate to the caller,
which decides about retries. ``close`` closes the idle connections, and those in
use when their exchange ends.
"""

from __future__ import annotations

import http.client
import threading
from collections.abc import Mapping
from urllib.parse import urlsplit

from scd_core.errors import ConfigError

__all__ = ["Pool"]

_MAX_ANSWER = 1 << 20


class Pool:
    """Kept-alive ``http.client`` connections to one endpoint, shared by threads."""

    def __init__(self, base: str, timeout_s: float) -> None:
        parts = urlsplit(base)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ConfigError(f"fc invoker: endpoint {base!r} is not http(s)://HOST[:PORT]")
        if parts.username or parts.password or parts.path.strip("/") or parts.query:
            raise ConfigError("fc invoker: the endpoint takes no credentials, path or query")
        try:
            port = parts.port
        except ValueError as exc:
            raise ConfigError(f"fc invoker: endpoint {base!r} has a bad port") from exc
        self.https = parts.scheme == "https"
        self.hostname = parts.hostname
        self.port = port
        self.host = parts.netloc
        self.timeout_s = timeout_s
        self._idle: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()
        self._closed = False

    def send(
        self, method: str, target: str, body: bytes, headers: Mapping[str, str]
    ) -> tuple[int, dict[str, str], bytes]:
        """One exchange; a kept-alive connection the server closed is replaced once."""
        conn, reused = self._take()
        try:
            return self._exchange(conn, method, target, body, headers)
        except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
            if not reused:
                raise
        return self._exchange(conn, method, target, body, headers)

    def _exchange(
        self,
        conn: http.client.HTTPConnection,
        method: str,
        target: str,
        body: bytes,
        headers: Mapping[str, str],
    ) -> tuple[int, dict[str, str], bytes]:
        try:
            conn.request(method, target, body=body or None, headers=dict(headers))
            response = conn.getresponse()
            answer = response.read(_MAX_ANSWER)
        except BaseException:
            conn.close()
            raise
        with self._lock:
            keep = not response.will_close and not self._closed
            if keep:
                self._idle.append(conn)
        if not keep:  # an exchange that ends after close() closes its own connection
            conn.close()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, answer

    def _take(self) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            if self._idle:
                return self._idle.pop(), True
        return self._new(), False

    def _new(self) -> http.client.HTTPConnection:
        if self.https:
            return http.client.HTTPSConnection(self.hostname, self.port, timeout=self.timeout_s)
        return http.client.HTTPConnection(self.hostname, self.port, timeout=self.timeout_s)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        for conn in idle:
            conn.close()
