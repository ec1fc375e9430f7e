"""A loopback HTTP proxy in front of an S3 server (moto in tests) that refuses what OSS refuses.

boto3 is pointed at OSS's real endpoint host with this proxy as its HTTP proxy,
so requests arrive in absolute form and the proxy sees the exact host boto3
addressed. It refuses, with OSS's error codes:

- path-style requests (a bucket in the path of the bare endpoint host):
  403 ``SecondLevelDomainForbidden``;
- ``x-amz-content-sha256: STREAMING-*`` payload signatures and
  ``Content-Encoding: aws-chunked`` bodies: 400 ``InvalidArgument``;
- flexible checksums (``x-amz-checksum-*``, ``x-amz-trailer``,
  ``x-amz-sdk-checksum-algorithm``): 400 ``InvalidArgument``;
- DeleteObjects and PutBucketLifecycle without ``Content-MD5``: 400 ``InvalidDigest``.

Everything else goes path-style to ``upstream`` unchanged. ``requests`` records
``(method, bucket, path, query)`` of every forwarded request, for tests to count.
"""

from __future__ import annotations

import http.client
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

__all__ = ["S3Proxy"]

_HOP = {"connection", "proxy-connection", "keep-alive", "transfer-encoding", "host"}


class S3Proxy:
    """Serve on ``127.0.0.1:<port>``; ``start``/``stop``; ``url`` is the proxy URL."""

    def __init__(self, upstream: str, endpoint_host: str) -> None:
        self.upstream = urlsplit(upstream)
        self.endpoint_host = endpoint_host
        self.requests: list[tuple[str, str, str, str]] = []
        self.refused: list[str] = []
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> S3Proxy:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()

    def check(
        self, method: str, host: str, path: str, query: str, headers: dict[str, str]
    ) -> tuple[int, str] | None:
        """The (status, OSS error code) this request earns, or None to forward it."""
        if host != self.endpoint_host and not host.endswith("." + self.endpoint_host):
            return 400, "InvalidHost"
        if host == self.endpoint_host and path.strip("/"):
            return 403, "SecondLevelDomainForbidden"
        if headers.get("x-amz-content-sha256", "").startswith("STREAMING-"):
            return 400, "InvalidArgument"
        if "aws-chunked" in headers.get("content-encoding", ""):
            return 400, "InvalidArgument"
        if any(
            name.startswith("x-amz-checksum-")
            or name in ("x-amz-trailer", "x-amz-sdk-checksum-algorithm")
            for name in headers
        ):
            return 400, "InvalidArgument"
        needs_md5 = (method == "POST" and "delete" in query.split("&")) or (
            method == "PUT" and "lifecycle" in query.split("&")
        )
        if needs_md5 and "content-md5" not in headers:
            return 400, "InvalidDigest"
        return None


def _handler(proxy: S3Proxy) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: object) -> None:
            """Quiet: tests read ``requests`` and ``refused`` instead."""

        def _relay(self) -> None:
            target = urlsplit(self.path)
            host = (target.hostname or str(self.headers.get("Host", ""))).split(":")[0]
            headers = {k.lower(): v for k, v in self.headers.items()}
            length = int(headers.get("content-length", "0") or 0)
            body = self.rfile.read(length) if length else b""
            refusal = proxy.check(self.command, host, target.path, target.query, headers)
            if refusal is not None:
                proxy.refused.append(refusal[1])
                self._answer(refusal[0], {"Content-Type": "application/xml"}, _error(*refusal))
                return
            bucket = host[: -len(proxy.endpoint_host) - 1] if host != proxy.endpoint_host else ""
            path = f"/{bucket}{target.path}" if bucket else target.path or "/"
            proxy.requests.append((self.command, bucket, target.path, target.query))
            upstream = http.client.HTTPConnection(
                proxy.upstream.hostname or "127.0.0.1", proxy.upstream.port, timeout=60
            )
            try:
                forward = {k: v for k, v in self.headers.items() if k.lower() not in _HOP}
                url = f"{path}?{target.query}" if target.query else path
                upstream.request(self.command, url, body=body, headers=forward)
                answer = upstream.getresponse()
                data = answer.read()
                kept = {k: v for k, v in answer.getheaders() if k.lower() not in _HOP}
                self._answer(answer.status, kept, data)
            finally:
                upstream.close()

        def _answer(self, status: int, headers: dict[str, str], body: bytes) -> None:
            self.send_response(status)
            for name, value in headers.items():
                if name.lower() != "content-length":
                    self.send_header(name, value)
            head_length = headers.get("Content-Length") or headers.get("content-length")
            length = head_length if self.command == "HEAD" and head_length else str(len(body))
            self.send_header("Content-Length", length)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = _relay  # noqa: N815 - stdlib's names

    return Handler


def _error(status: int, code: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code>'
        f"<Message>refused as OSS refuses it ({status})</Message></Error>"
    ).encode()
