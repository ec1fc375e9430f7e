"""``open_sls_sink`` for ``sls://PROJECT/LOGSTORE?region=REGION[&endpoint=URL]`` URLs.

The endpoint defaults to ``https://<region>.log.aliyuncs.com`` (from FC in the
same region, ``https://<region>-intranet.log.aliyuncs.com`` costs no traffic).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from scd_core.errors import ConfigError
from scd_core.invokers.fcsign import Credentials
from scd_core.sinks.cloudurl import credentials, parse_sink_url
from scd_core.sinks.sls import SlsLogSink

__all__ = ["FORM", "make_client", "open_sls_sink"]

FORM = "sls://PROJECT/LOGSTORE?region=REGION[&endpoint=URL]"
_PROJECT = re.compile(r"[a-z0-9][a-z0-9-]{1,61}[a-z0-9]")
_LOGSTORE = re.compile(r"[a-z0-9][a-z0-9_-]{1,61}[a-z0-9]")


def make_client(region: str, creds: Credentials, endpoint: str | None = None) -> Any:
    """An SLS ``LogClient`` with the given key (and STS token)."""
    from aliyun.log import LogClient

    return LogClient(
        endpoint or f"https://{region}.log.aliyuncs.com",
        creds.access_key_id,
        creds.access_key_secret,
        securityToken=creds.security_token,
        region=region,
    )


def open_sls_sink(url: str, environ: Mapping[str, str] | None = None) -> SlsLogSink:
    """The sink named by an ``sls://`` URL; ConfigError naming SCD_LOG_SINK when it is bad."""
    parsed = parse_sink_url(url, FORM, frozenset())
    if not _PROJECT.fullmatch(parsed.name):
        raise ConfigError(f"SCD_LOG_SINK: {parsed.name!r} is not an SLS project name")
    if not _LOGSTORE.fullmatch(parsed.path):
        raise ConfigError(f"SCD_LOG_SINK: {parsed.path!r} is not an SLS logstore name ({FORM})")
    client = make_client(parsed.region, credentials(environ), parsed.endpoint)
    return SlsLogSink(client, parsed.name, parsed.path)
