"""serverless-cd's JavaScript habits in an expression, and their GitHub form.

serverless-cd rendered ``${{ }}`` with art-template, so its pipelines compare with
``===``/``!==`` and quote strings with ``"``. scd accepts both (``===`` is strict:
no coercion, strings case-sensitive) and its validator warns with the GitHub form,
so that new pipelines converge on one dialect. serverless-cd's ``hashFile(path)`` is
read as ``hashFiles`` (a SHA-256 where serverless-cd's was a SHA-1: cache keys move
once). :func:`github_form` is that form.
"""

from __future__ import annotations

import itertools

from .lexer import Token, TokenType, lex

__all__ = ["github_form"]

_STRICT = {TokenType.STRICT_EQUAL: "==", TokenType.STRICT_NOT_EQUAL: "!="}


def github_form(expression: str) -> str | None:
    """``expression`` rewritten with ``==``/``!=``, single-quoted strings and ``hashFiles``, or None
    when it uses none of the JavaScript habits. Lexing errors raise ExpressionError.

    The rewrite keeps everything else byte for byte. ``==`` is GitHub's loose
    comparison, so the rewrite can differ from ``===`` where kinds differ (``1 === '1'``
    is false, ``1 == '1'`` true) or in letter case: the warning says so.
    """
    tokens = lex(expression)
    changes: list[tuple[Token, str]] = []
    for token, after in itertools.pairwise(tokens):
        if token.lexeme.lower() == "hashfile" and after.type is TokenType.LEFT_PAREN:
            changes.append((token, "hashFiles"))
        elif token.type in _STRICT:
            changes.append((token, _STRICT[token.type]))
        elif token.type is TokenType.STRING and token.lexeme.startswith('"'):
            text = str(token.value)
            changes.append((token, "'" + text.replace("'", "''") + "'"))
    if not changes:
        return None
    parts: list[str] = []
    last = 0
    for token, replacement in changes:
        parts.append(expression[last : token.start])
        parts.append(replacement)
        last = token.start + len(token.lexeme)
    parts.append(expression[last:])
    return "".join(parts)
