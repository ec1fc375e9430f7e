"""Tokens of the expression language, cut the way GitHub's lexer cuts them.

Positions are 0-based offsets into the whole expression (newlines included); errors report
them 1-based. Words run until a boundary character (``( [ ) ] , . ! > < = & |`` or
whitespace), so an illegal character spoils the whole word: ``1 @abc 2`` fails on ``@abc``.
serverless-cd's JavaScript habits lex too: ``===``, ``!==`` and double-quoted strings with
backslash escapes (GitHub rejects all three).
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass

from .coercion import JS_WHITESPACE, js_string_to_number
from .errors import ExpressionError

__all__ = ["MAX_EXPRESSION_LENGTH", "Token", "TokenType", "lex"]

MAX_EXPRESSION_LENGTH = 21000


class TokenType(enum.Enum):
    LEFT_PAREN = "("
    RIGHT_PAREN = ")"
    LEFT_BRACKET = "["
    RIGHT_BRACKET = "]"
    COMMA = ","
    DOT = "."
    BANG = "!"
    BANG_EQUAL = "!="
    EQUAL_EQUAL = "=="
    STRICT_EQUAL = "==="
    STRICT_NOT_EQUAL = "!=="
    GREATER = ">"
    GREATER_EQUAL = ">="
    LESS = "<"
    LESS_EQUAL = "<="
    AND = "&&"
    OR = "||"
    STAR = "*"
    NUMBER = "number"
    STRING = "string"
    IDENTIFIER = "identifier"
    TRUE = "true"
    FALSE = "false"
    NULL = "null"
    EOF = "eof"


@dataclass(frozen=True)
class Token:
    """One token: its type, source text, literal value (numbers, strings) and 0-based start."""

    type: TokenType
    lexeme: str
    start: int
    value: float | str | None = None

    def text(self) -> str:
        """The token as GitHub's messages quote it."""
        if self.type is TokenType.EOF:
            return "EOF"
        if self.type is TokenType.STRING:
            return str(self.value)
        return self.lexeme


_SINGLE = {
    "(": TokenType.LEFT_PAREN,
    ")": TokenType.RIGHT_PAREN,
    "[": TokenType.LEFT_BRACKET,
    "]": TokenType.RIGHT_BRACKET,
    ",": TokenType.COMMA,
    "*": TokenType.STAR,
}
_BOUNDARY = frozenset("([)],.!><=&|") | JS_WHITESPACE
_DOT_FOLLOWS = frozenset(
    {TokenType.IDENTIFIER, TokenType.RIGHT_BRACKET, TokenType.RIGHT_PAREN, TokenType.STAR}
)
_KEYWORDS = {
    "true": (TokenType.TRUE, None),
    "false": (TokenType.FALSE, None),
    "null": (TokenType.NULL, None),
    "NaN": (TokenType.NUMBER, math.nan),
    "Infinity": (TokenType.NUMBER, math.inf),
}
_JS_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "b": "\b", "f": "\f", "v": "\v", "0": "\0"}
_IDENT_FIRST = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_")
_IDENT_REST = _IDENT_FIRST | frozenset("0123456789-")


def _legal_identifier(word: str) -> bool:
    return bool(word) and word[0] in _IDENT_FIRST and all(c in _IDENT_REST for c in word[1:])


