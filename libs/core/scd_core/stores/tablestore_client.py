"""The Tablestore run store's boundary with the SDK: one place that calls the client,
retries throttling, translates errors, and opens a client from ``SCD_STORE``.

``OtsCalls.call`` is the only caller of the client: a throttling code (the request
was not applied, so retrying is safe for every operation, conditional writes
included) is retried with exponential backoff and jitter; a timeout is not (a write
may have been applied, and its retry would then fail its own condition).
``OTSConditionCheckFail`` becomes ``Conflict``; anything else ``BackendError`` with
the SDK error chained. Messages carry Tablestore's error code and text only: the
SDK's errors never hold credentials, and no request is echoed.
"""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from typing import Any
from urllib.parse import parse_qs, urlsplit

from scd_core.errors import BackendError, BadRequest, ConfigError, Conflict

__all__ = [
    "RETRIED_CODES",
    "OtsCalls",
    "columns_of",
    "control_ttl",
    "kv_key",
    "open_client",
    "parse_url",
]

RETRIED_CODES = frozenset(
    {
        "OTSServerBusy",
        "OTSNotEnoughCapacityUnit",
        "OTSOperationThrottled",
        "OTSPartitionUnavailable",
        "OTSTableNotReady",
        "OTSRowOperationConflict",
        "OTSQuotaExhausted",
    }
)
MAX_KEY_BYTES = 1024


class OtsCalls:
    """Calls a ``tablestore.OTSClient`` (or a double with its methods) for one store.

    Thread-safe as the client is (the SDK pools connections). ``close`` makes every
    later call raise ``BackendError``.
    """

    def __init__(self, client: Any, *, attempts: int = 6, base_delay_s: float = 0.05) -> None:
        self.client = client
        self._attempts = attempts
        self._base_delay_s = base_delay_s
        self._closed = threading.Event()

    def close(self) -> None:
        self._closed.set()

    def check_open(self) -> None:
        if self._closed.is_set():
            raise BackendError("the run store is closed")

    def call(self, method: str, *args: Any, **kwargs: Any) -> Any:
        """``client.<method>(*args, **kwargs)``, retried on throttling, errors translated."""
        from tablestore import OTSClientError, OTSServiceError

        self.check_open()
        for attempt in range(self._attempts):
            try:
                return getattr(self.client, method)(*args, **kwargs)
            except OTSServiceError as exc:
                code = exc.get_error_code()
                if code == "OTSConditionCheckFail":
                    raise Conflict("a Tablestore condition did not hold") from exc
                if code in RETRIED_CODES and attempt + 1 < self._attempts:
                    delay = self._base_delay_s * 2**attempt
                    time.sleep(delay * (0.5 + random.random()))  # noqa: S311 (jitter)
                    continue
                raise BackendError(
                    f"Tablestore {method} failed: {code}: {exc.get_error_message()}"
                ) from exc
            except OTSClientError as exc:
                raise BackendError(
                    f"Tablestore {method} failed: {exc.get_error_message()}"
                ) from exc
            except Exception as exc:  # the SDK lets network errors (urllib3) through
                raise BackendError(
                    f"Tablestore {method} failed: {type(exc).__name__} (endpoint unreachable?)"
                ) from exc
        raise AssertionError("unreachable")  # pragma: no cover


def columns_of(row: Any) -> dict[str, Any]:
    """A returned row's attribute columns as a dict (values only)."""
    if row is None:
        return {}
    return {column[0]: column[1] for column in row.attribute_columns}


def kv_key(kind: str, key: str) -> str:
    """The ``kv`` table key of ``key`` of ``kind``: ``kind:key``, or ``kind:#<sha256>``
    when that passes the 1 KB primary key limit. ``BadRequest`` if ``key`` is not
    valid Unicode (a lone surrogate), which no Tablestore string can hold."""
    try:
        raw = key.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise BadRequest(f"a {kind} key must be valid Unicode") from exc
    full = f"{kind}:{key}"
    if len(full.encode("utf-8")) <= MAX_KEY_BYTES:
        return full
    return f"{kind}:#{hashlib.sha256(raw).hexdigest()}"


