"""Loading scd.yaml: the apps the trigger serves and the API tokens.

Contract: ``load_config(path, environ)`` reads the file once and returns a
``Config`` or raises one ``ConfigError`` listing every problem found, each as
``file:line:column: where: message``. ``${env:NAME}`` in a string value is
replaced by the variable's value; an unset variable is a problem naming the
variable and where it is used, never a value. Validation messages never echo
input values either (a secret may be among them). App names are unique.

Shape::

    apps: [<App>, ...]                # scd_trigger_spec.App
    tokens: [{name, sha256, scopes}]  # scopes: read | trigger | admin
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from scd_core.errors import ConfigError, ScdError
from scd_trigger_spec import App

from functions.trigger.auth import Tokens, TokenSpec

__all__ = ["Config", "load_config", "parse_config"]

_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")
_TOP_KEYS = ("apps", "tokens")

Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Config:
    """What scd.yaml declares, validated."""

    apps: dict[str, App] = field(default_factory=dict)
    tokens: Tokens = field(default_factory=lambda: Tokens(()))
    source: str = "scd.yaml"


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
    doc = _Document(file, os.environ if environ is None else environ)
    data = doc.load(text)
    apps: dict[str, App] = {}
    specs: list[TokenSpec] = []
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
    elif data is not None:
        doc.problem((), "the top level must be a mapping with 'apps' and 'tokens'")
    doc.raise_problems()
    return Config(apps=apps, tokens=Tokens(specs), source=file)


def _tokens(doc: _Document, data: dict[Any, Any]) -> list[TokenSpec]:
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


class _Document:
    """One YAML document turned into plain values, remembering where each came from."""

    def __init__(self, file: str, environ: Mapping[str, str]) -> None:
        self.file = file
        self.environ = environ
        self.marks: dict[Path_, tuple[int, int]] = {(): (1, 1)}
        self.key_marks: dict[Path_, tuple[int, int]] = {}
        self.problems: list[tuple[tuple[int, int], str]] = []
        self._loader = yaml.SafeLoader("")

    def load(self, text: str) -> Any:
        try:
            node = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as exc:
            # Only the problem and its mark: the error's context may quote a secret.
            mark = getattr(exc, "problem_mark", None)
            where = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
            problem = getattr(exc, "problem", None) or "invalid YAML"
            raise ConfigError(f"{self.file}:{where[0]}:{where[1]}: {problem}") from None
        if node is None:
            return None
        return self._value(node, ())

    def _value(self, node: yaml.Node, path: Path_) -> Any:
        self.marks[path] = (node.start_mark.line + 1, node.start_mark.column + 1)
        if isinstance(node, yaml.MappingNode):
            out: dict[Any, Any] = {}
            for key_node, value_node in node.value:
                key = _scalar(self._loader, key_node)
                if not isinstance(key, (str, int, float)) or isinstance(key, bool):
                    key = str(key)
                where = (key_node.start_mark.line + 1, key_node.start_mark.column + 1)
                child = (*path, key)
                if key in out:
                    self.problems.append((where, f"{_dotted(child)}: duplicate key {key!r}"))
                    continue
                self.key_marks[child] = where
                out[key] = self._value(value_node, child)
            return out
        if isinstance(node, yaml.SequenceNode):
            return [self._value(item, (*path, i)) for i, item in enumerate(node.value)]
        value = _scalar(self._loader, node)
        if isinstance(value, str) and "${env:" in value:
            value = self._substitute(value, path)
        return value

    def _substitute(self, value: str, path: Path_) -> str:
        def replace(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in self.environ:
                self.problem(path, f"environment variable {name} is not set")
                return ""
            return self.environ[name]

        return _ENV_REF.sub(replace, value)

    def items(self, data: dict[Any, Any], key: str) -> list[Any]:
        value = data.get(key)
        if value is None:
            return []
        if not isinstance(value, list):
            self.problem((key,), f"{key} must be a list")
            return []
        return value

    def validate(self, model: type[Any], item: Any, path: Path_) -> Any:
        """``model`` validated from ``item``, or None with the problems recorded."""
        assert issubclass(model, BaseModel)
        try:
            return model.model_validate(item)
        except ValidationError as exc:
            for err in exc.errors(include_input=False, include_url=False):
                loc = tuple(err["loc"])
                self.problem((*path, *loc), _message(err["msg"]))
        except ScdError as exc:
            self.problem(path, str(exc))
        return None

    def problem(self, path: Path_, message: str, *, at_key: bool = False) -> None:
        where = self.key_marks.get(path) if at_key else None
        text = f"{_dotted(path)}: {message}" if path else message
        self.problems.append((where or self._locate(path), text))

    def _locate(self, path: Path_) -> tuple[int, int]:
        for end in range(len(path), -1, -1):
            mark = self.marks.get(path[:end])
            if mark is not None:
                return mark
        return (1, 1)

    def raise_problems(self) -> None:
        if self.problems:
            lines = [
                f"{self.file}:{line}:{col}: {msg}" for (line, col), msg in sorted(self.problems)
            ]
            raise ConfigError("\n".join(lines))


def _scalar(loader: yaml.SafeLoader, node: yaml.Node) -> Any:
    if not isinstance(node, yaml.ScalarNode):
        return "<complex key>"
    return loader.construct_object(node)  # resolves int, bool, null by their tags


def _dotted(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(msg: str) -> str:
    # pydantic prefixes a validator's ValueError with "Value error, "; the rest is ours.
    return msg.removeprefix("Value error, ")
