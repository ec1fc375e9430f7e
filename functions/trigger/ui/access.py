"""Who a dashboard session is: tokens looked up by digest, as the API checks them.

Contract: ``token_for_digest(state, digest)`` answers the live token with that
SHA-256 digest (from scd.yaml, or created through the API and not revoked), or
None. Every config digest is compared in constant time; the store is asked by
digest. ``login(state, token)`` checks a presented token and the ``read`` scope
(``AuthError`` 401, ``Forbidden`` 403), the same rules as ``Tokens.require``.
A session is re-checked on every request, so a revoked token logs out at once.
"""

from __future__ import annotations

import hmac

from scd_core.errors import AuthError, Forbidden
from scd_core.store import RunStore

from functions.trigger.auth import Scope, TokenSpec, hash_token
from functions.trigger.state import TriggerState

__all__ = ["check_scope", "login", "token_for_digest"]


def _stored(store: RunStore, digest: str) -> TokenSpec | None:
    record = store.find_token(digest)
    if record is None or record.revoked:
        return None
    scopes = tuple(s for s in record.scopes if s in ("read", "trigger", "admin"))
    return TokenSpec.model_validate({"name": record.name, "sha256": digest, "scopes": scopes})


def token_for_digest(state: TriggerState, digest: str) -> TokenSpec | None:
    """The live token whose SHA-256 hex digest is ``digest``, or None."""
    wanted = digest.lower().encode("ascii", "replace")
    found: TokenSpec | None = None
    for spec in state.config.tokens.specs:
        # Every digest is compared: the loop's length never depends on the token.
        if hmac.compare_digest(wanted, spec.sha256.encode("ascii")) and found is None:
            found = spec
    if found is None and len(digest) == 64:
        found = _stored(state.launcher.store, digest.lower())
    return found


def login(state: TriggerState, token: str) -> TokenSpec:
    """The token ``token`` if it is live and may read; ``AuthError``/``Forbidden`` else."""
    token = token.strip()
    if not token:
        raise AuthError("enter an API token")
    spec = token_for_digest(state, hash_token(token))
    if spec is None:
        raise AuthError("invalid token")
    return check_scope(spec, "read")


def check_scope(spec: TokenSpec, scope: Scope) -> TokenSpec:
    """``spec`` if it carries ``scope``; ``Forbidden`` naming the scope otherwise."""
    if not spec.allows(scope):
        raise Forbidden(f"token {spec.name!r} lacks the {scope!r} scope")
    return spec