def parse_url(url: str) -> tuple[str, str | None, str]:
    """``(instance, endpoint or None, prefix)`` from ``tablestore://INSTANCE?endpoint=
    URL&prefix=scd_`` (``region`` and ``control_ttl`` are read elsewhere);
    ``ConfigError`` naming ``SCD_STORE`` when malformed."""
    parts = urlsplit(url)
    instance = parts.netloc
    if not instance or parts.path not in ("", "/"):
        raise ConfigError(
            f"SCD_STORE {url!r}: expected tablestore://INSTANCE[?endpoint=URL&prefix=scd_]"
        )
    query = parse_qs(parts.query, keep_blank_values=True)
    unknown = sorted(set(query) - {"endpoint", "prefix", "region", "control_ttl"})
    if unknown:
        raise ConfigError(f"SCD_STORE: unknown tablestore option(s) {', '.join(unknown)}")
    endpoint = query.get("endpoint", [None])[-1]
    prefix = query.get("prefix", ["scd_"])[-1]
    if not prefix.replace("_", "").isalnum() or not prefix[0].isalpha():
        raise ConfigError(f"SCD_STORE: prefix {prefix!r} must be letters, digits and _")
    if endpoint is not None and not endpoint.startswith(("http://", "https://")):
        raise ConfigError(f"SCD_STORE: endpoint {endpoint!r} must be an http(s) URL")
    return instance, endpoint, prefix


def control_ttl(url: str) -> float:
    """The ``control_ttl`` of a store URL in seconds (default 1.0; 0 to 30); ``ConfigError``
    naming ``SCD_STORE`` when it is not such a number."""
    raw = parse_qs(urlsplit(url).query).get("control_ttl", ["1.0"])[-1]
    try:
        value = float(raw)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 30:
        raise ConfigError(f"SCD_STORE: control_ttl {raw!r} must be seconds from 0 to 30")
    return value


def open_client(url: str, environ: dict[str, str] | None = None) -> tuple[Any, str]:
    """A ``tablestore.OTSClient`` for ``SCD_STORE=url`` and its table prefix.

    Credentials come from ``ALIBABA_CLOUD_ACCESS_KEY_ID``, ``_SECRET`` and the
    optional ``_SECURITY_TOKEN``; a missing one is a ``ConfigError`` naming it. The
    endpoint defaults to ``https://INSTANCE.REGION.ots.aliyuncs.com`` with the region
    from ``?region=`` or ``FC_REGION`` (set on Function Compute). The SDK's own
    retries are off: ``OtsCalls`` retries, so a double exercises the same path.
    """
    env = os.environ if environ is None else environ
    instance, endpoint, prefix = parse_url(url)
    key_id = env.get("ALIBABA_CLOUD_ACCESS_KEY_ID", "")
    secret = env.get("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "")
    for name, value in (
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", key_id),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", secret),
    ):
        if not value:
            raise ConfigError(f"SCD_STORE=tablestore:// needs {name} in the environment")
    if endpoint is None:
        region = parse_qs(urlsplit(url).query).get("region", [env.get("FC_REGION", "")])[-1]
        if not region:
            raise ConfigError(
                "SCD_STORE=tablestore:// needs ?endpoint=URL or ?region= (or FC_REGION)"
            )
        endpoint = f"https://{instance}.{region}.ots.aliyuncs.com"
    try:
        from tablestore import NoRetryPolicy, OTSClient
    except ImportError as exc:
        raise ConfigError(
            "SCD_STORE=tablestore:// needs the tablestore SDK: pip install 'scd-core[tablestore]'"
        ) from exc
    client = OTSClient(
        endpoint,
        key_id,
        secret,
        instance,
        sts_token=env.get("ALIBABA_CLOUD_SECURITY_TOKEN") or None,
        retry_policy=NoRetryPolicy(),
        socket_timeout=30,
    )
    return client, prefix
