"""npm plugins: which names are npm packages, and the install cache they run from.

Contract: :func:`npm_spec` says whether a ``uses:``/``plugin:`` name is an npm
package (``@scope/name``, ``@scope/name@1.2``, ``name@1.2``, ``npm:name``) and
gives the spec to install. :func:`install` makes sure the spec is installed under
``<cache_dir>/npm/<sha256 of what is installed>`` and returns the package's
directory; :func:`install_dependencies` does the same for the dependencies of a
local plugin's ``package.json``. The cache is content-addressed and shared by
every run that uses the same cache dir: each install happens once, into a
temporary directory renamed into place, so concurrent runs either both install
(one rename wins, the other copy is discarded) or reuse the finished one, never
half of one. Each install leaves ``scd-install.json`` (what was asked, the version
and every package npm put there: a lockfile-like record) beside npm's own
``package-lock.json``. An unpinned name is installed at the version that was
latest at first use and kept: pin a version to move. Errors (npm missing, a
failed install) raise :class:`InstallError` with npm's last lines.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from scd_core.errors import ScdError

__all__ = ["InstallError", "NpmSpec", "install", "install_dependencies", "npm_spec"]

_NAME = re.compile(r"(@[a-z0-9][\w.-]*/)?[a-z0-9][\w.-]*", re.IGNORECASE)
_VERSION = re.compile(r"[\w.^~<>=*|+-]+")
_INSTALL_TIMEOUT_S = 600.0


class InstallError(ScdError):
    """npm could not install a plugin."""

    code = "plugin_error"


@dataclass(frozen=True)
class NpmSpec:
    """An npm package a step names: ``name`` and ``version`` (None: latest at first use)."""

    name: str
    version: str | None

    @property
    def spec(self) -> str:
        """What ``npm install`` is given."""
        return self.name if self.version is None else f"{self.name}@{self.version}"


def npm_spec(name: str) -> NpmSpec | None:
    """The npm package ``name`` means, or None when it is not an npm name."""
    text = name.strip()
    explicit = text.startswith("npm:")
    if explicit:
        text = text[4:]
    elif not text.startswith("@") and "@" not in text:
        return None  # a plain word stays a built-in or an entry point
    at = text.find("@", 1)
    package, version = (text, None) if at < 0 else (text[:at], text[at + 1 :])
    if not _NAME.fullmatch(package) or (version is not None and not _VERSION.fullmatch(version)):
        return None
    return NpmSpec(package, version or None)


def install(
    spec: NpmSpec, cache_dir: Path, *, env: Mapping[str, str], log: Callable[[str], None]
) -> Path:
    """The installed package's directory, installing ``spec`` on first use (see module doc)."""
    manifest = '{"name": "scd-plugin", "private": true}\n'
    home = _ensure(cache_dir, spec.spec, manifest, None, [spec.spec], spec.name, env, log)
    return home / "node_modules" / spec.name


def install_dependencies(
    plugin_dir: Path, cache_dir: Path, *, env: Mapping[str, str], log: Callable[[str], None]
) -> Path | None:
    """``node_modules`` holding the dependencies of a local plugin's ``package.json``,
    installed once per content of that file (and its ``package-lock.json``); None when
    the plugin has no dependencies or brings its own ``node_modules``."""
    manifest_path = plugin_dir / "package.json"
    if (plugin_dir / "node_modules").is_dir() or not manifest_path.is_file():
        return None
    manifest = manifest_path.read_text(encoding="utf-8")
    try:
        deps = json.loads(manifest).get("dependencies")
    except (ValueError, AttributeError) as exc:
        raise InstallError(f"{manifest_path.name} of plugin {plugin_dir.name}: {exc}") from exc
    if not deps:
        return None
    lock_path = plugin_dir / "package-lock.json"
    lock = lock_path.read_text(encoding="utf-8") if lock_path.is_file() else None
    label = f"the dependencies of {plugin_dir.name}"
    return _ensure(cache_dir, label, manifest, lock, [], None, env, log) / "node_modules"


def _ensure(
    cache_dir: Path,
    label: str,
    manifest: str,
    lock: str | None,
    packages: list[str],
    main: str | None,
    env: Mapping[str, str],
    log: Callable[[str], None],
) -> Path:
    """The cache entry for this install (keyed by its content), made on first use."""
    root = cache_dir / "npm"
    digest = hashlib.sha256("\0".join([manifest, lock or "", *packages]).encode()).hexdigest()
    home = root / digest[:32]
    if (home / "scd-install.json").is_file():
        log(f"Using {label} from the plugin cache ({_recorded_version(home)})")
        return home
    npm = shutil.which("npm", path=env.get("PATH"))
    if npm is None:
        raise InstallError(
            f"installing {label} needs npm on PATH; hint: install Node.js and npm"
            " (Debian: apt-get install nodejs npm)"
        )
    root.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f"{digest[:32]}.part-", dir=root))
    try:
        log(f"Installing {label} with npm (once: later runs reuse the plugin cache)")
        started = time.monotonic()
        (work / "package.json").write_text(manifest, encoding="utf-8")
        if lock is not None:
            (work / "package-lock.json").write_text(lock, encoding="utf-8")
        _npm_install(npm, label, packages, work, env)
        if main is not None and not (work / "node_modules" / main).is_dir():
            raise InstallError(f"npm install {label} left no node_modules/{main}")
        _record(label, main, work, time.monotonic() - started)
        try:
            os.rename(work, home)
        except OSError:
            if not (home / "scd-install.json").is_file():
                raise  # not a concurrent install that won the race
    finally:
        shutil.rmtree(work, ignore_errors=True)
    log(f"Installed {label} ({_recorded_version(home)})")
    return home


def _npm_install(
    npm: str, label: str, packages: list[str], work: Path, env: Mapping[str, str]
) -> None:
    argv = [npm, "install", "--no-audit", "--no-fund", "--no-update-notifier", *packages]
    try:
        done = subprocess.run(  # an argv, no shell
            argv,
            cwd=work,
            env={**env, "npm_config_loglevel": "error"},
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=_INSTALL_TIMEOUT_S,
            check=False,
        )
    except subprocess.TimeoutExpired as exc:
        raise InstallError(f"npm install {label} took over {_INSTALL_TIMEOUT_S:g} s") from exc
    except OSError as exc:
        raise InstallError(f"cannot start npm: {exc.strerror or exc}") from exc
    if done.returncode != 0:
        tail = "\n".join((done.stderr or done.stdout).strip().splitlines()[-12:])
        raise InstallError(f"npm install {label} failed (exit {done.returncode}):\n{tail}")


def _record(label: str, main: str | None, work: Path, seconds: float) -> None:
    lock_path = work / "package-lock.json"
    packages: dict[str, str] = {}
    if lock_path.is_file():
        lock = json.loads(lock_path.read_text(encoding="utf-8"))
        for where, meta in (lock.get("packages") or {}).items():
            if where.startswith("node_modules/") and isinstance(meta, dict):
                packages[where[len("node_modules/") :]] = str(meta.get("version", ""))
    record = {
        "what": label,
        "version": packages.get(main, "") if main else "",
        "installed_in_s": round(seconds, 2),
        "packages": packages,
    }
    (work / "scd-install.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")


def _recorded_version(home: Path) -> str:
    try:
        record = json.loads((home / "scd-install.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "version unknown"
    if record.get("version"):
        return f"version {record['version']}"
    return f"{len(record.get('packages') or {})} packages"
