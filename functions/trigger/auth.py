"""API tokens: the ``tokens`` of scd.yaml, those created through the API, and the bearer check.

Contract: scd.yaml and the run store keep only each token's SHA-256 hex digest.
``Tokens.require`` hashes the presented bearer token and compares it with every
configured digest in constant time (no early exit, so timing does not reveal
which digest nearly matched); if none matches and a store is attached
(``attach``), it looks the digest up in the store (a keyed read of a SHA-256,
which tells an attacker nothing about any token). A store token that is
revoked fails at once, on the next request. A missing, unknown or revoked token
is ``AuthError`` (401); a known token without the scope is ``Forbidden`` (403).
Scopes are ordered ``read`` < ``trigger`` < ``admin``: each carries those
below it. Token values never appear in messages.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator
from scd_core.errors import AuthError, Forbidden

if TYPE_CHECKING:
    from scd_core.store import RunStore

__all__ = ["SCOPES", "Scope", "TokenSpec", "Tokens", "hash_token", "new_token"]

Scope = Literal["read", "trigger", "admin"]
SCOPES: tuple[Scope, ...] = ("read", "trigger", "admin")
_RANK: dict[str, int] = {scope: rank for rank, scope in enumerate(SCOPES)}


class TokenSpec(BaseModel):
    """One API token as scd.yaml declares it: a name, a digest and its scopes."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    sha256: str = Field(pattern=r"^[0-9a-fA-F]{64}$")
    scopes: tuple[Scope, ...] = ("read",)

    @field_validator("sha256")
    @classmethod
    def _lower(cls, value: str) -> str:
        return value.lower()

    def allows(self, scope: Scope) -> bool:
        """Whether this token carries ``scope``: read < trigger < admin, each
        scope carrying those below it (``admin`` carries all)."""
        return any(_RANK[held] >= _RANK[scope] for held in self.scopes)


def hash_token(token: str) -> str:
    """The SHA-256 hex digest scd.yaml stores for ``token``."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()


def new_token() -> str:
    """A fresh random token (256 bits, URL-safe, prefixed so scanners can spot it)."""
    return "scd_" + secrets.token_urlsafe(32)


class Tokens:
    """The configured tokens, checked in constant time."""

    def __init__(self, specs: Iterable[TokenSpec]) -> None:
        self._specs = tuple(specs)
        self._store: RunStore | None = None

    def __len__(self) -> int:
        return len(self._specs)

    @property
    def specs(self) -> tuple[TokenSpec, ...]:
        """The tokens scd.yaml declares (digests, never values)."""
        return self._specs

    def attach(self, store: RunStore) -> None:
        """Also accept the tokens recorded in ``store`` (created through the API)."""
        self._store = store

    def named(self, name: str) -> TokenSpec | None:
        """The configured token called ``name``, or None."""
        return next((spec for spec in self._specs if spec.name == name), None)

    def identify(self, authorization: str | None) -> TokenSpec:
        """The token named by an ``Authorization: Bearer`` header, or ``AuthError``."""
        digest = _digest(authorization)
        found = self._configured(digest)
        if found is None:
            found = self._stored(digest)
        if found is None:
            raise AuthError("invalid token")
        return found

    def live(self, digest: str) -> TokenSpec | None:
        """The live token with this SHA-256 hex digest (scd.yaml's, then the store's
        if not revoked), or None. Blocking: it may read the store."""
        digest = digest.lower()
        if len(digest) != 64 or not digest.isascii():
            return None
        found = self._configured(digest)
        if found is None:
            try:
                found = self._stored(digest)
            except AuthError:  # revoked
                return None
        return found

    def _configured(self, digest: str) -> TokenSpec | None:
        """The scd.yaml token with this digest, compared with every one in constant time."""
        wanted = digest.encode("ascii")
        found: TokenSpec | None = None
        for spec in self._specs:
            # Compare against every digest: the loop's length never depends on the token.
            if hmac.compare_digest(wanted, spec.sha256.encode("ascii")) and found is None:
                found = spec
        return found

    def _stored(self, digest: str) -> TokenSpec | None:
        """The store's token with this digest; ``AuthError`` if it was revoked."""
        if self._store is None:
            return None
        record = self._store.find_token(digest)
        if record is None:
            return None
        if record.revoked:
            raise AuthError("token revoked")
        scopes = tuple(scope for scope in SCOPES if scope in record.scopes)
        return TokenSpec(name=record.name, sha256=record.sha256, scopes=scopes)

    def require(self, authorization: str | None, scope: Scope) -> TokenSpec:
        """The token if it carries ``scope``; ``AuthError`` or ``Forbidden`` otherwise.

        Blocking: it may read the store. On the event loop use ``require_async``.
        """
        return _check(self.identify(authorization), scope)

    async def require_async(self, authorization: str | None, scope: Scope) -> TokenSpec:
        """``require`` for the event loop: scd.yaml's tokens are checked inline, and
        only a token they do not know costs a store read, in a worker thread."""
        digest = _digest(authorization)
        found = self._configured(digest)
        if found is None:
            from starlette.concurrency import run_in_threadpool

            found = await run_in_threadpool(self._stored, digest)
        if found is None:
            raise AuthError("invalid token")
        return _check(found, scope)


def _digest(authorization: str | None) -> str:
    """The SHA-256 hex digest of the bearer token in ``authorization``, or ``AuthError``."""
    if not authorization:
        raise AuthError("missing Authorization: Bearer token")
    scheme, _, presented = authorization.strip().partition(" ")
    presented = presented.strip()
    if scheme.lower() != "bearer" or not presented:
        raise AuthError("Authorization must be 'Bearer <token>'")
    return hash_token(presented)


def _check(spec: TokenSpec, scope: Scope) -> TokenSpec:
    if not spec.allows(scope):
        raise Forbidden(f"token {spec.name!r} lacks the {scope!r} scope")
    return spec
