"""What runs where on Function Compute: the runtime, its Python, and each function's code.

``RUNTIME`` and ``PYTHON_VERSION`` must agree with s.yaml (a test checks it):
custom.debian11 ships Python 3.12 at ``/var/fc/lang/python3.12`` (reference/FC.md
section 1.1). ``FUNCTIONS`` says, per s.yaml resource, which ASGI app its
``bootstrap`` serves, which source files of this repository it ships and which
distributions it needs (their dependencies are added from uv.lock). The lists are
closed on purpose: the trigger ships no engine, the worker no webhook code, no
function ships tests, the CLI or dev tools.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["FUNCTIONS", "PLATFORM", "PYTHON_VERSION", "RUNTIME", "RUNTIME_PYTHON", "FunctionCode"]

RUNTIME = "custom.debian11"
PYTHON_VERSION = "3.12"
# where the runtime's interpreter lives; the bootstrap falls back to python3 on PATH
RUNTIME_PYTHON = "/var/fc/lang/python3.12/bin/python3"
# FC instances are x86_64 Linux; manylinux2014 (glibc 2.17) wheels run on Debian 11
PLATFORM = "x86_64-manylinux2014"

# both functions serve HTTP with uvicorn and its C speed-ups (not its reload or websockets)
_SERVER = ("uvicorn", "uvloop", "httptools")
# the libraries' source roots, relative to the repository root, and their packages
_CORE = ("libs/core", "scd_core")
_TRIGGER_SPEC = ("libs/trigger_spec", "scd_trigger_spec")
_ENGINE = ("libs/engine", "scd_engine")


@dataclass(frozen=True)
class FunctionCode:
    """One function's code directory.

    ``app`` is the ``module:attribute`` uvicorn serves. ``sources`` are
    ``(root, path)`` pairs: ``path`` (a package directory or a module file),
    relative to ``root`` in this repository, is copied to the same relative path
    in the code directory. ``requires`` are distribution names; their
    dependencies are closed over from the lock.
    """

    name: str
    app: str
    sources: tuple[tuple[str, str], ...]
    requires: tuple[str, ...]


FUNCTIONS: tuple[FunctionCode, ...] = (
    FunctionCode(
        name="trigger",
        app="functions.trigger.app:app",
        sources=(
            (".", "functions/__init__.py"),
            (".", "functions/trigger"),
            (".", "functions/appconfig"),
            (".", "functions/report"),  # the delivery log and badges read its outbox
            _CORE,
            _TRIGGER_SPEC,
        ),
        requires=(*_SERVER, "fastapi", "pydantic", "pyyaml", "croniter", "jinja2"),
    ),
    FunctionCode(
        name="worker",
        app="functions.worker.app:app",
        sources=(
            (".", "functions/__init__.py"),
            (".", "functions/worker"),
            (".", "functions/report"),  # commit statuses, callbacks, notifications
            # scd.yaml's loader (apps and their secrets), which reads the tokens' models
            (".", "functions/appconfig"),
            (".", "functions/trigger/__init__.py"),
            (".", "functions/trigger/auth.py"),
            _CORE,
            _TRIGGER_SPEC,
            _ENGINE,
        ),
        requires=(*_SERVER, "fastapi", "pydantic", "pyyaml", "croniter", "httpx"),
    ),
    FunctionCode(
        name="failure-handler",
        app="functions.failure_handler.app:app",
        sources=(
            (".", "functions/__init__.py"),
            (".", "functions/failure_handler"),
            _CORE,
        ),
        # the store and the sink only: no engine, no webhook code, no FastAPI, and
        # plain uvicorn (a few records a day need no uvloop: 16 MB less)
        requires=("uvicorn", "starlette", "pydantic", "pyyaml"),
    ),
)
