"""One error tree for scd.

::

    ScdError                      base; ``str(exc)`` is safe to show a user
    ├── ConfigError               bad settings or scd.yaml (names file, line, field)
    ├── SpecError                 a spec failed validation; ``.problems`` lists each
    ├── NotFound                  an app, run, step or log that does not exist
    ├── Conflict                  a conditional update lost (version mismatch, lease held)
    ├── AuthError                 missing or bad credentials (signature, token)
    │   └── Forbidden             valid credentials without the needed scope
    ├── BadRequest                malformed input from a client
    │   └── PayloadTooLarge       a body over the accepted size
    └── BackendError              a store, sink or invoker failed; the cause is chained

Contract: a dependency's exceptions are translated at the boundary and chained
(``raise BackendError(...) from exc``). Messages never contain secret values.
The HTTP mapping lives in one place, the trigger app; ``code`` is the stable,
machine-readable name used there.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "AuthError",
    "BackendError",
    "BadRequest",
    "ConfigError",
    "Conflict",
    "Forbidden",
    "NotFound",
    "PayloadTooLarge",
    "Problem",
    "ScdError",
    "SpecError",
]


class ScdError(Exception):
    """Base of every error scd raises on purpose."""

    code = "error"


class ConfigError(ScdError):
    """Settings or scd.yaml are invalid."""

    code = "config_error"


@dataclass(frozen=True)
class Problem:
    """One problem found in a spec file, located by 1-based line and column."""

    file: str
    line: int
    column: int
    message: str
    severity: str = "error"  # "error" or "warning"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


class SpecError(ScdError):
    """A spec failed validation; ``problems`` holds every error found, in file order."""

    code = "spec_error"

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


class NotFound(ScdError):
    code = "not_found"


class Conflict(ScdError):
    code = "conflict"


class AuthError(ScdError):
    code = "unauthorized"


class Forbidden(AuthError):
    code = "forbidden"


class BadRequest(ScdError):
    code = "bad_request"


class PayloadTooLarge(BadRequest):
    code = "payload_too_large"


class BackendError(ScdError):
    code = "backend_error"
