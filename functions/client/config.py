"""The CLI's own settings file: the default server and a token per server.

Contract: the file is ``$XDG_CONFIG_HOME/scd/config.json`` (``~/.config/scd/...``
when the variable is unset or not absolute), holding ``{"server": URL,
"tokens": {URL: TOKEN}}``. :func:`resolve` picks what a command uses, in this
order: the command's flag, then ``SCD_SERVER``/``SCD_TOKEN`` (typer has applied
both before it is called), then this file, then :data:`DEFAULT_SERVER` and no
token. A token is only ever sent to the server it was saved for.
:func:`save_token` writes the file atomically with mode 0600 (its directory
0700). A missing file is an empty one; a file that is not this JSON is
``ConfigError`` naming the path, never its content (it holds tokens).
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from scd_core.errors import ConfigError

__all__ = ["DEFAULT_SERVER", "CliConfig", "config_path", "load", "resolve", "save_token"]

DEFAULT_SERVER = "http://127.0.0.1:9000"


@dataclass
class CliConfig:
    """The file's content: the default server (None: unset) and each server's token."""

    server: str | None = None
    tokens: dict[str, str] = field(default_factory=dict)

    def token_for(self, server: str) -> str | None:
        """The token saved for ``server`` (trailing slashes ignored), or None."""
        return self.tokens.get(_key(server))


def config_path(environ: Mapping[str, str] | None = None) -> Path:
    """Where the file lives for this environment (XDG base directory rules)."""
    env = os.environ if environ is None else environ
    base = env.get("XDG_CONFIG_HOME", "")
    root = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return root / "scd" / "config.json"


def load(path: Path | None = None) -> CliConfig:
    """The file at ``path`` (default: :func:`config_path`); empty if there is none."""
    path = path or config_path()
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return CliConfig()
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read the scd CLI config {path}: {type(exc).__name__}") from None
    server, tokens = raw.get("server") if isinstance(raw, dict) else None, _tokens(raw)
    if not isinstance(raw, dict) or not (server is None or isinstance(server, str)):
        raise ConfigError(f"{path} is not an scd CLI config (expected server and tokens)")
    return CliConfig(server=server, tokens=tokens)


def _tokens(raw: object) -> dict[str, str]:
    tokens = raw.get("tokens", {}) if isinstance(raw, dict) else {}
    if not isinstance(tokens, dict):
        return {}
    return {str(k): v for k, v in tokens.items() if isinstance(v, str)}


def resolve(
    server: str | None, token: str | None, path: Path | None = None
) -> tuple[str, str | None]:
    """The server and token a command uses (flag or environment, then the file)."""
    config = load(path) if server is None or token is None else CliConfig()
    chosen = server or config.server or DEFAULT_SERVER
    return chosen, token or config.token_for(chosen)


def save_token(server: str, token: str | None, path: Path | None = None) -> Path:
    """Save ``token`` for ``server`` and make it the default server; ``token`` None forgets
    the server's token. The path written."""
    path = path or config_path()
    config = load(path)
    config.server = _key(server)
    if token is None:
        config.tokens.pop(_key(server), None)
    else:
        config.tokens[_key(server)] = token
    body = json.dumps({"server": config.server, "tokens": config.tokens}, indent=2) + "\n"
    try:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".config.", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as out:  # mkstemp: mode 0600
                out.write(body)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
    except OSError as exc:
        raise ConfigError(f"cannot write the scd CLI config {path}: {exc.strerror}") from None
    return path


def _key(server: str) -> str:
    return server.rstrip("/")
