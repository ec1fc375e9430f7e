"""RunRecords run numbers: each app's runs are numbered 1, 2, 3... by the store at creation,
uniquely and densely even when threads and processes create runs of one app at once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import threading
from pathlib import Path

import pytest
from conftest import Backend
from factories import make_run
from scd_core.store import RunStore

ROLE = "runs"


def test_each_app_numbers_its_runs_from_one_in_creation_order(store: RunStore) -> None:
    web = [store.create_run(make_run(n))[0].number for n in (1, 2)]
    api = store.create_run(make_run(3, app="api"))[0].number
    web.append(store.create_run(make_run(4))[0].number)
    assert (web, api) == ([1, 2, 3], 1)
    assert [run.number for run in store.list_runs(app="web")[0]] == [3, 2, 1]
    assert store.get_run("run-2").number == 2


def test_a_callers_number_is_ignored_and_a_duplicate_allocates_none(store: RunStore) -> None:
    first, _ = store.create_run(make_run(1, number=99))
    again, created = store.create_run(make_run(2, key=1, number=7))
    [batch] = store.create_runs([make_run(3)])
    assert (first.number, again.number, created) == (1, 1, False)
    assert not isinstance(batch, Exception)
    assert batch[0].number == 2


def test_a_number_never_changes_through_updates(store: RunStore) -> None:
    stored, _ = store.create_run(make_run(1))
    store.update_run(stored.model_copy(update={"status": "running", "number": 40}))
    assert store.get_run("run-1").number == 1
    assert store.find_run("github:delivery-1") == store.get_run("run-1")


def test_a_batch_numbers_each_app_on_after_its_earlier_runs(store: RunStore) -> None:
    store.create_run(make_run(1))
    answers = store.create_runs(
        [make_run(2), make_run(3, app="api"), make_run(4, key=2), make_run(5)]
    )
    numbers = [None if isinstance(a, Exception) else (a[0].app, a[0].number) for a in answers]
    assert numbers == [("web", 2), ("api", 1), ("web", 2), ("web", 3)]


@pytest.mark.timeout(120)
def test_threads_creating_runs_of_one_app_get_dense_unique_numbers(store: RunStore) -> None:
    per_thread, threads = 25, 8
    numbers: list[int | None] = []
    lock = threading.Lock()
    start = threading.Barrier(threads)

    def create(t: int) -> None:
        start.wait()
        for i in range(per_thread):
            n = f"{t}-{i}"
            if i % 5 == 4:  # batches race with single creations
                answers = store.create_runs([make_run(n)])
                got = [a[0].number for a in answers if isinstance(a, tuple)]
            else:
                got = [store.create_run(make_run(n))[0].number]
            with lock:
                numbers.extend(got)

    workers = [threading.Thread(target=create, args=(t,)) for t in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(timeout=100)
    assert sorted(n for n in numbers if n is not None) == list(range(1, threads * per_thread + 1))


_CREATOR = textwrap.dedent(
    """
    import json, sys, time
    from pathlib import Path
    sys.path.insert(0, sys.argv[4])
    from factories import make_run
    from scd_core.stores import open_store

    url, go, tag = sys.argv[1], Path(sys.argv[2]), sys.argv[3]
    store = open_store(url)
    print("ready", flush=True)
    while not go.exists():
        time.sleep(0.001)
    numbers = []
    for i in range(40):
        run = make_run(f"{tag}-{i}")
        if i % 4 == 3:
            numbers += [a[0].number for a in store.create_runs([run, make_run(f"{tag}-{i}b")])]
        else:
            numbers.append(store.create_run(run)[0].number)
    store.close()
    print(json.dumps(numbers), flush=True)
    """
)


@pytest.mark.timeout(240)
def test_processes_creating_runs_of_one_app_get_dense_unique_numbers(
    backend: Backend, store: RunStore, tmp_path: Path
) -> None:
    if backend.url is None:
        pytest.skip(f"{backend.name} lives in one process")
    store.create_run(make_run("first"))  # the file exists, with number 1 taken
    go = tmp_path / "go"
    tests_dir = str(Path(__file__).resolve().parents[2])
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", _CREATOR, backend.url(tmp_path), str(go), f"p{p}", tests_dir],
            stdout=subprocess.PIPE,
            text=True,
        )
        for p in range(3)
    ]
    outs: list[str] = []
    try:
        for proc in procs:
            assert proc.stdout is not None
            assert proc.stdout.readline().strip() == "ready"
        go.touch()
        outs = [proc.communicate(timeout=200)[0] for proc in procs]
    finally:
        for proc in procs:  # a failed wait leaves no creator behind
            if proc.poll() is None:
                proc.kill()
                proc.communicate()
    assert [proc.returncode for proc in procs] == [0, 0, 0]
    numbers = [1]
    for out in outs:
        numbers += json.loads(out)
    assert sorted(numbers) == list(range(1, 3 * 50 + 2))
    assert {run.number for run in store.list_runs(app="web", limit=1000)[0]} == set(numbers)
