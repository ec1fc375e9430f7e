"""The embedded defaults of ``scd serve`` and what ``scd demo`` shares with them.

Contract: with no config file, ``scd serve`` serves one app, ``demo``, whose
repository is the local git repository ``scd demo`` creates under the data dir
(``<data_dir>/demo/repo``), whose webhook secret is ``SCD_DEMO_SECRET`` or
``DEMO_SECRET``, and one API token, ``DEMO_TOKEN`` (scopes read and trigger).
Both are well known, so the embedded defaults are for loopback only: ``scd
serve`` refuses another host without a config file. The demo pipeline is
``examples/demo/serverless-pipeline.yaml``; its text is embedded here too, so
an installed ``scd`` (without the source tree) still has it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

__all__ = [
    "DEMO_APP",
    "DEMO_PIPELINE",
    "DEMO_SECRET",
    "DEMO_TOKEN",
    "ConfigChoice",
    "choose_config",
    "demo_pipeline_text",
    "demo_repo",
    "demo_secret",
    "embedded_config",
]

DEMO_APP = "demo"
DEMO_SECRET = "scd-demo-secret"  # noqa: S105 - a published demo value, loopback only
DEMO_TOKEN = "scd-demo-token"  # noqa: S105 - a published demo value, loopback only
DEMO_PIPELINE = """\
# The pipeline `scd demo` commits to its local demo repository (a copy of this file).
name: demo
env:
  GREETING: hello from scd
steps:
  - id: hello
    name: Say hello
    run: |
      echo "$GREETING"
      git log -1 --format='checked out %h: %s'
  - id: build
    name: Build
    run: |
      mkdir -p dist
      ls > dist/files.txt
      echo "built dist/files.txt ($(wc -l < dist/files.txt) entries)"
  - id: test
    name: Test
    run: |
      test -s dist/files.txt
      echo "tests passed"
"""

_EMBEDDED = """\
# Written by `scd serve` when no scd.yaml was found: its embedded defaults.
# Loopback only: the demo secret and token below are published values.
apps:
  - name: {app}
    repo: {repo}
    provider: github
    secret: ${{env:SCD_DEMO_SECRET}}
    trigger:
      push:
        branches: [main]
      manual: true
tokens:
  - name: demo
    sha256: {digest}
    scopes: [read, trigger]
"""


@dataclass(frozen=True)
class ConfigChoice:
    """The scd.yaml ``scd serve`` uses, and whether it is the embedded one."""

    path: Path
    embedded: bool


def demo_secret(environ: Mapping[str, str] | None = None) -> str:
    """The demo app's webhook secret: ``SCD_DEMO_SECRET`` if set, else ``DEMO_SECRET``."""
    env = os.environ if environ is None else environ
    return env.get("SCD_DEMO_SECRET") or DEMO_SECRET


def demo_repo(data_dir: Path) -> Path:
    """Where ``scd demo`` keeps its git repository (absolute)."""
    return data_dir.resolve() / "demo" / "repo"


def demo_pipeline_text() -> str:
    """The demo pipeline: the examples file when the source tree is present, else embedded."""
    example = Path(__file__).resolve().parents[2] / "examples" / "demo" / "serverless-pipeline.yaml"
    try:
        return example.read_text(encoding="utf-8")
    except OSError:
        return DEMO_PIPELINE


def embedded_config(data_dir: Path) -> str:
    """The text of the embedded scd.yaml for ``data_dir``."""
    digest = hashlib.sha256(DEMO_TOKEN.encode()).hexdigest()
    repo = demo_repo(data_dir).as_uri()
    return _EMBEDDED.format(app=DEMO_APP, repo=repo, digest=digest)


def choose_config(option: Path | None, data_dir: Path, environ: Mapping[str, str]) -> ConfigChoice:
    """The config to serve: ``--config``, else ``SCD_CONFIG``, else ``./scd.yaml``, else
    the embedded defaults (written to ``<data_dir>/scd.embedded.yaml`` so the worker
    processes read the same file)."""
    if option is not None:
        return ConfigChoice(option, embedded=False)
    if environ.get("SCD_CONFIG"):
        return ConfigChoice(Path(environ["SCD_CONFIG"]), embedded=False)
    local = Path("scd.yaml")
    if local.is_file():
        return ConfigChoice(local, embedded=False)
    path = data_dir / "scd.embedded.yaml"
    data_dir.mkdir(parents=True, exist_ok=True)
    path.write_text(embedded_config(data_dir), encoding="utf-8")
    return ConfigChoice(path, embedded=True)
