"""Building each function's FC code directory: sources, linux wheels, bytecode, bootstrap.

``build_package(code, root, out, ...)`` makes ``out/<code.name>/`` from nothing
(an existing one is replaced), in this order:

1. the function's distributions (``FunctionCode.requires``) and their
   dependencies installed as wheels for FC (``PLATFORM``, CPython
   ``python_version``) with ``uv pip install --target --no-build``, every version
   pinned by the lock (``uv export`` gives the pins, passed as constraints);
   console scripts and the test suites some packages carry are removed;
2. its own sources from this repository (``FunctionCode.sources``), test helpers
   (``testing.py``) and caches left out;
3. ``scd.yaml`` (the ``config`` given) beside them, where s.yaml's
   ``SCD_CONFIG=/code/scd.yaml`` finds it;
4. an executable ``bootstrap`` that serves ``FunctionCode.app`` with uvicorn on
   ``0.0.0.0:${FC_CUSTOM_LISTEN_PORT:-9000}`` with the runtime's Python;
5. bytecode compiled by a Python of ``python_version`` (``find_python``) in
   unchecked-hash mode: /code is read-only on FC and a zip round trip changes
   mtimes, so timestamp-checked bytecode would be recompiled at every cold start.
   Without such a Python the step is skipped and ``Built.bytecode`` is False.

Needs ``uv`` (the one running ``scd``, on PATH or importable). Errors:
``ConfigError`` for a missing input, ``BackendError`` when uv or the compiler
fails (their stderr's last lines in the message). Not concurrent-safe for one
``out`` directory.
"""

from __future__ import annotations

import glob
import importlib.util
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from scd_core.errors import BackendError, ConfigError

from functions.fc.runtime import PLATFORM, PYTHON_VERSION, RUNTIME_PYTHON, FunctionCode

__all__ = ["Built", "build_package", "directory_size", "find_python", "lock_constraints"]

_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "testing.py", "py.typed")
_BOOTSTRAP = """#!/bin/sh
# scd {name} on Function Compute's custom runtime ({runtime_python}), or anywhere
# with SCD_PYTHON naming an interpreter: uvicorn on 0.0.0.0:$FC_CUSTOM_LISTEN_PORT.
set -e
here=$(cd "$(dirname "$0")" && pwd)
python=${{SCD_PYTHON:-}}
if [ -z "$python" ]; then
  if [ -x {runtime_python} ]; then python={runtime_python}; else python=python3; fi
fi
export PYTHONPATH="$here"
export PYTHONDONTWRITEBYTECODE=1
exec "$python" -s -m uvicorn {app} --host 0.0.0.0 --port "${{FC_CUSTOM_LISTEN_PORT:-9000}}"
"""


@dataclass(frozen=True)
class Built:
    """A built code directory: where, how many bytes, and whether bytecode is in it."""

    name: str
    path: Path
    size: int
    bytecode: bool


