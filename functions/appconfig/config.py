"""scd.yaml: the apps and the API tokens, and the one app lookup the worker uses.

Contract: ``load_config(path, environ)`` reads the file once and returns a
``Config`` or raises one ``ConfigError`` listing every problem found, each as
``file:line:column: where: message``. ``${env:NAME}`` in a string value is
replaced by the variable's value; an unset variable is a problem naming the
variable and where it is used, never a value. Validation messages never echo
input values either (a secret may be among them). App names are unique.

``stored_app(name, spec)`` validates an app registered through the apps API
(the store keeps its spec without the name); ``load_app(name, path, apps,
environ)`` finds an app the way the worker does: scd.yaml first (read anew on
each call, so edits apply), then the store. The tokens are held as the
trigger's bearer check (``functions.trigger.auth.Tokens``, a small module with
no webhook code), which the worker never calls.

Shape::

    apps: [<App>, ...]                # scd_trigger_spec.App
    tokens: [{name, sha256, scopes}]  # scopes: read | trigger | admin
    workers: [<WorkerRule>, ...]      # scd_trigger_spec.routing: region routing
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from pydantic import ValidationError
from scd_core.errors import ConfigError
from scd_trigger_spec import App
from scd_trigger_spec.routing import WorkerRule

from functions.appconfig.document import Document
from functions.trigger.auth import Tokens, TokenSpec

__all__ = ["AppReader", "Config", "load_app", "load_config", "parse_config", "stored_app"]

_TOP_KEYS = ("apps", "tokens", "workers")


class AppReader(Protocol):
    """The part of a run store ``load_app`` reads: registered apps by name."""

    def get_app(self, name: str) -> dict[str, Any] | None: ...


@dataclass(frozen=True)
class Config:
    """What scd.yaml declares, validated."""

    apps: dict[str, App] = field(default_factory=dict)
    tokens: Tokens = field(default_factory=lambda: Tokens(()))
    source: str = "scd.yaml"
    workers: tuple[WorkerRule, ...] = ()  # region routing rules, in order


def load_config(path: Path | str, environ: Mapping[str, str] | None = None) -> Config:
    """Read and validate the scd.yaml at ``path``; ``ConfigError`` on any problem."""
    file = str(path)
    try:
        text = Path(path).read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(f"{file}: config file not found (set SCD_CONFIG)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{file}: cannot read config: {type(exc).__name__}") from exc
    return parse_config(text, file, environ)


def parse_config(
    text: str, file: str = "scd.yaml", environ: Mapping[str, str] | None = None
) -> Config:
    """Validate scd.yaml text; ``file`` only names it in messages."""
    doc = Document(file, os.environ if environ is None else environ)
    data = doc.load(text)
    apps: dict[str, App] = {}
    specs: list[TokenSpec] = []
    workers: list[WorkerRule | None] = []
    if isinstance(data, dict):
        for key in data:
            if key not in _TOP_KEYS:
                known = ", ".join(_TOP_KEYS)
                doc.problem((key,), f"unknown key {key!r} (expected one of {known})", at_key=True)
        for index, item in enumerate(doc.items(data, "apps")):
            app = doc.validate(App, item, ("apps", index))
            if app is None:
                continue
            if app.name in apps:
                doc.problem(("apps", index, "name"), f"duplicate app name {app.name!r}")
            else:
                apps[app.name] = app
        specs = _tokens(doc, data)
        workers = [doc.validate(WorkerRule, item, ("workers", i)) for i, item in
                   enumerate(doc.items(data, "workers"))]  # fmt: skip
    elif data is not None:
        doc.problem((), "the top level must be a mapping with 'apps' and 'tokens'")
    doc.raise_problems()
    rules = tuple(rule for rule in workers if rule is not None)
    return Config(apps=apps, tokens=Tokens(specs), source=file, workers=rules)


def _tokens(doc: Document, data: dict[Any, Any]) -> list[TokenSpec]:
    specs: list[TokenSpec] = []
    for index, item in enumerate(doc.items(data, "tokens")):
        spec = doc.validate(TokenSpec, item, ("tokens", index))
        if spec is None:
            continue
        if any(spec.name == seen.name for seen in specs):
            doc.problem(("tokens", index, "name"), f"duplicate token name {spec.name!r}")
        elif any(spec.sha256 == seen.sha256 for seen in specs):
            doc.problem(("tokens", index, "sha256"), "the same token digest is listed twice")
        else:
            specs.append(spec)
    return specs


def stored_app(name: str, spec: Mapping[str, Any]) -> App:
    """The App registered as ``name`` with ``spec`` (its stored form, without the name).

    ``ConfigError`` if the spec no longer validates (it did when it was put, so
    only a change of the App model gets here); the message names the app and
    the fields, never their values.
    """
    try:
        return App.model_validate({**spec, "name": name})
    except ValidationError as exc:
        fields = sorted({".".join(map(str, e["loc"])) or "?" for e in exc.errors()})
        raise ConfigError(
            f"the stored app {name!r} no longer validates ({', '.join(fields)})"
        ) from None
    except ValueError:
        raise ConfigError(f"the stored app {name!r} no longer validates") from None


def load_app(
    name: str, path: Path | str, apps: AppReader, environ: Mapping[str, str] | None = None
) -> App | None:
    """The App ``name``: scd.yaml's at ``path`` if the file exists, else the store's.

    Reads the file on every call (blocking; so edits apply without a restart),
    then ``apps.get_app`` when scd.yaml does not name the app. None when neither
    does. ``ConfigError`` if scd.yaml is invalid (``environ`` resolves its
    ``${env:}`` references) or the stored spec no longer validates.
    """
    if Path(path).is_file():
        app = load_config(path, environ).apps.get(name)
        if app is not None:
            return app
    spec = apps.get_app(name)
    return None if spec is None else stored_app(name, spec)
