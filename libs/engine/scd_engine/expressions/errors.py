"""The one error the expression language raises.

Every failure carries the stage that failed (``kind``), a short description, the 1-based
character offset of the offending token when there is one, and the expression source. The
message is decorated the way GitHub's test data expects::

    Unexpected symbol: '2'. Located at position 3 within expression: 1 2
    The following format string is invalid: {0. Located within expression: format('{0')
"""

from __future__ import annotations

from typing import Literal

from scd_core.errors import ScdError

__all__ = ["ErrorKind", "ExpressionError"]

ErrorKind = Literal["lexing", "parsing", "evaluation"]


class ExpressionError(ScdError):
    """A ``${{ }}`` expression failed to lex, parse or evaluate.

    ``kind`` is ``"lexing"``, ``"parsing"`` or ``"evaluation"``; ``description`` is the bare
    message; ``position`` is the 1-based offset of the token at fault (``None`` when the error
    has no token, such as errors raised inside functions); ``expression`` is the source.
    """

    code = "expression_error"

    def __init__(
        self,
        kind: ErrorKind,
        description: str,
        *,
        expression: str,
        position: int | None = None,
    ) -> None:
        self.kind: ErrorKind = kind
        self.description = description
        self.expression = expression
        self.position = position
        if position is None:
            text = f"{description}. Located within expression: {expression}"
        else:
            text = f"{description}. Located at position {position} within expression: {expression}"
        super().__init__(text)
