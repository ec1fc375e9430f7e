"""Which repository URLs an app may name: what git reads as a repository, nothing more.

Contract: :func:`repo_url_problem` returns why ``url`` is refused, or None. Refused:
an empty URL, one that starts with ``-`` (git would read an option), one holding a
control character, git's ``<transport>::<address>`` form (``ext::`` runs a command,
``fd::`` reads a descriptor), and schemes other than ``https``, ``ssh``, ``git`` and
``file``; plain ``http`` only to a loopback host (a local ``git http-backend``).
scp-like ``user@host:path`` addresses are ssh; anything else without a scheme is a
local path. :func:`is_local_repo` tells ``file://`` URLs and local paths, which a
server may refuse (they read its own disk).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

__all__ = ["REPO_SCHEMES", "is_local_repo", "repo_url_problem"]

REPO_SCHEMES = ("https", "ssh", "git", "file")
_SCHEME = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
_TRANSPORT = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*::")
_SCP = re.compile(r"^(?:[^@/:]+@)?[^/:]+:(?!//)")
_LOOPBACK = {"127.0.0.1", "localhost", "::1"}


def repo_url_problem(url: str) -> str | None:
    """Why git must not be given ``url`` as a repository; None when it may."""
    if not url.strip():
        return "must not be empty"
    if url.startswith("-"):
        return "must not start with '-' (git would read it as an option)"
    if any(ord(c) < 32 or ord(c) == 127 for c in url):
        return "must not contain control characters"
    if _TRANSPORT.match(url):
        return "must not use git's <transport>::<address> form (it can run commands)"
    scheme = _SCHEME.match(url)
    if scheme is None:
        return None  # scp-like ssh or a local path
    name = scheme.group(1).lower()
    if name == "http":
        host = urlsplit(url).hostname or ""
        return None if host in _LOOPBACK else "must use https (plain http only on loopback)"
    if name not in REPO_SCHEMES:
        return f"scheme '{name}' is not one of {', '.join(REPO_SCHEMES)}"
    return None


def is_local_repo(url: str) -> bool:
    """Whether ``url`` reads this machine's disk: ``file://`` or a path without a host."""
    scheme = _SCHEME.match(url)
    if scheme is not None:
        return scheme.group(1).lower() == "file"
    return _SCP.match(url) is None
