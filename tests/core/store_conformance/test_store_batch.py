"""RunRecords.create_runs: many create_run calls in one store write, with create_run's answers."""

from __future__ import annotations

import pytest
from factories import make_run
from scd_core.errors import BackendError, Conflict
from scd_core.store import RunStore, create_runs

ROLE = "runs"


def test_create_runs_creates_each_new_run_in_order(store: RunStore) -> None:
    answers = create_runs(store, [make_run(1), make_run(2), make_run(3)])
    assert answers == [(make_run(n, number=n), True) for n in (1, 2, 3)]
    assert [store.get_run(f"run-{n}").event.payload for n in (1, 2, 3)] == [
        {"n": 1},
        {"n": 2},
        {"n": 3},
    ]


def test_create_runs_answers_a_known_dedup_key_with_the_first_run(store: RunStore) -> None:
    store.create_run(make_run(1))
    answers = create_runs(store, [make_run(2, key=1), make_run(3)])
    assert answers[0] == (make_run(1, number=1), False)
    assert answers[1] == (make_run(3, number=2), True)


def test_runs_sharing_a_dedup_key_in_one_batch_create_only_the_first(store: RunStore) -> None:
    answers = create_runs(store, [make_run(1, key=7), make_run(2, key=7)])
    first = make_run(1, key=7, number=1)
    assert answers == [(first, True), (first, False)]
    assert store.find_run("github:delivery-7") == first


def test_a_conflicting_run_fails_alone_and_the_others_are_created(store: RunStore) -> None:
    store.create_run(make_run(1))
    clash = make_run(1, key=99)  # same id, another dedup key
    answers = create_runs(store, [make_run(2), clash, make_run(3)])
    assert answers[0] == (make_run(2, number=2), True)
    assert isinstance(answers[1], Conflict)
    assert answers[2] == (make_run(3, number=3), True)
    assert store.find_run("github:delivery-99") is None


def test_a_batch_larger_than_one_statement_keeps_every_answer(store: RunStore) -> None:
    # SQLite inserts 500 rows a statement: keys repeat across those chunks here
    runs = [make_run(n) for n in range(1, 1201)]
    runs += [make_run(2000 + n, key=n) for n in (1, 600, 1200)]
    answers = create_runs(store, runs)
    assert answers[:1200] == [(make_run(n, number=n), True) for n in range(1, 1201)]
    assert answers[1200:] == [(make_run(n, number=n), False) for n in (1, 600, 1200)]
    assert store.find_run("github:delivery-600") == make_run(600, number=600)


def test_create_runs_is_a_method_of_every_store_with_create_runs_answers(
    store: RunStore,
) -> None:
    store.create_run(make_run(1))
    answers = store.create_runs([make_run(2, key=1), make_run(3), make_run(3)])
    third = make_run(3, number=2)
    assert answers == [(make_run(1, number=1), False), (third, True), (third, False)]
    assert create_runs(store, []) == []


def test_create_runs_of_a_closed_store_raises_backend_error_and_creates_nothing(
    store: RunStore,
) -> None:
    store.close()
    with pytest.raises(BackendError):
        store.create_runs([make_run(1)])


def test_runs_created_in_a_batch_are_copies(store: RunStore) -> None:
    run = make_run(1, payload={"nested": {"n": 1}})
    [answer] = store.create_runs([run])
    assert not isinstance(answer, Exception)
    answer[0].event.payload["nested"]["n"] = "changed"
    run.event.payload["nested"]["n"] = "changed too"
    assert store.get_run("run-1").event.payload == {"nested": {"n": 1}}
