"""Loopback networking for tests and benchmarks: one ``free_port``.

It lives with the tests, not in a product package, because picking a port by
binding port 0 and letting it go is racy (another process may take the port
before the caller binds it): good enough for a test or a benchmark on one
machine, not something scd itself should offer. Tests import it by name
(``tests/`` is on ``sys.path`` under pytest); benchmarks put ``tests/`` on
``sys.path`` first, as they do the repository root.
"""

from __future__ import annotations

import socket

__all__ = ["free_port"]


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port on ``host`` that was free a moment ago (see the module docstring)."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port