class _Lexer:
    def __init__(self, source: str) -> None:
        self.src = source
        self.pos = 0
        self.start = 0
        self.tokens: list[Token] = []

    def error(self, lexeme: str) -> ExpressionError:
        return ExpressionError(
            "lexing",
            f"Unexpected symbol: '{lexeme}'",
            expression=self.src,
            position=self.start + 1,
        )

    def previous(self) -> TokenType:
        return self.tokens[-1].type if self.tokens else TokenType.EOF

    def add(self, kind: TokenType, value: float | str | None = None) -> None:
        self.tokens.append(Token(kind, self.src[self.start : self.pos], self.start, value))

    def match(self, expected: str) -> bool:
        if self.pos < len(self.src) and self.src[self.pos] == expected:
            self.pos += 1
            return True
        return False

    def run(self) -> list[Token]:
        src = self.src
        while self.pos < len(src):
            self.start = self.pos
            c = src[self.pos]
            self.pos += 1
            if c in _SINGLE:
                self.add(_SINGLE[c])
            elif c in " \r\t\n":
                continue
            elif c == ".":
                if self.previous() in _DOT_FOLLOWS:
                    self.add(TokenType.DOT)
                else:
                    self.number()
            elif c in "-+" or "0" <= c <= "9":
                self.number()
            elif c == "!":
                if self.match("="):
                    # serverless-cd's JavaScript habit: !== is strict (see evaluator)
                    self.add(
                        TokenType.STRICT_NOT_EQUAL if self.match("=") else TokenType.BANG_EQUAL
                    )
                else:
                    self.add(TokenType.BANG)
            elif c == "<":
                self.add(TokenType.LESS_EQUAL if self.match("=") else TokenType.LESS)
            elif c == ">":
                self.add(TokenType.GREATER_EQUAL if self.match("=") else TokenType.GREATER)
            elif c == "=" and self.match("="):
                self.add(TokenType.STRICT_EQUAL if self.match("=") else TokenType.EQUAL_EQUAL)
            elif c in "&|":
                if self.match(c):
                    self.add(TokenType.AND if c == "&" else TokenType.OR)
                else:
                    self.word()  # illegal: report the whole word
            elif c == "'":
                self.string()
            elif c == '"':
                self.double_quoted()
            else:
                self.word()
        # GitHub's EOF token sits where the last scan step started.
        self.tokens.append(Token(TokenType.EOF, "", self.start))
        return self.tokens

    def number(self) -> None:
        src = self.src
        while self.pos < len(src) and (src[self.pos] not in _BOUNDARY or src[self.pos] == "."):
            self.pos += 1
        lexeme = src[self.start : self.pos]
        value = js_string_to_number(lexeme)
        if math.isnan(value):
            raise self.error(lexeme)
        self.add(TokenType.NUMBER, value)

    def string(self) -> None:
        src = self.src
        chars: list[str] = []
        while True:
            if self.pos >= len(src):
                raise self.error(src[self.start :])
            c = src[self.pos]
            if c == "'":
                if self.pos + 1 < len(src) and src[self.pos + 1] == "'":
                    chars.append("'")
                    self.pos += 2
                    continue
                self.pos += 1
                break
            chars.append(c)
            self.pos += 1
        self.add(TokenType.STRING, "".join(chars))

    def double_quoted(self) -> None:
        """A JavaScript double-quoted string (serverless-cd's habit), backslash escapes."""
        src = self.src
        chars: list[str] = []
        while True:
            if self.pos >= len(src):
                raise self.error(src[self.start :])
            c = src[self.pos]
            self.pos += 1
            if c == '"':
                break
            if c == "\\" and self.pos < len(src):
                c = src[self.pos]
                self.pos += 1
                if c == "u" and self.pos + 4 <= len(src):
                    try:
                        chars.append(chr(int(src[self.pos : self.pos + 4], 16)))
                        self.pos += 4
                        continue
                    except ValueError:
                        pass
                chars.append(_JS_ESCAPES.get(c, c))
                continue
            chars.append(c)
        self.add(TokenType.STRING, "".join(chars))

    def word(self) -> None:
        src = self.src
        while self.pos < len(src) and src[self.pos] not in _BOUNDARY:
            self.pos += 1
        lexeme = src[self.start : self.pos]
        kind, value = TokenType.IDENTIFIER, None
        if self.previous() is not TokenType.DOT and lexeme in _KEYWORDS:
            kind, value = _KEYWORDS[lexeme]
        if not _legal_identifier(lexeme):
            raise self.error(lexeme)
        self.add(kind, value)


def lex(source: str) -> list[Token]:
    """Split ``source`` into tokens ending with an EOF token; lexing errors as ExpressionError."""
    if len(source) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(
            "lexing", f"Exceeded max expression length {MAX_EXPRESSION_LENGTH}", expression=source
        )
    return _Lexer(source).run()
