"""A stand-in worker function for the FC double's tests: a real HTTP server on loopback.

``FakeFunction`` records each ``POST /invoke`` (path, headers, body) and answers
with ``status`` and ``headers``; while ``hold`` is clear it keeps the request
waiting (a long step), and ``released`` tells when it let one go.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


@dataclass
class Call:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeFunction:
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    calls: list[Call] = field(default_factory=list)
    hold: threading.Event = field(default_factory=threading.Event)
    arrived: threading.Event = field(default_factory=threading.Event)
    url: str = ""

    def __post_init__(self) -> None:
        self.hold.set()


@contextmanager
def fake_function(
    status: int = 200, headers: dict[str, str] | None = None
) -> Iterator[FakeFunction]:
    function = FakeFunction(status=status, headers=dict(headers or {}))

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("content-length", "0"))
            body = self.rfile.read(length)
            call = Call(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
            function.calls.append(call)
            function.arrived.set()
            function.hold.wait(60)
            self.send_response(function.status)
            for name, value in function.headers.items():
                self.send_header(name, value)
            self.send_header("content-length", "2")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    function.url = f"http://127.0.0.1:{server.server_address[1]}"
    try:
        yield function
    finally:
        function.hold.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=30)
