"""Process settings read from the environment.

Contract: ``Settings.from_env(environ)`` reads only ``SCD_*`` variables and never
touches the file system; defaults are derived (``store`` and ``log_sink`` from
``data_dir``). The
settings hold locations and switches, never secret values, so ``repr`` is safe
to log. A malformed value is a ``ConfigError`` naming the variable.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from scd_core.errors import ConfigError

__all__ = ["DEFAULT_MAX_BODY_BYTES", "WORKER_TOKEN_HEADER", "Settings"]

#: The header that carries ``Settings.worker_token`` from an invoker to a worker.
WORKER_TOKEN_HEADER = "x-scd-worker-token"  # noqa: S105  # a header name, not a secret

# GitHub caps webhook payloads at 25 MB; anything larger is not a real delivery.
DEFAULT_MAX_BODY_BYTES = 25 * 1024 * 1024

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


class Settings(BaseModel):
    """Where scd finds its config and state, and which backends it opens."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    config: Path = Path("scd.yaml")
    data_dir: Path = Path(".scd")
    store: str = ""  # empty: sqlite:///<data_dir>/scd.db, filled in at validation
    invoker: str = "memory://"
    log_sink: str = ""  # empty: file:///<data_dir>/logs, filled in at validation
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    scheduler: bool = False
    scheduler_grace_seconds: float = 300.0
    # Trust FC's x-fc-control-path header on /invoke (clients cannot set x-fc-* on FC).
    trust_fc_headers: bool = False
    # Worker: a run's lease lasts this long unless renewed (every third of it).
    lease_ttl_seconds: float = Field(default=30.0, gt=0)
    # Worker: seconds between SIGTERM and SIGKILL when a step is cancelled.
    step_grace_seconds: float = Field(default=10.0, ge=0)
    # Apps API: may an app name a repository on this machine's disk (file:// or a path)?
    allow_local_repos: bool = True
    # Worker: when set, /invoke, /initialize and /pre-stop need it in WORKER_TOKEN_HEADER
    # (scd serve makes one at start for its invoker and workers; FC needs none: only
    # InvokeFunction with the account's credentials reaches an event function).
    worker_token: SecretStr | None = None
    # Worker: confine steps to their workspace: "auto" (bubblewrap where it can run),
    # "bwrap" (required: the worker refuses to start without it) or "none".
    sandbox: Literal["auto", "bwrap", "none"] = "auto"
    # FC prices for run costs, name=value pairs over scd_core.billing.DEFAULT_FC_PRICES
    fc_prices: str = ""

    @field_validator("fc_prices")
    @classmethod
    def _check_prices(cls, value: str) -> str:
        from scd_core.billing import prices  # billing imports the models: not at start-up

        try:
            prices(value)
        except ConfigError as exc:
            raise ValueError(str(exc)) from exc
        return value
    # Where users reach the trigger (commit statuses and callbacks link runs there).
    public_url: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _default_store(cls, data: Any) -> Any:
        # The store and the logs live in data_dir unless named, so one variable
        # moves all state.
        if isinstance(data, dict) and not (data.get("store") and data.get("log_sink")):
            data = dict(data)
            data_dir = Path(data.get("data_dir", ".scd"))
            data["store"] = data.get("store") or f"sqlite:///{data_dir / 'scd.db'}"
            data["log_sink"] = data.get("log_sink") or f"file:///{data_dir / 'logs'}"
        return data

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``SCD_*`` variables (``os.environ`` by default).

        Raises ``ConfigError`` naming the variable whose value is malformed.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for name, field in (
            ("SCD_CONFIG", "config"),
            ("SCD_DATA_DIR", "data_dir"),
            ("SCD_STORE", "store"),
            ("SCD_INVOKER", "invoker"),
            ("SCD_WORKER_TOKEN", "worker_token"),
            ("SCD_SANDBOX", "sandbox"),
            ("SCD_LOG_SINK", "log_sink"),
            ("SCD_FC_PRICES", "fc_prices"),
            ("SCD_PUBLIC_URL", "public_url"),
        ):
            if env.get(name):
                values[field] = env[name]
        for name, field in (
            ("SCD_MAX_BODY_BYTES", "max_body_bytes"),
            ("SCD_SCHEDULER_GRACE_SECONDS", "scheduler_grace_seconds"),
            ("SCD_LEASE_TTL_SECONDS", "lease_ttl_seconds"),
            ("SCD_STEP_GRACE_SECONDS", "step_grace_seconds"),
        ):
            if env.get(name):
                values[field] = env[name]
        for name, field in (
            ("SCD_SCHEDULER", "scheduler"),
            ("SCD_ALLOW_LOCAL_REPOS", "allow_local_repos"),
        ):
            if name in env:
                values[field] = _flag(name, env[name])
        if "SCD_TRUST_FC_HEADERS" in env:
            values["trust_fc_headers"] = _flag("SCD_TRUST_FC_HEADERS", env["SCD_TRUST_FC_HEADERS"])
        elif env.get("FC_FUNCTION_NAME"):
            values["trust_fc_headers"] = True  # running on Function Compute
        try:
            return cls.model_validate(values)
        except ValidationError as exc:
            err = exc.errors()[0]
            field = str(err["loc"][0]) if err["loc"] else "?"
            var = "SCD_" + field.upper()
            raise ConfigError(f"environment variable {var}: {err['msg']}") from exc


def _flag(name: str, raw: str) -> bool:
    value = raw.strip().lower()
    if value in _TRUE:
        return True
    if value in _FALSE:
        return False
    raise ConfigError(f"environment variable {name}: expected true or false")
