"""Helpers for testing against a real trigger: serve an ASGI app on loopback, sign bodies.

Contract: ``serve(app)`` runs uvicorn in a daemon thread on a free loopback
port, waits until it accepts connections (lifespan done) and yields the base
URL; on exit it asks the server to stop and joins the thread. If start-up
fails (a bad config, say) it raises ``RuntimeError``.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import socket
import threading
import time
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["asgi_client", "github_push", "github_signature", "serve"]


def asgi_client(app: Any, **options: Any) -> Any:
    """starlette's ``TestClient`` for ``app`` (use it as a context manager to run the lifespan).

    Starlette now asks for the ``httpx2`` package and warns, at import, when it falls
    back on ``httpx``; scd depends on ``httpx`` only, so that one warning is silenced here.
    """
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*httpx2.*")
        from starlette.testclient import TestClient

    return TestClient(app, **options)


def github_signature(secret: str | bytes, body: bytes) -> str:
    """The ``X-Hub-Signature-256`` value GitHub sends for ``body``."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return "sha256=" + hmac.new(key, body, hashlib.sha256).hexdigest()


def github_push(
    ref: str = "refs/heads/main",
    *,
    commit: str = "6113728f27ae82c7b1a177c8d03f9e96e0adf246",
    message: str = "Update README",
    repo: str = "acme/web",
    size: int = 0,
) -> bytes:
    """A GitHub ``push`` payload for ``ref``, padded with commits to about ``size`` bytes."""
    owner = repo.split("/")[0]
    head = {
        "id": commit,
        "message": message,
        "timestamp": "2026-11-27T02:00:00Z",
        "author": {"name": "Mona", "email": "mona@example.com", "username": "mona"},
        "added": [],
        "modified": ["README.md"],
        "removed": [],
    }
    payload: dict[str, Any] = {
        "ref": ref,
        "before": "0" * 39 + "1",
        "after": commit,
        "created": False,
        "deleted": False,
        "forced": False,
        "compare": f"https://github.com/{repo}/compare/abc...def",
        "commits": [head],
        "head_commit": head,
        "repository": {
            "id": 1296269,
            "name": repo.split("/")[1],
            "full_name": repo,
            "private": False,
            "owner": {"name": owner, "login": owner},
            "html_url": f"https://github.com/{repo}",
            "clone_url": f"https://github.com/{repo}.git",
            "default_branch": "main",
        },
        "pusher": {"name": "mona", "email": "mona@example.com"},
        "sender": {"login": "mona", "id": 1},
    }
    n = 0
    while len(json.dumps(payload)) < size:
        n += 1
        earlier = dict(
            head, id=f"{n:040x}", message=f"Earlier change {n}", modified=[f"src/m{n}.py"]
        )
        payload["commits"].insert(0, earlier)
    return json.dumps(payload).encode()


@contextmanager
def serve(app: Any, *, start_timeout: float = 20.0) -> Iterator[str]:
    """Serve ``app`` with uvicorn on ``127.0.0.1``; yield ``http://127.0.0.1:<port>``."""
    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
    server = uvicorn.Server(config)

    def run() -> None:
        # uvicorn exits when the lifespan fails; the caller learns it below.
        with contextlib.suppress(SystemExit):
            server.run(sockets=[sock])

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    deadline = time.monotonic() + start_timeout
    try:
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the server did not start (see its log)")
            time.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=start_timeout)
        sock.close()