def build_package(
    code: FunctionCode,
    root: Path,
    out: Path,
    *,
    config: Path,
    constraints: Path,
    python_version: str = PYTHON_VERSION,
    compiler: str | None = None,
    cache_dir: Path | None = None,
) -> Built:
    """Build ``out/<code.name>`` (see the module doc); ``compiler`` is a Python of
    ``python_version`` (None: no bytecode)."""
    if not config.is_file():
        raise ConfigError(f"{config}: scd.yaml not found (give --config)")
    target = out / code.name
    if target.exists():
        shutil.rmtree(target)
    target.mkdir(parents=True)
    _install_wheels(code, target, constraints, python_version, cache_dir)
    for base, rel in code.sources:
        source = root / base / rel
        if source.is_dir():
            shutil.copytree(source, target / rel, ignore=_IGNORED)
        elif source.is_file():
            (target / rel).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target / rel)
        else:
            raise ConfigError(f"{source}: a source of the {code.name} function is missing")
    shutil.copy2(config, target / "scd.yaml")
    bootstrap = target / "bootstrap"
    bootstrap.write_text(
        _BOOTSTRAP.format(name=code.name, app=code.app, runtime_python=RUNTIME_PYTHON),
        encoding="utf-8",
    )
    bootstrap.chmod(bootstrap.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    if compiler is not None:
        compile_all = [compiler, "-m", "compileall", "-q", "-j", "0"]
        _run([*compile_all, "--invalidation-mode", "unchecked-hash", str(target)], "compiling")
    return Built(code.name, target, directory_size(target), compiler is not None)


def lock_constraints(root: Path, dest: Path) -> Path:
    """Write the lock's pins of every third-party distribution to ``dest`` (uv export)."""
    text = _run(
        [*_uv(), "export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-workspace",
         "--no-header", "--no-annotate", "--all-packages", "--directory", str(root)],
        "reading the lock (uv export)",
    )  # fmt: skip
    dest.write_text(text, encoding="utf-8")
    return dest


def find_python(version: str) -> str | None:
    """A Python interpreter of ``version`` (``3.12``) on this machine, or None.

    Looks at ``SCD_PACKAGE_PYTHON``, the running interpreter, ``pythonX.Y`` on PATH
    and in the usual install places (pyenv's included), checking each one's version.
    """
    names = [os.environ.get("SCD_PACKAGE_PYTHON", ""), sys.executable]
    names.append(shutil.which(f"python{version}") or "")
    for pattern in (
        f"/usr/bin/python{version}",
        f"/usr/local/bin/python{version}",
        os.path.expanduser(f"~/.pyenv/versions/{version}.*/bin/python{version}"),
        os.path.expanduser(f"~/.local/share/uv/python/cpython-{version}.*/bin/python{version}"),
    ):
        names += sorted(glob.glob(pattern))
    for name in filter(None, names):
        try:
            found = subprocess.run(
                [name, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
        except OSError:
            continue
        if found.returncode == 0 and found.stdout.strip() == version:
            return name
    return None


def directory_size(path: Path) -> int:
    """Bytes of the regular files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())


def _install_wheels(
    code: FunctionCode, target: Path, constraints: Path, python_version: str, cache: Path | None
) -> None:
    command = [
        *_uv(), "pip", "install", "--quiet", "--target", str(target),
        "--python-platform", PLATFORM, "--python-version", python_version,
        "--no-build", "--no-config", "--constraint", str(constraints),
        *(["--cache-dir", str(cache)] if cache is not None else []),
        *code.requires,
    ]  # fmt: skip
    _run(command, f"installing the {code.name} function's wheels")
    # console scripts point at this machine's interpreter; FC never runs them
    shutil.rmtree(target / "bin", ignore_errors=True)
    for cache_dir in target.rglob("__pycache__"):
        shutil.rmtree(cache_dir, ignore_errors=True)
    # test suites some distributions ship inside their package (croniter's)
    for suite in [*target.glob("*/tests"), *target.glob("*/test")]:
        if suite.is_dir() and any(suite.glob("test_*.py")):
            shutil.rmtree(suite)


def _uv() -> list[str]:
    # UV: the uv running this process (`uv run` sets it), wherever it is installed
    found = os.environ.get("UV") or shutil.which("uv")
    if found:
        return [found]
    if importlib.util.find_spec("uv") is not None:
        return [sys.executable, "-m", "uv"]
    raise ConfigError("scd package needs uv (https://docs.astral.sh/uv/): pip install uv")


def _run(command: Sequence[str], what: str) -> str:
    try:
        done = subprocess.run(command, capture_output=True, text=True, check=False, timeout=1800)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackendError(f"{what}: {type(exc).__name__}: {exc}") from exc
    if done.returncode != 0:
        tail = "\n".join(done.stderr.strip().splitlines()[-8:])
        raise BackendError(f"{what} failed (exit {done.returncode}):\n{tail}")
    return done.stdout
