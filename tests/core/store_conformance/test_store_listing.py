"""RunRecords.list_runs: newest first, filtered, paged by an opaque cursor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from factories import BASE, make_run
from scd_core.errors import BadRequest
from scd_core.models import Run
from scd_core.store import RunStore

ROLE = "runs"


def _fill_120(store: RunStore) -> list[Run]:
    runs = []
    for i in range(120):
        # groups of three share a timestamp, so the id must break the tie
        created = BASE + timedelta(seconds=i // 3)
        app = ("web", "api", "docs")[i % 3]
        status = ("queued", "running", "success", "failure")[i % 4]
        run = make_run(f"{i:03d}", app=app, status=status, created_at=created)
        store.create_run(run)
        runs.append(run)
    return runs


def _pages(store: RunStore, limit: int, **filters: str) -> tuple[list[str], int]:
    ids: list[str] = []
    cursor: str | None = None
    pages = 0
    while True:
        page, cursor = store.list_runs(limit=limit, cursor=cursor, **filters)
        pages += 1
        ids.extend(r.id for r in page)
        if cursor is None:
            return ids, pages
        assert len(page) == limit


@pytest.mark.parametrize(
    "filters",
    [{}, {"app": "api"}, {"status": "success"}, {"app": "web", "status": "failure"}],
)
def test_list_runs_pages_through_every_match_newest_first(
    store: RunStore, filters: dict[str, str]
) -> None:
    runs = _fill_120(store)
    expected = [
        r.id
        for r in sorted(runs, key=lambda r: (r.created_at, r.id), reverse=True)
        if all(getattr(r, field) == value for field, value in filters.items())
    ]
    ids, pages = _pages(store, 7, **filters)
    assert ids == expected
    assert pages == max(1, -(-len(expected) // 7))


def test_list_runs_ends_without_cursor_when_the_last_page_is_full(store: RunStore) -> None:
    for i in range(4):
        store.create_run(make_run(i, created_at=BASE + timedelta(seconds=i)))
    first, cursor = store.list_runs(limit=2)
    assert [r.id for r in first] == ["run-3", "run-2"]
    assert cursor is not None
    second, end = store.list_runs(limit=2, cursor=cursor)
    assert [r.id for r in second] == ["run-1", "run-0"]
    assert end is None


def test_list_runs_of_an_empty_store_is_an_empty_last_page(store: RunStore) -> None:
    assert store.list_runs() == ([], None)
    assert store.list_runs(app="nobody") == ([], None)


@pytest.mark.parametrize(
    "args",
    [
        {"limit": 0},
        {"limit": 1001},
        {"status": "done"},
        {"cursor": "%%%"},
        {"cursor": "bm9jb2xvbg"},
    ],
)
def test_list_runs_rejects_bad_arguments(store: RunStore, args: dict[str, Any]) -> None:
    with pytest.raises(BadRequest):
        store.list_runs(**args)


def test_list_runs_filters_by_event_and_branch_across_pages(store: RunStore) -> None:
    expected = []
    for i in range(30):
        run = make_run(f"{i:02d}", created_at=BASE + timedelta(seconds=i))
        event = ("push", "tag", "manual")[i % 3]
        branch = ("main", "dev")[i % 2]
        run.event = run.event.model_copy(update={"event_name": event, "branch": branch})
        store.create_run(run)
        if event == "push" and branch == "dev":
            expected.append(run.id)
    ids, _ = _pages(store, 2, event="push", branch="dev")
    assert ids == expected[::-1]
    assert store.list_runs(event="schedule") == ([], None)
    assert len(store.list_runs(branch="main", limit=100)[0]) == 15
