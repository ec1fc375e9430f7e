"""Serverless Devs' template language, as much of it as s.yaml uses, for tests.

``render(text, environ)`` loads an s.yaml and resolves ``${vars.NAME}`` (a dotted
path into ``vars:``) and ``${env('NAME')}`` / ``${env('NAME', 'default')}`` the way
``s preview`` does: a scalar that is exactly one reference becomes the referenced
value itself (a number stays a number, a mapping a mapping); a reference inside a
longer string is interpolated as text. Any other reference, an unset variable
without a default or an unknown ``vars`` path raises ``TemplateError``.

``uncomment(text, tag)`` removes the ``# [tag] `` prefixes of an optional block.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

__all__ = ["ROOT", "TemplateError", "render", "uncomment"]

ROOT = Path(__file__).resolve().parents[2]

_REF = re.compile(r"\$\{([^}]*)\}")
_ENV = re.compile(r"""env\(\s*'([^']*)'\s*(?:,\s*'([^']*)'\s*)?\)""")


class TemplateError(ValueError):
    """A reference s preview could not resolve."""


def uncomment(text: str, tag: str) -> str:
    return text.replace(f"# [{tag}] ", "")


def render(text: str, environ: Mapping[str, str]) -> dict[str, Any]:
    document = yaml.safe_load(text)
    raw_vars = document.get("vars", {})
    resolved_vars = _resolve(raw_vars, {}, environ)
    return {
        key: (resolved_vars if key == "vars" else _resolve(value, resolved_vars, environ))
        for key, value in document.items()
    }


def _resolve(value: Any, variables: dict[str, Any], environ: Mapping[str, str]) -> Any:
    if isinstance(value, dict):
        return {k: _resolve(v, variables, environ) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve(v, variables, environ) for v in value]
    if not isinstance(value, str):
        return value
    whole = _REF.fullmatch(value.strip())
    if whole:
        return _lookup(whole.group(1).strip(), variables, environ)
    return _REF.sub(lambda m: str(_lookup(m.group(1).strip(), variables, environ)), value)


def _lookup(expr: str, variables: dict[str, Any], environ: Mapping[str, str]) -> Any:
    env = _ENV.fullmatch(expr)
    if env:
        name, default = env.group(1), env.group(2)
        if name in environ:
            return environ[name]
        if default is None:
            raise TemplateError(f"${{env('{name}')}}: {name} is not set and has no default")
        return default
    if expr.startswith("vars."):
        node: Any = variables
        for part in expr[len("vars.") :].split("."):
            if not isinstance(node, dict) or part not in node:
                raise TemplateError(f"${{{expr}}}: no such variable")
            node = node[part]
        return node
    raise TemplateError(f"${{{expr}}}: not a reference s.yaml may use")
