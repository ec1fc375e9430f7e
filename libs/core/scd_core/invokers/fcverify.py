"""Checking a request's ACS3-HMAC-SHA256 signature as FC does (used by the FC double).

``verify(...)`` raises ``Refused`` (FC's error code and message, answered 403) unless
the ``Authorization`` header names a known key, the key's STS token is sent when it
has one, ``host``, ``x-acs-date`` and ``x-acs-content-sha256`` are among the signed
headers, the body matches that hash, the date is within 15 minutes of now, and the
signature recomputed over the signed headers (``fcsign.authorization``) is equal.
Pure apart from reading the clock; thread-safe.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Mapping
from datetime import datetime, timezone

from scd_core.errors import AuthError
from scd_core.invokers.fcsign import authorization, parse_authorization

__all__ = ["Refused", "verify"]

_MAX_SKEW_S = 15 * 60
_MUST_SIGN = frozenset({"host", "x-acs-date", "x-acs-content-sha256"})


class Refused(Exception):
    """A request FC refuses with 403 and ``code``."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


def verify(
    method: str,
    raw_path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    body: bytes,
    keys: Mapping[str, str],
    tokens: Mapping[str, str],
) -> None:
    """Return if the request is signed as FC requires (see the module doc), else raise."""
    try:
        key_id, signed, signature = parse_authorization(headers.get("authorization", ""))
    except AuthError as exc:
        raise Refused("InvalidAuthorization", str(exc)) from None
    secret = keys.get(key_id)
    if secret is None:
        raise Refused("InvalidAccessKeyId.NotFound", "the access key id does not exist")
    token = tokens.get(key_id)
    if token is not None and headers.get("x-acs-security-token") != token:
        raise Refused("InvalidSecurityToken", "the security token is invalid")
    if not set(signed) >= _MUST_SIGN:
        raise Refused("SignatureNotMatch", "host, x-acs-date and x-acs-content-sha256 unsigned")
    if headers.get("x-acs-content-sha256") != hashlib.sha256(body).hexdigest():
        raise Refused("SignatureNotMatch", "the body does not match x-acs-content-sha256")
    try:
        stamp = datetime.strptime(headers.get("x-acs-date", ""), "%Y-%m-%dT%H:%M:%SZ")
    except ValueError:
        raise Refused("InvalidArgument", "x-acs-date is not a date") from None
    if abs(stamp.replace(tzinfo=timezone.utc).timestamp() - time.time()) > _MAX_SKEW_S:
        raise Refused("RequestTimeTooSkewed", "the request time is too far from the server's")
    chosen = {name: headers.get(name, "") for name in signed}
    payload_hash = chosen["x-acs-content-sha256"]
    expected = authorization(method, raw_path, query, chosen, payload_hash, key_id, secret)
    if not hmac.compare_digest(parse_authorization(expected)[2], signature):
        raise Refused(
            "SignatureNotMatch",
            "The request signature we calculated does not match the signature you provided",
        )
