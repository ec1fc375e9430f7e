"""Recursive-descent parser mirroring GitHub's grammar, depth limit and error messages.

Precedence, loosest first: ``||``, ``&&``, ``== != === !==``, ``< <= > >=``, ``!``, then indexing
(``a.b``, ``a[x]``, ``a.*``, ``a[*]``; only after a name, a call or parentheses), then
primaries (literals, names, calls, parentheses). Nesting deeper than 50 is a parsing error.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping

from .errors import ExpressionError
from .lexer import Token, TokenType, lex
from .nodes import (
    Binary,
    ContextAccess,
    FunctionCall,
    Grouping,
    IndexAccess,
    Literal,
    Logical,
    Node,
    Star,
    Unary,
)

__all__ = ["BUILTIN_ARITY", "MAX_DEPTH", "Arity", "parse_tokens"]

MAX_DEPTH = 50
MAX_ARGUMENTS = 255

Arity = tuple[int, int]

BUILTIN_ARITY: dict[str, Arity] = {
    "case": (3, 1 << 31),
    "contains": (2, 2),
    "endswith": (2, 2),
    "format": (1, MAX_ARGUMENTS),
    "fromjson": (1, 1),
    "join": (1, 2),
    "startswith": (2, 2),
    "tojson": (1, 1),
    "success": (0, 0),
    "failure": (0, 0),
    "always": (0, 0),
    "cancelled": (0, 0),
    "hashfiles": (1, MAX_ARGUMENTS),
}

_EQUALITY = (
    TokenType.EQUAL_EQUAL,
    TokenType.BANG_EQUAL,
    TokenType.STRICT_EQUAL,
    TokenType.STRICT_NOT_EQUAL,
)
_COMPARISON = (TokenType.GREATER, TokenType.GREATER_EQUAL, TokenType.LESS, TokenType.LESS_EQUAL)


class _Parser:
    def __init__(
        self,
        source: str,
        tokens: list[Token],
        names: Collection[str] | None,
        functions: Mapping[str, Arity | None] | None,
    ) -> None:
        self.src = source
        self.tokens = tokens
        self.i = 0
        self.depth = 0
        self.names = None if names is None else {n.lower() for n in names}
        self.functions = functions

    # -- token helpers -------------------------------------------------------------------
    def peek(self) -> Token:
        return self.tokens[self.i]

    def previous(self) -> Token:
        return self.tokens[self.i - 1]

    def at_end(self) -> bool:
        return self.peek().type is TokenType.EOF

    def check(self, kind: TokenType) -> bool:
        return not self.at_end() and self.peek().type is kind

    def match(self, *kinds: TokenType) -> bool:
        for kind in kinds:
            if self.check(kind):
                self.i += 1
                return True
        return False

    def error(self, description: str, token: Token) -> ExpressionError:
        return ExpressionError(
            "parsing",
            f"{description}: '{token.text()}'",
            expression=self.src,
            position=token.start + 1,
        )

    def consume(self, kind: TokenType) -> None:
        if not self.match(kind):
            raise self.error("Unexpected symbol", self.peek())

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"Exceeded max expression depth {MAX_DEPTH}", self.peek())

    # -- grammar -------------------------------------------------------------------------
    def parse(self) -> Node | None:
        if self.at_end():
            return None
        node = self.expression()
        if not self.at_end():
            raise self.error("Unexpected symbol", self.peek())
        return node

    def expression(self) -> Node:
        self.enter()
        node = self.logical_or()
        self.depth -= 1
        return node

    def logical_or(self) -> Node:
        return self.logical(TokenType.OR, self.logical_and)

    def logical_and(self) -> Node:
        return self.logical(TokenType.AND, self.equality)

    def logical(self, op: TokenType, operand: Callable[[], Node]) -> Node:
        node = operand()
        if not self.check(op):
            return node
        self.enter()
        pos = self.peek().start
        args = [node]
        while self.match(op):
            args.append(operand())
        self.depth -= 1
        return Logical(op.value, tuple(args), pos)

    def equality(self) -> Node:
        node = self.comparison()
        while self.match(*_EQUALITY):
            token = self.previous()
            node = Binary(token.lexeme, node, self.comparison(), token.start)
        return node

    def comparison(self) -> Node:
        node = self.unary()
        while self.match(*_COMPARISON):
            token = self.previous()
            node = Binary(token.lexeme, node, self.unary(), token.start)
        return node

    def unary(self) -> Node:
        if not self.match(TokenType.BANG):
            return self.index()
        token = self.previous()
        self.enter()
        node = Unary("!", self.unary(), token.start)
        self.depth -= 1
        return node

    def index(self) -> Node:
        node = self.call()
        if not isinstance(node, (Grouping, FunctionCall, ContextAccess)):
            return node
        entered = 0
        try:
            while True:
                if self.match(TokenType.LEFT_BRACKET):
                    pos = self.previous().start
                    if self.match(TokenType.STAR):
                        idx: Node = Star(self.previous().start)
                    else:
                        idx = self.expression()
                    self.consume(TokenType.RIGHT_BRACKET)
                    self.enter()
                    entered += 1
                    node = IndexAccess(node, idx, pos)
                elif self.match(TokenType.DOT):
                    pos = self.previous().start
                    self.enter()
                    entered += 1
                    if self.match(TokenType.IDENTIFIER):
                        prop = self.previous()
                        node = IndexAccess(node, Literal(prop.lexeme, prop.start), pos)
                    elif self.match(TokenType.STAR):
                        node = IndexAccess(node, Star(self.previous().start), pos)
                    else:
                        raise self.error("Unexpected symbol", self.peek())
                else:
                    return node
        finally:
            self.depth -= entered

    def call(self) -> Node:
        if not self.check(TokenType.IDENTIFIER):
            return self.primary()
        ident = self.peek()
        self.i += 1
        if not self.match(TokenType.LEFT_PAREN):
            if self.names is not None and ident.lexeme.lower() not in self.names:
                raise self.error("Unrecognized named-value", ident)
            return ContextAccess(ident.lexeme, ident.start)
        args: list[Node] = []
        while not self.match(TokenType.RIGHT_PAREN):
            args.append(self.expression())
            if not self.check(TokenType.RIGHT_PAREN):
                self.consume(TokenType.COMMA)
        # serverless-cd's hashFile(path) is hashFiles (its digest was SHA-1, scd's SHA-256)
        name = "hashFiles" if ident.lexeme.lower() == "hashfile" else ident.lexeme
        self.validate_call(ident, name, len(args))
        return FunctionCall(name, tuple(args), ident.start)

    def validate_call(self, ident: Token, called: str, count: int) -> None:
        name = called.lower()
        arity = BUILTIN_ARITY.get(name)
        if self.functions is not None and name not in self.functions:
            raise self.error("Unrecognized function", ident)
        if self.functions is not None and self.functions[name] is not None:
            arity = self.functions[name]
        if arity is None:
            return
        if count < arity[0]:
            raise self.error("Too few parameters supplied", ident)
        if count > arity[1]:
            raise self.error("Too many parameters supplied", ident)
        if name == "case" and count % 2 == 0:
            raise self.error(
                "Even number of parameters supplied, requires an odd number of parameters", ident
            )

    def primary(self) -> Node:
        token = self.peek()
        simple = {TokenType.FALSE: False, TokenType.TRUE: True, TokenType.NULL: None}
        if self.match(TokenType.FALSE, TokenType.TRUE, TokenType.NULL):
            return Literal(simple[token.type], token.start)
        if self.match(TokenType.NUMBER, TokenType.STRING):
            return Literal(token.value, token.start)
        if self.match(TokenType.LEFT_PAREN):
            node = self.expression()
            if self.at_end():
                raise self.error("Unexpected end of expression", self.previous())
            self.consume(TokenType.RIGHT_PAREN)
            return Grouping(node, token.start)
        if self.at_end():
            raise self.error("Unexpected end of expression", self.previous())
        raise self.error("Unexpected symbol", token)


def parse_tokens(
    source: str,
    names: Collection[str] | None,
    functions: Mapping[str, Arity | None] | None,
) -> Node | None:
    """Parse ``source``; ``names`` and ``functions`` (lower-case keys, arity or None for any)
    restrict what is legal, ``None`` allowing anything. Empty source parses to None."""
    return _Parser(source, lex(source), names, functions).parse()
