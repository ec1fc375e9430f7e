"""Log sink backends and ``open_sink``, which picks one from a URL.

URLs: ``file:///relative/dir`` or ``file:////absolute/dir`` (everything after
``file:///`` is the directory, as for ``sqlite:///`` run stores, so
``f"file:///{data_dir}/logs"`` works for relative and absolute ``data_dir``), and
``memory://`` (in-process, for tests),
``oss://BUCKET/PREFIX?region=REGION[&endpoint=URL]`` (:mod:`scd_core.sinks.oss`)
and ``sls://PROJECT/LOGSTORE?region=REGION[&endpoint=URL]`` (:mod:`scd_core.sinks.sls`);
the cloud ones take their credentials from ``ALIBABA_CLOUD_ACCESS_KEY_ID``/``_SECRET``
(and ``_SECURITY_TOKEN``) and import their SDK only when chosen. Every error is
a ``ConfigError`` naming ``SCD_LOG_SINK`` and what is wrong, so a bad setting
fails start-up with one clear line. Opening a sink creates nothing on disk: the
file sink makes its directories on first write.
"""

from __future__ import annotations

from pathlib import Path

from scd_core.errors import ConfigError
from scd_core.logsink import LogSink
from scd_core.sinks.file import FileLogSink
from scd_core.sinks.memory import MemoryLogSink

__all__ = ["ACCEPTED_URLS", "FileLogSink", "MemoryLogSink", "open_sink"]

ACCEPTED_URLS = (
    "file:///PATH",
    "memory://",
    "oss://BUCKET/PREFIX?region=REGION",
    "sls://PROJECT/LOGSTORE?region=REGION",
)


def open_sink(url: str) -> LogSink:
    """Open the log sink named by ``url``; ``ConfigError`` for an unknown or bad URL.

    Each call opens a new sink object; file sinks on the same directory share
    their logs (a writer in one process, readers in others).
    """
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise _bad(url, "has no scheme")
    if scheme == "memory":
        if rest:
            raise _bad(url, "memory:// takes no path")
        return MemoryLogSink()
    if scheme == "file":
        path = rest[1:] if rest.startswith("/") else ""
        if not path or "?" in path or "#" in path:
            raise _bad(url, "needs a directory: file:///relative or file:////absolute")
        return FileLogSink(Path(path))
    if scheme == "oss":
        from scd_core.sinks.ossclient import open_oss_sink

        return open_oss_sink(url)
    if scheme == "sls":
        from scd_core.sinks.slsclient import open_sls_sink

        return open_sls_sink(url)
    raise _bad(url, f"has an unknown scheme {scheme!r}")


def _bad(url: str, why: str) -> ConfigError:
    return ConfigError(f"SCD_LOG_SINK: log sink URL {url!r} {why} (accepted: {_accepted()})")


def _accepted() -> str:
    return ", ".join(ACCEPTED_URLS)
