"""The entry point of one worker process: ``python -m functions.serve.child FD``.

Contract: serves the worker app (``functions.worker.app:app``, configured from
the ``SCD_*`` variables it inherits) with uvicorn on the listening socket
inherited as file descriptor ``FD``. The parent keeps its own copy of that
socket, so connections that arrive while this process starts, or while a
replacement starts after a crash, wait in the kernel's backlog instead of being
refused. SIGTERM and SIGINT shut it down as uvicorn does (the app's lifespan
ends, running requests get to finish).
"""

from __future__ import annotations

import socket
import sys

__all__ = ["main"]


def main(argv: list[str] | None = None) -> int:
    """Serve the worker app on the inherited socket until told to stop."""
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1 or not args[0].isdigit():
        print("usage: python -m functions.serve.child FD", file=sys.stderr)
        return 2
    import uvicorn

    sock = socket.socket(fileno=int(args[0]))
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


if __name__ == "__main__":
    sys.exit(main())
