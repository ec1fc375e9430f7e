"""Secrets and platform variables, resolved where the worker runs.

Contract: nothing here reads a job or a run record (they never hold secret
values). A run's secrets are the ``SCD_SECRET_<NAME>`` variables of the worker's
environment, overlaid by the app's ``secrets:`` mapping in scd.yaml (the app is
more specific, so it wins). The checkout token is the app's ``checkout_token``,
else ``SCD_CHECKOUT_TOKEN``. Platform credentials (``ALIBABA_CLOUD_*``,
``ALIYUN_*``, ``FC_*``) reach steps only when the app sets
``allow_platform_env: true``; the engine strips them otherwise.

The worker reads scd.yaml through :class:`LenientEnviron`: a ``${env:VAR}`` unset
where the worker runs (the webhook secret lives with the trigger) becomes a
marker instead of failing the whole file; a secret or token left with the
marker is dropped and named by :func:`unresolved_secrets`, never passed on.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import TYPE_CHECKING

from pydantic import SecretStr
from scd_core.models import Run

if TYPE_CHECKING:
    from scd_trigger_spec import App

__all__ = [
    "CHECKOUT_TOKEN_VAR",
    "FORK_NOTE",
    "PLATFORM_PREFIXES",
    "SECRET_PREFIX",
    "UNSET_MARK",
    "LenientEnviron",
    "checkout_token",
    "platform_env",
    "resolve_secrets",
    "unresolved_secrets",
    "withholds_secrets",
]

SECRET_PREFIX = "SCD_SECRET_"  # noqa: S105  (a variable name, not a value)
CHECKOUT_TOKEN_VAR = "SCD_CHECKOUT_TOKEN"  # noqa: S105
PLATFORM_PREFIXES = ("ALIBABA_CLOUD_", "ALIYUN_", "FC_")
UNSET_MARK = "\x00scd:unset-env\x00"


class LenientEnviron(Mapping[str, str]):
    """``environ`` in which every unset name reads as :data:`UNSET_MARK`."""

    def __init__(self, environ: Mapping[str, str]) -> None:
        self._environ = environ

    def __getitem__(self, name: str) -> str:
        return self._environ.get(name, UNSET_MARK)

    def __contains__(self, name: object) -> bool:
        return True

    def __iter__(self) -> Iterator[str]:
        return iter(self._environ)

    def __len__(self) -> int:
        return len(self._environ)


def _reveal(secret: SecretStr | None) -> str | None:
    value = None if secret is None else secret.get_secret_value()
    if value is None or UNSET_MARK in value:
        return None
    return value


def unresolved_secrets(app: App | None) -> list[str]:
    """Names of the app's secrets (and ``checkout_token``) whose variable is unset here."""
    if app is None:
        return []
    names = [
        name for name, secret in app.secrets.items() if UNSET_MARK in secret.get_secret_value()
    ]
    token = app.checkout_token
    if token is not None and UNSET_MARK in token.get_secret_value():
        names.append("checkout_token")
    return names


def resolve_secrets(app: App | None, environ: Mapping[str, str]) -> dict[str, str]:
    """Secret NAME → value for a run of ``app`` (None: environment only); empty values dropped."""
    found = {
        name[len(SECRET_PREFIX) :]: value
        for name, value in environ.items()
        if name.startswith(SECRET_PREFIX) and len(name) > len(SECRET_PREFIX) and value
    }
    for name, secret in (app.secrets if app else {}).items():
        value = _reveal(secret)
        if value:
            found[name] = value
    return found


def checkout_token(app: App | None, environ: Mapping[str, str]) -> str | None:
    """The token for cloning ``app``'s private repository, or None."""
    value = _reveal(app.checkout_token) if app else None
    return value or environ.get(CHECKOUT_TOKEN_VAR) or None


def platform_env(app: App | None, environ: Mapping[str, str]) -> dict[str, str]:
    """The platform variables to hand to steps: all of them if the app allows it, else none."""
    if app is None or not app.allow_platform_env:
        return {}
    return {k: v for k, v in environ.items() if k.startswith(PLATFORM_PREFIXES)}


FORK_NOTE = (
    "note: this pull request comes from a fork, so its run gets no secrets "
    "(secrets, sts and the platform's credentials read empty); an app trusts forks "
    "with forks: {secrets: true}, or holds them for approval with forks: {approve: true}"
)


def withholds_secrets(run: Run, app: App | None) -> bool:
    """Whether ``run`` must get no secrets: a fork's pull request, unless the app trusts
    forks (``forks.secrets``) or a person approved this run (``forks.approve``)."""
    if not run.event.fork:
        return False
    if app is None:
        return True
    return not (app.forks.secrets or (app.forks.approve and run.approved_by is not None))
