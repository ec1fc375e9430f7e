"""``race``: start the same action in many threads at one instant, for tests of
what concurrent callers may and may not both get. Import by name
(``from racing import race``)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

__all__ = ["race"]

T = TypeVar("T")


def race(count: int, action: Callable[[int], T]) -> list[T]:
    """Run ``action(i)`` in ``count`` threads released together; return the results."""
    barrier = threading.Barrier(count)

    def go(i: int) -> T:
        barrier.wait()
        return action(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(go, range(count)))
