"""Dashboard sessions: a signed cookie naming the token, and the CSRF token bound to it.

Contract: ``Sessions.for_dir(data_dir)`` reads the HMAC key from
``<data_dir>/ui-secret``, creating it on first use (32 random bytes, mode 0600,
created atomically so concurrent processes agree on one key). ``issue(name,
digest)`` makes a cookie value holding the token's name, its SHA-256 digest, an
expiry and a random nonce, signed with HMAC-SHA256; ``read(value)`` gives the
``Session`` back, or None when the value is malformed, forged or expired. The
raw token is never in the cookie. ``Session.csrf`` is derived from the nonce
with the key, so it is bound to this session and cannot be made without the key.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import hashlib
import hmac
import json
import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from scd_core.errors import ConfigError

__all__ = ["COOKIE", "LOGIN_COOKIE", "SESSION_SECONDS", "Session", "Sessions"]

COOKIE = "scd_session"
LOGIN_COOKIE = "scd_login"  # the double-submit CSRF value of the login form
SESSION_SECONDS = 12 * 3600
_KEY_FILE = "ui-secret"
_KEY_BYTES = 32
_VERSION = "v1"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@dataclass(frozen=True)
class Session:
    """A verified session: which token logged in, until when, and its CSRF token."""

    name: str
    digest: str
    expires: int
    csrf: str


class Sessions:
    """Issues and verifies session cookies with one HMAC key."""

    def __init__(self, key: bytes) -> None:
        if len(key) < 16:
            raise ConfigError("the dashboard's session key is too short")
        self._key = key

    @classmethod
    def for_dir(cls, data_dir: Path) -> Sessions:
        """Sessions keyed by ``<data_dir>/ui-secret`` (created, 0600, when absent)."""
        return cls(_load_key(data_dir / _KEY_FILE))

    def issue(self, name: str, digest: str, *, seconds: int = SESSION_SECONDS) -> str:
        """A signed cookie value for the token ``name`` with ``digest``."""
        payload = {
            "n": name,
            "d": digest,
            "x": int(time.time()) + seconds,
            "s": secrets.token_hex(16),
        }
        body = _b64(json.dumps(payload, separators=(",", ":")).encode())
        return f"{_VERSION}.{body}.{self._sign(body)}"

    def read(self, value: str | None) -> Session | None:
        """The session in a cookie value, or None if malformed, forged or expired."""
        if not value:
            return None
        version, _, rest = value.partition(".")
        body, _, mac = rest.partition(".")
        if version != _VERSION or not hmac.compare_digest(self._sign(body), mac):
            return None
        try:
            payload = json.loads(_unb64(body))
            name, digest = str(payload["n"]), str(payload["d"])
            expires, nonce = int(payload["x"]), str(payload["s"])
        except (ValueError, KeyError, TypeError, binascii.Error):
            return None
        if expires <= time.time():
            return None
        return Session(name=name, digest=digest, expires=expires, csrf=self._csrf(nonce))

    def _sign(self, body: str) -> str:
        return _b64(hmac.new(self._key, f"session:{body}".encode(), hashlib.sha256).digest())

    def _csrf(self, nonce: str) -> str:
        return _b64(hmac.new(self._key, f"csrf:{nonce}".encode(), hashlib.sha256).digest())


def _load_key(path: Path) -> bytes:
    """The key in ``path``; made first if absent, so that every process gets the same one."""
    try:
        key = path.read_bytes()
    except FileNotFoundError:
        key = _create_key(path)
    except OSError as exc:
        raise ConfigError(f"cannot read the dashboard key {path}") from exc
    return key


def _create_key(path: Path) -> bytes:
    # Written to a private temporary file, then linked into place: a reader never sees a
    # half-written key, and of two processes racing the first link wins.
    path.parent.mkdir(parents=True, exist_ok=True)
    key = secrets.token_bytes(_KEY_BYTES)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(key)
        try:
            os.link(tmp, path)
        except FileExistsError:
            return path.read_bytes()
    except OSError as exc:
        raise ConfigError(f"cannot create the dashboard key {path}") from exc
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
    return key
