"""The syntax tree: plain frozen data, shared safely between evaluations.

``pos`` is the 0-based offset of the node's main token in the expression source.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, TypeAlias

__all__ = [
    "Binary",
    "ContextAccess",
    "FunctionCall",
    "Grouping",
    "IndexAccess",
    "Literal",
    "Logical",
    "Node",
    "Star",
    "Unary",
    "walk",
]


@dataclass(frozen=True)
class Literal:
    value: Any
    pos: int


@dataclass(frozen=True)
class ContextAccess:
    name: str
    pos: int


@dataclass(frozen=True)
class Star:
    """The ``*`` of ``a.*`` or ``a[*]``: select every item."""

    pos: int


@dataclass(frozen=True)
class IndexAccess:
    obj: Node
    index: Node  # Star, a Literal (``a.b``) or any expression (``a[x]``)
    pos: int


@dataclass(frozen=True)
class Unary:
    op: str  # "!"
    operand: Node
    pos: int


@dataclass(frozen=True)
class Binary:
    op: str  # "==", "!=", "<", "<=", ">", ">="
    left: Node
    right: Node
    pos: int


@dataclass(frozen=True)
class Logical:
    op: str  # "&&" or "||"
    args: tuple[Node, ...]
    pos: int


@dataclass(frozen=True)
class Grouping:
    expr: Node
    pos: int


@dataclass(frozen=True)
class FunctionCall:
    name: str  # as written; resolved case-insensitively
    args: tuple[Node, ...]
    pos: int


Node: TypeAlias = (
    Literal
    | ContextAccess
    | Star
    | IndexAccess
    | Unary
    | Binary
    | Logical
    | Grouping
    | FunctionCall
)


def walk(node: Node) -> list[Node]:
    """Every node of the tree in source order (pre-order), iteratively."""
    out: list[Node] = []
    stack: list[Node] = [node]
    while stack:
        n = stack.pop()
        out.append(n)
        children: tuple[Node, ...] = ()
        if isinstance(n, IndexAccess):
            children = (n.obj, n.index)
        elif isinstance(n, Unary):
            children = (n.operand,)
        elif isinstance(n, Binary):
            children = (n.left, n.right)
        elif isinstance(n, (Logical, FunctionCall)):
            children = n.args
        elif isinstance(n, Grouping):
            children = (n.expr,)
        stack.extend(reversed(children))
    return out
