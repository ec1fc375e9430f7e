"""YAML read with node marks, so every problem can point at a line and column.

Contract: :func:`read_yaml` parses one YAML document with PyYAML's safe loader
and returns a :class:`YamlSource` holding the plain data and the node tree.
A syntax error raises :class:`~scd_core.errors.SpecError` with one located
problem and a hint. Duplicate mapping keys are not an exception: they are
collected in ``YamlSource.problems`` (YAML keeps the last value silently, which
hides mistakes). Locations are 1-based.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from scd_core.errors import Problem, SpecError

__all__ = ["Loc", "SourceLocation", "YamlSource", "read_yaml"]

Loc = tuple["str | int", ...]
_LINE_BREAK = re.compile("\r\n|[\r\n\x85\u2028\u2029]")


@dataclass(frozen=True)
class SourceLocation:
    """Where something was written: file name and 1-based line and column."""

    file: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}"


@dataclass
class YamlSource:
    """A parsed YAML document: ``data`` (plain Python) and ``root`` (nodes with marks)."""

    file: str
    text: str
    data: Any
    root: yaml.Node | None
    problems: list[Problem] = field(default_factory=list)
    _lines: list[str] | None = field(default=None, repr=False)

    def at(self, node: yaml.Node | None) -> SourceLocation:
        """The location where ``node`` starts (line 1, column 1 without a node)."""
        if node is None:
            return SourceLocation(self.file, 1, 1)
        return SourceLocation(self.file, node.start_mark.line + 1, node.start_mark.column + 1)

    def node(self, loc: Loc, *, key: bool = False) -> yaml.Node | None:
        """The node at ``loc`` (mapping keys and sequence indexes), or its nearest ancestor.

        With ``key=True`` and a mapping key as the last element, the key's node is
        returned instead of its value's. Elements that match nothing (such as
        pydantic's union-member tags) stop the walk at the deepest node found.
        """
        current = self.root
        for position, element in enumerate(loc):
            last = position == len(loc) - 1
            if element == "[key]":
                return current
            child = _child(current, element, want_key=key and last)
            if child is None:
                break
            current = child
        return current

    def locate(self, loc: Loc, *, key: bool = False) -> SourceLocation:
        """The location of :meth:`node`."""
        return self.at(self.node(loc, key=key))

    def text_position(self, node: yaml.Node, offset: int) -> SourceLocation:
        """The location of character ``offset`` of a string scalar's value.

        Exact for single-line scalars written without escapes and for literal
        (``|``) block scalars; otherwise the start of the scalar.
        """
        start = self.at(node)
        if not isinstance(node, yaml.ScalarNode) or not isinstance(node.value, str):
            return start
        value, begin, end = node.value, node.start_mark, node.end_mark
        if node.style == "|":
            return self._block_position(node, value, offset) or start
        if begin.line != end.line:
            return start
        # Marks' columns count characters (libyaml's indexes count bytes).
        raw = self.lines[begin.line][begin.column : end.column]
        if node.style in ("'", '"') and raw[1:-1] == value:
            return SourceLocation(self.file, start.line, start.column + 1 + offset)
        if not node.style and raw == value:  # plain: None (PyYAML) or "" (libyaml)
            return SourceLocation(self.file, start.line, start.column + offset)
        return start

    @property
    def lines(self) -> list[str]:
        """The source text split at YAML's line breaks."""
        if self._lines is None:
            self._lines = _LINE_BREAK.split(self.text)
        return self._lines

    def _block_position(self, node: yaml.Node, value: str, offset: int) -> SourceLocation | None:
        line_index = value.count("\n", 0, offset)
        column = offset - (value.rfind("\n", 0, offset) + 1)
        lines = self.lines
        first = node.start_mark.line + 1  # the content starts below the "|" header
        content = [line for line in lines[first:] if line.strip()]
        if not content or first + line_index >= len(lines):
            return None
        indent = len(content[0]) - len(content[0].lstrip(" "))
        wanted = value.split("\n")[line_index]
        if lines[first + line_index] != " " * indent + wanted:
            return None
        return SourceLocation(self.file, first + line_index + 1, indent + column + 1)


