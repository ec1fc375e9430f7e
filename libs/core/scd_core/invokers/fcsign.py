"""Alibaba Cloud's ACS3-HMAC-SHA256 request signature (FC 3.0's "V3"), standard library only.

``signed_headers`` returns the headers of a request to FC's OpenAPI with its
``Authorization``, signed as ``alibabacloud_tea_openapi`` 0.4.6 signs (reference
FC.md section 5.2): every header sent is signed, lower-cased, trimmed and sorted;
the canonical URI is the percent-encoded path as sent; query values are
percent-encoded with ``~`` kept; the payload hash is hex SHA-256 of the body.
``authorization`` is the pure function under it, which a test checks against the
vendor SDK's own signer; with ``parse_authorization`` it also checks a received
request (the loopback FC double does). Thread-safe: nothing is shared.

``Credentials`` holds an access key (and an STS token): its ``repr`` shows the
key id only, never the secret or the token.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from urllib.parse import quote

from scd_core.errors import AuthError

__all__ = [
    "ALGORITHM",
    "API_VERSION",
    "Credentials",
    "authorization",
    "canonical_query",
    "parse_authorization",
    "signed_headers",
]

ALGORITHM = "ACS3-HMAC-SHA256"
API_VERSION = "2023-03-30"


@dataclass(frozen=True)
class Credentials:
    """An access key, and the STS token that goes with a role's temporary key."""

    access_key_id: str
    access_key_secret: str = field(repr=False)
    security_token: str | None = field(default=None, repr=False)

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Credentials:
        """The ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET``/``SECURITY_TOKEN`` variables
        (what FC gives a function's role); ``AuthError`` naming the missing one."""
        env = os.environ if environ is None else environ
        key_id = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
        secret = env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
        if not key_id or not secret:
            missing = "ALIBABA_CLOUD_ACCESS_KEY_ID" if not key_id else "..._ACCESS_KEY_SECRET"
            raise AuthError(f"no Alibaba Cloud credentials: {missing} is not set")
        token = env.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None
        return cls(key_id, secret, token)

    def secrets(self) -> tuple[str, ...]:
        """The values no message may contain."""
        return tuple(v for v in (self.access_key_secret, self.security_token) if v)


def canonical_query(query: Mapping[str, str]) -> str:
    """Keys sorted, values percent-encoded (``~`` kept), ``k=v`` joined by ``&``."""
    return "&".join(f"{k}={quote(query[k], safe='~')}" for k in sorted(query))


def _canonical_headers(headers: Mapping[str, str]) -> tuple[str, str]:
    merged: dict[str, list[str]] = {}
    for name, value in headers.items():
        merged.setdefault(name.lower(), []).append(str(value).strip())
    names = sorted(merged)
    text = "".join(f"{name}:{','.join(sorted(merged[name]))}\n" for name in names)
    return text, ";".join(names)


def authorization(
    method: str,
    path: str,
    query: Mapping[str, str],
    headers: Mapping[str, str],
    payload_hash: str,
    key_id: str,
    secret: str,
) -> str:
    """The ``Authorization`` value of a request (``path`` as sent, already encoded)."""
    canonical_headers, signed = _canonical_headers(headers)
    canonical = "\n".join(
        [method, path or "/", canonical_query(query), canonical_headers, signed, payload_hash]
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    to_sign = f"{ALGORITHM}\n{digest}"
    mac = hmac.new(secret.encode("utf-8"), to_sign.encode("utf-8"), hashlib.sha256)
    return f"{ALGORITHM} Credential={key_id},SignedHeaders={signed},Signature={mac.hexdigest()}"


def signed_headers(
    method: str,
    host: str,
    path: str,
    query: Mapping[str, str],
    body: bytes,
    *,
    action: str,
    credentials: Credentials,
    headers: Mapping[str, str] | None = None,
    now: datetime | None = None,
    nonce: str | None = None,
) -> dict[str, str]:
    """Every header to send with the request, ``authorization`` included.

    ``headers`` are the request's own (``x-fc-*``, ``content-type``); the
    ``x-acs-*`` headers, ``host`` and ``accept`` are added and signed with them.
    """
    moment = (now or datetime.now(timezone.utc)).astimezone(timezone.utc)
    payload_hash = hashlib.sha256(body).hexdigest()
    out = {
        "host": host,
        "x-acs-version": API_VERSION,
        "x-acs-action": action,
        "x-acs-date": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "x-acs-signature-nonce": nonce or uuid.uuid4().hex,
        "x-acs-content-sha256": payload_hash,
        "accept": "application/json",
        **{k.lower(): v for k, v in (headers or {}).items()},
    }
    if credentials.security_token:
        out["x-acs-accesskey-id"] = credentials.access_key_id
        out["x-acs-security-token"] = credentials.security_token
    out["authorization"] = authorization(
        method,
        path,
        query,
        out,
        payload_hash,
        credentials.access_key_id,
        credentials.access_key_secret,
    )
    return out


def parse_authorization(value: str) -> tuple[str, list[str], str]:
    """``(key id, signed header names, signature)`` of an ``Authorization`` value;
    ``AuthError`` when it is not an ACS3-HMAC-SHA256 one."""
    algorithm, _, rest = value.partition(" ")
    if algorithm != ALGORITHM:
        raise AuthError(f"the Authorization header is not {ALGORITHM}")
    parts = dict(part.partition("=")[::2] for part in rest.split(","))
    try:
        key_id, signed, signature = (
            parts["Credential"],
            parts["SignedHeaders"],
            parts["Signature"],
        )
    except KeyError:
        raise AuthError(
            "the Authorization header lacks Credential, SignedHeaders or Signature"
        ) from None
    return key_id, signed.split(";") if signed else [], signature
