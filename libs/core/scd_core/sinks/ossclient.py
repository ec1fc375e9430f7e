"""The boto3 client OSS accepts, and ``open_oss_sink`` for ``oss://`` URLs.

OSS speaks S3 with three differences that matter here (FC.md §7): only
virtual-hosted addressing (path-style gets ``SecondLevelDomainForbidden``); no
aws-chunked bodies or ``STREAMING-*`` payload signatures; no flexible checksums
(``x-amz-checksum-*``), which boto3 ≥ 1.36 sends by default. So the client uses
``s3v4`` with ``request_checksum_calculation`` and ``response_checksum_validation``
set to ``when_required``; and for the operations S3 says require a checksum
(DeleteObjects, PutBucketLifecycleConfiguration), whose boto3 default is now a
CRC32 header, a ``before-sign`` hook sends ``Content-MD5`` instead, as OSS
requires.

URL: ``oss://<bucket>/<prefix>?region=<region>[&endpoint=URL][&proxy=URL]``; the
endpoint defaults to ``https://s3.oss-<region>.aliyuncs.com`` (use
``https://s3.oss-<region>-internal.aliyuncs.com`` from FC in that region);
``proxy`` sends every request through an HTTP proxy.
"""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Mapping
from typing import Any

from scd_core.errors import ConfigError
from scd_core.invokers.fcsign import Credentials
from scd_core.sinks.cloudurl import credentials, parse_sink_url
from scd_core.sinks.oss import OssLogSink

__all__ = ["FORM", "make_client", "open_oss_sink"]

FORM = "oss://BUCKET/PREFIX?region=REGION[&endpoint=URL]"
_BUCKET = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_MD5_OPERATIONS = ("DeleteObjects", "PutBucketLifecycleConfiguration")


def _content_md5(request: Any, **_: Any) -> None:
    """Swap a flexible checksum for ``Content-MD5`` (OSS wants MD5 where S3 wants a checksum)."""
    for name in list(request.headers.keys()):
        low = name.lower()
        if low.startswith("x-amz-checksum-") or low == "x-amz-sdk-checksum-algorithm":
            del request.headers[name]
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    if isinstance(body, bytes):
        digest = base64.b64encode(hashlib.md5(body).digest()).decode()  # noqa: S324 - OSS's integrity header
        request.headers["Content-MD5"] = digest


def make_client(
    region: str,
    creds: Credentials,
    endpoint: str | None = None,
    proxy: str | None = None,
    **overrides: Any,
) -> Any:
    """A boto3 S3 client configured for OSS (``overrides`` go into botocore's Config)."""
    import boto3
    from botocore.config import Config

    settings: dict[str, Any] = {
        "signature_version": "s3v4",
        "s3": {"addressing_style": "virtual"},
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
        "retries": {"max_attempts": 4, "mode": "standard"},
        "connect_timeout": 10,
        "read_timeout": 30,
    }
    if proxy:
        settings["proxies"] = {"http": proxy, "https": proxy}
    settings.update(overrides)
    client = boto3.session.Session().client(
        "s3",
        region_name=region,
        endpoint_url=endpoint or f"https://s3.oss-{region}.aliyuncs.com",
        aws_access_key_id=creds.access_key_id,
        aws_secret_access_key=creds.access_key_secret,
        aws_session_token=creds.security_token,
        config=Config(**settings),
    )
    if settings.get("request_checksum_calculation") == "when_required":
        for operation in _MD5_OPERATIONS:
            client.meta.events.register(f"before-sign.s3.{operation}", _content_md5)
    return client


def open_oss_sink(url: str, environ: Mapping[str, str] | None = None) -> OssLogSink:
    """The sink named by an ``oss://`` URL; ConfigError naming SCD_LOG_SINK when it is bad."""
    parsed = parse_sink_url(url, FORM, frozenset({"proxy"}))
    if not _BUCKET.fullmatch(parsed.name):
        raise ConfigError(
            f"SCD_LOG_SINK: {parsed.name!r} is not an OSS bucket name "
            "(3-63 lower-case letters, digits and hyphens)"
        )
    creds = credentials(environ)
    client = make_client(parsed.region, creds, parsed.endpoint, parsed.options.get("proxy"))
    return OssLogSink(client, parsed.name, parsed.path)
