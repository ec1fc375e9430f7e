"""Bounded work per API request, over real HTTP on loopback: the token is checked before a
body is read, bodies are capped in size, depth and keys before parsing, and ``/healthz``
keeps answering while abusive requests run."""

from __future__ import annotations

import json
import socket
import statistics
import threading
import time
from collections.abc import Iterator
from urllib.parse import urlsplit

import httpx
import pytest
from api_support import WEB_APP, Served, config_yaml, serve_trigger, token_yaml

from functions.trigger.limits import MAX_API_BODY, MAX_DEPTH, MAX_KEYS, json_shape_problem

ADMIN = "limits-admin-token"
CONFIG = config_yaml(WEB_APP, token_yaml("root", ADMIN, "admin"))


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Served]:
    with serve_trigger(tmp_path_factory.mktemp("limits"), CONFIG, Served) as it:
        yield it


def _wide(keys: int) -> bytes:
    extra = {f"k{i}": i for i in range(keys)}
    return json.dumps({"repo": "https://e.com/r.git", "extra": extra}).encode()


def _raw_put(url: str, path: str, headers: dict[str, str]) -> bytes:
    """Send only a request's head (a huge Content-Length, no body) and read the answer."""
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as conn:
        head = f"PUT {path} HTTP/1.1\r\nHost: {parts.netloc}\r\n"
        head += "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
        conn.sendall(head.encode())
        return conn.recv(65536)


def test_an_unauthenticated_huge_body_is_refused_401_before_it_is_read(served: Served) -> None:
    # Nothing of the declared 100 MB is sent: a server that read the body first would wait.
    answer = _raw_put(
        served.url,
        "/api/v1/apps/big",
        {"Content-Type": "application/json", "Content-Length": str(100 * 1024 * 1024)},
    )
    assert answer.startswith(b"HTTP/1.1 401")
    bad_token = {"Authorization": "Bearer not-a-token", "Content-Length": "104857600"}
    assert _raw_put(served.url, "/api/v1/apps/big", bad_token).startswith(b"HTTP/1.1 401")


def test_an_authenticated_body_over_the_cap_is_413_before_it_is_read(served: Served) -> None:
    answer = _raw_put(
        served.url,
        "/api/v1/apps/big",
        {"Authorization": f"Bearer {ADMIN}", "Content-Length": str(MAX_API_BODY + 1)},
    )
    assert answer.startswith(b"HTTP/1.1 413")


def test_a_body_with_too_many_keys_or_too_deep_is_400_naming_the_limit(served: Served) -> None:
    headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
    wide = httpx.put(served.url + "/api/v1/apps/wide", content=_wide(60_000), headers=headers)
    assert wide.status_code == 400
    assert f"more than {MAX_KEYS} keys" in wide.json()["detail"]
    deep = b'{"repo": ' + b"[" * (MAX_DEPTH + 1) + b"]" * (MAX_DEPTH + 1) + b"}"
    answer = httpx.put(served.url + "/api/v1/apps/deep", content=deep, headers=headers)
    assert answer.status_code == 400
    assert f"deeper than {MAX_DEPTH}" in answer.json()["detail"]
    assert served.store.get_app("wide") is None


def test_the_shape_scan_ignores_brackets_and_colons_inside_strings() -> None:
    text = json.dumps({"a": "[[[[{{{{:::" * 1000, "b": [1, 2, {"c": "]]]}}}"}]}).encode()
    assert json_shape_problem(text) is None
    assert json_shape_problem(b'{"a": "\\"' + b":" * 20_000 + b'"}') is None
    assert json_shape_problem(b"[" * 65 + b"]" * 65) is not None


def _healthz_latencies(url: str, count: int) -> list[float]:
    out = []
    with httpx.Client(timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            assert client.get(url + "/healthz").status_code == 200
            out.append(time.perf_counter() - started)
            time.sleep(0.01)
    return out


@pytest.mark.slow
def test_healthz_keeps_answering_while_abusive_app_bodies_are_refused(served: Served) -> None:
    idle = statistics.median(_healthz_latencies(served.url, 30))
    stop = threading.Event()
    answers: list[int] = []
    body = _wide(60_000)  # under 1 MiB: before this guard, seconds of validation on the event loop

    def abuse() -> None:
        headers = {"Authorization": f"Bearer {ADMIN}", "Content-Type": "application/json"}
        with httpx.Client(timeout=60) as client:
            while not stop.is_set():
                answers.append(client.put(served.url + "/api/v1/apps/x", content=body,
                                          headers=headers).status_code)  # fmt: skip

    threads = [threading.Thread(target=abuse) for _ in range(2)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.3)
        busy = statistics.median(_healthz_latencies(served.url, 30))
    finally:
        stop.set()
        for thread in threads:
            thread.join(60)
    assert answers
    assert set(answers) == {400}
    # A ratio to idle (floored at 2 ms, below which loopback timing is noise), not a time.
    assert busy / max(idle, 0.002) < 25, (idle, busy)
