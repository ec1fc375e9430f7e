"""Every case of GitHub's expression test data (../shared/corpus/expressions) must pass."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from scd_engine.expressions import ExpressionError, evaluate, kind_of

CORPUS = Path(__file__).resolve().parents[2].parent / "shared" / "corpus" / "expressions"


def _cases() -> list[Any]:
    if not CORPUS.is_dir():
        return [pytest.param(None, id="corpus-missing")]
    params = []
    for path in sorted(CORPUS.glob("*.json")):
        for group, cases in json.loads(path.read_text(encoding="utf-8")).items():
            for index, case in enumerate(cases):
                params.append(pytest.param(case, id=f"{path.stem}/{group}/{index}"))
    return params


def _same(actual: Any, expected: Any) -> bool:
    """Deep equality as the upstream runner's JSON.stringify comparison sees it."""
    if expected is None or isinstance(expected, bool):
        return actual is expected
    if isinstance(expected, (int, float)):
        if isinstance(actual, bool) or not isinstance(actual, (int, float)):
            return False
        a = float(actual)
        # JSON.stringify writes NaN and Infinity as null, and -0 as 0.
        return a == float(expected) or (math.isnan(a) and math.isnan(float(expected)))
    if isinstance(expected, str):
        return isinstance(actual, str) and actual == expected
    if isinstance(expected, list):
        return (
            isinstance(actual, (list, tuple))
            and len(actual) == len(expected)
            and all(_same(a, e) for a, e in zip(actual, expected, strict=True))
        )
    assert isinstance(expected, dict)
    return (
        isinstance(actual, dict)
        and list(actual) == list(expected)
        and all(_same(actual[k], expected[k]) for k in expected)
    )


@pytest.mark.parametrize("case", _cases())
def test_expression_case_matches_upstream_result_or_error(case: dict[str, Any] | None) -> None:
    if case is None:
        pytest.skip(f"expression corpus not found at {CORPUS}")
    contexts = case.get("contexts", {})
    if "err" in case:
        with pytest.raises(ExpressionError) as caught:
            evaluate(case["expr"], contexts)
        assert caught.value.kind == case["err"]["kind"]
        assert case["err"]["value"] in str(caught.value)
    else:
        value = evaluate(case["expr"], contexts)
        assert kind_of(value) == case["result"]["kind"]
        assert _same(value, case["result"]["value"]), (value, case["result"]["value"])
