"""The entry point of one worker process: ``python -m functions.serve.child FD [PARENT]``.

Contract: serves the worker app (``functions.worker.app:app``, configured from
the ``SCD_*`` variables it inherits) with uvicorn on the listening socket
inherited as file descriptor ``FD``. The parent keeps its own copy of that
socket, so connections that arrive while this process starts, or while a
replacement starts after a crash, wait in the kernel's backlog instead of being
refused. SIGTERM and SIGINT shut it down as uvicorn does (the app's lifespan
ends, running requests get to finish). The process runs in its own session (a
terminal's Ctrl-C reaches only ``scd serve``), so it watches its parent: if
``scd serve`` dies without stopping it (kill -9), it calls its own
``/pre-stop`` (running jobs end ``error`` "worker interrupted") and sends itself
SIGTERM rather than live on as an orphan. ``PARENT`` is the pid of ``scd serve``, given
so that a parent dying while this process starts up is noticed too.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
import threading
import urllib.request

from scd_core.settings import WORKER_TOKEN_HEADER

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Serve the worker app on the inherited socket until told to stop."""
    args = sys.argv[1:] if argv is None else argv
    if not 1 <= len(args) <= 2 or not all(arg.isdigit() for arg in args):
        print("usage: python -m functions.serve.child FD [PARENT]", file=sys.stderr)
        return 2
    parent = int(args[1]) if len(args) == 2 else os.getppid()
    sock = socket.socket(fileno=int(args[0]))
    url = f"http://127.0.0.1:{sock.getsockname()[1]}/pre-stop"
    threading.Thread(target=_watch_parent, args=(parent, url), daemon=True).start()
    import uvicorn

    config = uvicorn.Config(
        "functions.worker.app:app",
        log_level="warning",
        access_log=False,
        lifespan="auto",
        timeout_keep_alive=5,
        # Past this, requests still running are dropped; scd serve calls pre-stop first.
        timeout_graceful_shutdown=5,
    )
    server = uvicorn.Server(config)
    server.run(sockets=[sock])
    return 0


def _watch_parent(parent: int, pre_stop_url: str, interval_s: float = 1.0) -> None:
    stop = threading.Event()
    while True:
        if os.getppid() != parent:  # re-parented: scd serve is gone
            # the worker takes hooks from its own invoker only: this process knows its token
            token = os.environ.get("SCD_WORKER_TOKEN", "")
            headers = {WORKER_TOKEN_HEADER: token}
            request = urllib.request.Request(pre_stop_url, headers=headers)  # noqa: S310
            with contextlib.suppress(OSError):
                urllib.request.urlopen(request, timeout=15).close()  # noqa: S310
            os.kill(os.getpid(), signal.SIGTERM)
            return
        stop.wait(interval_s)


if __name__ == "__main__":
    sys.exit(main())
