"""A loopback HTTP double that records every request and answers from a script.

Import it by name (``from http_double import Recorder``). ``answers`` is a list of
(status, JSON body) consumed in order; when it runs out, ``default`` answers.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = ["Recorded", "Recorder", "recorder"]


@dataclass
class Recorded:
    """One request the double received."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class Recorder:
    """What the double received, and what it answers next."""

    url: str = ""
    requests: list[Recorded] = field(default_factory=list)
    answers: list[tuple[int, Any]] = field(default_factory=list)
    default: tuple[int, Any] = (201, {"ok": True})


@contextmanager
def recorder(*answers: tuple[int, Any]) -> Iterator[Recorder]:
    """Serve a recording double on 127.0.0.1 until the block ends."""
    rec = Recorder(answers=list(answers))
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            with lock:
                rec.requests.append(Recorded(self.command, self.path, headers, body))
                status, answer = rec.answers.pop(0) if rec.answers else rec.default
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    rec.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        server.shutdown()
        server.server_close()
        thread.join()
