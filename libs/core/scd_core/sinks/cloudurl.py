"""The parts of a cloud log sink URL (``oss://`` and ``sls://``) and the credentials it needs.

Both URLs have the form ``scheme://<name>/<path>?region=<region>[&endpoint=URL]...``;
every problem is a ``ConfigError`` that names ``SCD_LOG_SINK`` and says what is
wrong, and never quotes a credential (the URL carries none: keys come from
``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET``/``_SECURITY_TOKEN``).
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import parse_qs, urlsplit

from scd_core.errors import AuthError, ConfigError
from scd_core.invokers.fcsign import Credentials

__all__ = ["SinkURL", "credentials", "parse_sink_url"]

_REGION = re.compile(r"[a-z]{2}-[a-z0-9-]+")


@dataclass(frozen=True)
class SinkURL:
    """``scheme://name/path?region=...``: ``endpoint`` is None unless given."""

    scheme: str
    name: str
    path: str
    region: str
    endpoint: str | None
    options: Mapping[str, str]


def _bad(url: str, why: str) -> ConfigError:
    return ConfigError(f"SCD_LOG_SINK: log sink URL {url!r} {why}")


def parse_sink_url(url: str, form: str, allowed: frozenset[str]) -> SinkURL:
    """Split ``url``; ``form`` is the expected shape, quoted in errors.

    ``allowed`` names the query keys accepted besides ``region`` and ``endpoint``.
    """
    parts = urlsplit(url)
    name, path = parts.netloc, parts.path.strip("/")
    if not name or parts.fragment:
        raise _bad(url, f"needs the form {form}")
    try:
        query = parse_qs(parts.query, keep_blank_values=True, strict_parsing=bool(parts.query))
    except ValueError:
        raise _bad(url, f"has a malformed query (form: {form})") from None
    unknown = sorted(set(query) - allowed - {"region", "endpoint"})
    if unknown:
        raise _bad(url, f"has unknown option(s) {', '.join(unknown)} (form: {form})")
    if any(len(values) > 1 for values in query.values()):
        raise _bad(url, "repeats an option")
    options = {key: values[0] for key, values in query.items()}
    region = options.pop("region", "")
    if not _REGION.fullmatch(region):
        raise _bad(url, f"needs region=<region>, e.g. region=cn-hangzhou (form: {form})")
    endpoint = options.pop("endpoint", None)
    if endpoint is not None and urlsplit(endpoint).scheme not in ("http", "https"):
        raise _bad(url, "has an endpoint that is not an http(s) URL")
    return SinkURL(parts.scheme, name, path, region, endpoint, options)


def credentials(environ: Mapping[str, str] | None = None) -> Credentials:
    """The Alibaba Cloud key from the environment, or a ConfigError naming what is missing."""
    try:
        return Credentials.from_env(os.environ if environ is None else environ)
    except AuthError as exc:
        raise ConfigError(f"SCD_LOG_SINK: a cloud log sink needs credentials: {exc}") from None