def _child(node: yaml.Node | None, element: str | int, *, want_key: bool) -> yaml.Node | None:
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in reversed(node.value):  # YAML keeps the last duplicate
            if isinstance(key_node, yaml.ScalarNode) and str(key_node.value) == str(element):
                return key_node if want_key else value_node
        return None
    if isinstance(node, yaml.SequenceNode) and isinstance(element, int):
        items: list[yaml.Node] = node.value
        return items[element] if 0 <= element < len(items) else None
    return None


# libyaml is ~10x faster; the pure-Python loader words errors better (see _HINTS).
_FAST_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


def read_yaml(text: str, file: str) -> YamlSource:
    """Parse ``text`` (one YAML document); raise ``SpecError`` on a syntax error."""
    try:
        return _read(text, file, _FAST_LOADER)
    except SpecError:
        if _FAST_LOADER is yaml.SafeLoader:
            raise
        return _read(text, file, yaml.SafeLoader)  # raises again, with PyYAML's wording


def _read(text: str, file: str, loader_class: type[yaml.SafeLoader]) -> YamlSource:
    loader = loader_class(text)
    try:
        root = loader.get_single_node()
        # Before construction: it flattens merge keys ("<<") in place.
        duplicates = _duplicate_keys(file, root)
        data = loader.construct_document(root) if root is not None else None
    except yaml.MarkedYAMLError as exc:
        raise SpecError([_syntax_problem(exc, file)]) from exc
    except yaml.YAMLError as exc:  # errors without a mark, such as bad encodings
        raise SpecError([Problem(file, 1, 1, f"cannot read YAML: {exc}")]) from exc
    finally:
        loader.dispose()
    return YamlSource(file=file, text=text, data=data, root=root, problems=duplicates)


_HINTS = (
    ("'\\t'", "YAML indents with spaces, not tabs"),
    ("mapping values are not allowed", "quote a value that contains ': ' (run: \"echo a: b\")"),
    ("expected <block end>", "check that this line is indented like its siblings"),
    ("could not find expected ':'", "check the indentation of this line and the one above"),
    (
        "found unhashable key",
        "a value starting with '{' or '[' is read as a mapping or list: quote it",
    ),
    ("expected a single document", "a pipeline file holds one document: remove the extra '---'"),
    ("found undefined alias", "'*' starts a YAML alias: quote a value that starts with '*'"),
    ("found character '@'", "quote a value that starts with '@' or '`'"),
    ("found character '`'", "quote a value that starts with '@' or '`'"),
)


def _syntax_problem(exc: yaml.MarkedYAMLError, file: str) -> Problem:
    mark = exc.problem_mark or exc.context_mark
    line, column = (mark.line + 1, mark.column + 1) if mark is not None else (1, 1)
    what = exc.problem or "invalid YAML"
    if exc.context:
        what = f"{what} ({exc.context}"
        if exc.context_mark is not None and exc.context_mark is not mark:
            what += f" at line {exc.context_mark.line + 1}"
        what += ")"
    text = f"{exc.context or ''} {exc.problem or ''}"
    hint = next((h for needle, h in _HINTS if needle in text), "check indentation and quoting")
    return Problem(file, line, column, f"YAML syntax error: {what}; hint: {hint}")


def _duplicate_keys(file: str, root: yaml.Node | None) -> list[Problem]:
    problems: list[Problem] = []
    stack = [root] if root is not None else []
    while stack:
        node = stack.pop()
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], yaml.Node] = {}
            for key_node, value_node in node.value:
                stack.append(value_node)
                if not isinstance(key_node, yaml.ScalarNode) or key_node.value == "<<":
                    continue
                ident = (key_node.tag, key_node.value)
                if ident in seen:
                    first = seen[ident].start_mark.line + 1
                    mark = key_node.start_mark
                    message = (
                        f"duplicate key '{key_node.value}' (first at line {first}); "
                        "hint: YAML would silently keep only the last one: remove or rename one"
                    )
                    problems.append(Problem(file, mark.line + 1, mark.column + 1, message))
                else:
                    seen[ident] = key_node
        elif isinstance(node, yaml.SequenceNode):
            stack.extend(node.value)
    problems.sort(key=lambda p: (p.line, p.column))
    return problems
