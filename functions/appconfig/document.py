"""One YAML document turned into plain values that remember where each came from.

Contract: ``Document(file, environ).load(text)`` returns the plain value of the
document (dicts, lists, scalars), with ``${env:NAME}`` replaced in strings from
``environ``. Problems are collected, not raised, each with the line and column
of the value (or key) it concerns: ``problem``, ``validate`` (a pydantic model,
its messages stripped of input values) and ``items`` record them, and
``raise_problems`` raises one ``ConfigError`` listing every one as
``file:line:column: where: message``, sorted by position. Only invalid YAML
raises at once (nothing after it can be located). No message ever quotes an
input value: a secret may be among them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError
from scd_core.errors import ConfigError, ScdError

__all__ = ["Document", "KeyPath"]

_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")

KeyPath = tuple[str | int, ...]


class Document:
    """One YAML document turned into plain values, remembering where each came from."""

    def __init__(self, file: str, environ: Mapping[str, str]) -> None:
        self.file = file
        self.environ = environ
        self.marks: dict[KeyPath, tuple[int, int]] = {(): (1, 1)}
        self.key_marks: dict[KeyPath, tuple[int, int]] = {}
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

    def _value(self, node: yaml.Node, path: KeyPath) -> Any:
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

    def _substitute(self, value: str, path: KeyPath) -> str:
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

    def validate(self, model: type[Any], item: Any, path: KeyPath) -> Any:
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

    def problem(self, path: KeyPath, message: str, *, at_key: bool = False) -> None:
        where = self.key_marks.get(path) if at_key else None
        text = f"{_dotted(path)}: {message}" if path else message
        self.problems.append((where or self._locate(path), text))

    def _locate(self, path: KeyPath) -> tuple[int, int]:
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


def _dotted(path: KeyPath) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _message(msg: str) -> str:
    # pydantic prefixes a validator's ValueError with "Value error, "; the rest is ours.
    return msg.removeprefix("Value error, ")
