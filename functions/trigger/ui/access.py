"""Who a dashboard session is: tokens looked up by digest, as the API checks them.

Contract: ``token_for_digest(state, digest)`` answers the live token with that
SHA-256 digest (from scd.yaml, or created through the API and not revoked), or
None: ``Tokens.live``, the API's own lookup (config digests compared in constant
time, the store asked by digest). ``login(state, token)`` checks a presented
token and the ``read`` scope (``AuthError`` 401, ``Forbidden`` 403), the same
rules as ``Tokens.require`` (read < trigger < admin).
A session is re-checked on every request, so a revoked token logs out at once.
"""

from __future__ import annotations

from scd_core.errors import AuthError, Forbidden

from functions.trigger.auth import Scope, TokenSpec, hash_token
from functions.trigger.state import TriggerState

__all__ = ["check_scope", "login", "token_for_digest"]


def token_for_digest(state: TriggerState, digest: str) -> TokenSpec | None:
    """The live token whose SHA-256 hex digest is ``digest``, or None (``Tokens.live``)."""
    return state.config.tokens.live(digest)


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
