"""The app's ``retry`` setting: no retry by default; ``worker-lost`` with a bound."""

from __future__ import annotations

import pytest
from factories import make_app
from pydantic import ValidationError


def test_an_app_retries_nothing_by_default() -> None:
    assert not make_app().retry.allows("worker-lost", 1)


def test_worker_lost_is_retried_up_to_max_more_attempts() -> None:
    retry = make_app(retry={"max": 2, "on": ["worker-lost"]}).retry
    assert [retry.allows("worker-lost", attempt) for attempt in (1, 2, 3)] == [True, True, False]
    assert not retry.allows("step-failed", 1)


@pytest.mark.parametrize(
    ("retry", "message"),
    [
        ({"max": 2, "on": ["failure"]}, "worker-lost"),
        ({"max": -1, "on": ["worker-lost"]}, "greater than or equal to 0"),
        ({"max": 99, "on": ["worker-lost"]}, "less than or equal to 10"),
        ({"max": 1, "when": ["worker-lost"]}, "Extra inputs"),
    ],
)
def test_a_bad_retry_setting_is_refused_saying_what_is_wrong(
    retry: dict[str, object], message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        make_app(retry=retry)
