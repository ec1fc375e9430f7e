"""What the webhook hot path does for speed keeps its answers and imports exact.

The front answers ``POST /webhooks/{app}`` through a bare ASGI door
(``serve_webhook``); the Starlette route (``receive_webhook``) answers it when
that door is off. Both must answer every case alike.
"""

from __future__ import annotations

import asyncio
import gc
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from scd_core.invokers.memory import MemoryInvoker
from scd_core.models import Run
from scd_core.settings import Settings
from scd_core.stores import open_store
from scd_core.stores.sqlite import SqliteRunStore
from starlette.responses import JSONResponse

from functions.appconfig import parse_config
from functions.trigger.app import TriggerFront, create_app
from functions.trigger.testing import asgi_client, github_push, github_signature
from functions.trigger.webhooks import _queued

SECRET = "hot-path-secret"
CONFIG = f"""
apps:
  - name: web
    repo: https://github.com/acme/web.git
    provider: github
    secret: {SECRET}
    trigger:
      push: {{branches: [main]}}
"""


@given(st.text())
def test_the_queued_answer_is_byte_for_byte_what_json_response_sends(run_id: str) -> None:
    expected = JSONResponse({"run_id": run_id, "status": "queued"}, status_code=202)
    assert _queued(run_id) == expected.body


def test_loading_the_trigger_app_does_not_import_croniter() -> None:
    code = "import sys, functions.trigger.app, scd_trigger_spec;print('croniter' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "False"


class _Door:
    def __init__(self, client: Any, front: TriggerFront) -> None:
        self.client = client
        self.front = front
        self.state = front.scd

    def post(self, routed: bool, body: bytes, **headers: str) -> httpx.Response:
        """Post through the bare door, or (``routed``) through the Starlette route."""
        self.front.scd = None if routed else self.state
        return self.client.post("/webhooks/web", content=body, headers=headers)


@pytest.fixture
def door(tmp_path: Path) -> Iterator[_Door]:
    config = parse_config(CONFIG, "scd.yaml", {})
    store = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    settings = Settings(data_dir=tmp_path, max_body_bytes=32 * 1024)
    front = create_app(settings, config=config, store=store, invoker=MemoryInvoker())
    # a 500 is an answer here, as a client sees it, not an exception re-raised
    with asgi_client(front, raise_server_exceptions=False) as client:
        yield _Door(client, front)
    store.close()


def _signed(body: bytes, delivery: str, event: str = "push") -> dict[str, str]:
    return {
        "Content-Type": "application/json",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": github_signature(SECRET, body),
    }


def _shown(response: httpx.Response) -> tuple[int, list[tuple[str, str]], Any]:
    """Status, headers and JSON body; run ids all have one length, so lengths compare."""
    body = response.json()
    if "run_id" in body:
        body["run_id"] = "<id>"
    return response.status_code, sorted(response.headers.multi_items()), body


_PUSH = github_push("refs/heads/main")
_CASES: dict[str, tuple[bytes, dict[str, str]]] = {
    "accepted": (_PUSH, _signed(_PUSH, "new")),
    "ignored": (github_push("refs/heads/dev"), _signed(github_push("refs/heads/dev"), "dev")),
    "ping": (b'{"zen": "hi"}', _signed(b'{"zen": "hi"}', "p", event="ping")),
    "bad signature": (_PUSH, {**_signed(_PUSH, "bad"), "X-Hub-Signature-256": "sha256=00"}),
    "no signature": (_PUSH, {"Content-Type": "application/json", "X-GitHub-Event": "push"}),
    "not json": (b"{nope", _signed(b"{nope", "nj")),
    "no event header": (_PUSH, {"Content-Type": "application/json"}),
    "text body": (_PUSH, {**_signed(_PUSH, "t"), "Content-Type": "text/plain"}),
    "too large": (b"{}" + b" " * 40_000, _signed(b"{}" + b" " * 40_000, "big")),
    "bad length": (_PUSH, {**_signed(_PUSH, "len"), "Content-Length": "x"}),
}


@pytest.mark.parametrize("case", sorted(_CASES))
def test_the_bare_door_answers_as_the_starlette_route_does(door: _Door, case: str) -> None:
    body, headers = _CASES[case]
    routed = door.post(True, body, **headers)
    if case == "accepted":  # a second delivery of one id would be a duplicate
        headers = {**headers, "X-GitHub-Delivery": "new-2"}
    bare = door.post(False, body, **headers)
    assert _shown(bare) == _shown(routed)
    assert bare.status_code != 500


def test_a_redelivery_is_a_duplicate_through_either_door(door: _Door) -> None:
    first = door.post(False, _PUSH, **_signed(_PUSH, "once")).json()
    for routed in (True, False):
        again = door.post(routed, _PUSH, **_signed(_PUSH, "once"))
        expected = {"run_id": first["run_id"], "duplicate": True}
        assert (again.status_code, again.json()) == (200, expected)


def test_an_unknown_app_is_404_in_our_shape_at_the_bare_door(door: _Door) -> None:
    response = door.client.post("/webhooks/nope", content=_PUSH, headers=_signed(_PUSH, "u"))
    assert response.status_code == 404
    assert response.json()["error"] == "not_found"


def test_a_failing_store_answers_500_internal_without_its_message(
    door: _Door, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: SqliteRunStore, runs: list[Run]) -> None:
        raise RuntimeError("secret-looking internals")

    monkeypatch.setattr(SqliteRunStore, "create_runs", broken)
    for routed in (True, False):
        response = door.post(routed, _PUSH, **_signed(_PUSH, f"broken-{routed}"))
        assert response.status_code == 500
        assert response.json() == {"error": "internal", "detail": "internal error"}
        assert "secret-looking" not in response.text


def _through_the_door(door: _Door, messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the bare door sends for a delivery arriving as these ASGI messages."""
    body = b"".join(message.get("body", b"") for message in messages)
    headers = {**_signed(body, f"pieces-{len(messages)}"), "Content-Length": str(len(body))}
    scope = {
        "type": "http",
        "method": "POST",
        "path": "/webhooks/web",
        "root_path": "",
        "query_string": b"",
        "headers": [(k.lower().encode(), v.encode()) for k, v in headers.items()],
    }
    pending = iter(messages)
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return next(pending)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(door.front(scope, receive, send))
    return sent


def test_a_body_arriving_in_pieces_is_verified_whole_at_the_bare_door(door: _Door) -> None:
    pieces = [_PUSH[:100], _PUSH[100:5000], _PUSH[5000:]]
    messages = [{"type": "http.request", "body": piece, "more_body": True} for piece in pieces]
    messages[-1]["more_body"] = False
    sent = _through_the_door(door, messages)
    assert sent[0]["status"] == 202
    assert json.loads(sent[1]["body"])["status"] == "queued"


def test_a_client_gone_before_its_body_ended_gets_nothing_and_starts_nothing(
    door: _Door,
) -> None:
    messages = [
        {"type": "http.request", "body": _PUSH[:100], "more_body": True},
        {"type": "http.disconnect"},
    ]
    assert _through_the_door(door, messages) == []
    assert door.state is not None
    assert door.state.launcher.store.list_runs()[0] == []


def test_an_accepted_push_is_stored_with_the_delivered_payload_text(door: _Door) -> None:
    spaced = json.dumps(json.loads(_PUSH), indent=3).encode()  # not how a model would encode it
    response = door.post(False, spaced, **_signed(spaced, "spaced"))
    assert response.status_code == 202
    store = door.state.launcher.store if door.state is not None else None
    assert isinstance(store, SqliteRunStore)
    run = store.get_run(response.json()["run_id"])
    assert run.event.payload == json.loads(spaced)
    raw = store._db.execute(
        "SELECT data, json_valid(data), json_extract(data, '$.event.branch') FROM runs"
        " WHERE id = ?",
        (run.id,),
    ).fetchone()
    assert spaced.decode() in raw[0]
    assert raw[1:] == (1, "main")


def test_an_app_owning_its_process_freezes_what_start_up_allocated(tmp_path: Path) -> None:
    config = parse_config(CONFIG, "scd.yaml", {})
    store = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    settings = Settings(data_dir=tmp_path)
    front = create_app(
        settings, config=config, store=store, invoker=MemoryInvoker(), freeze_gc=True
    )
    gc.unfreeze()
    try:
        with asgi_client(front) as client:
            assert gc.get_freeze_count() > 0
            assert (
                client.post("/webhooks/web", content=_PUSH, headers=_signed(_PUSH, "f")).status_code
                == 202
            )
    finally:
        gc.unfreeze()  # the rest of the test session collects as usual
        store.close()


def test_an_app_for_tests_leaves_the_collector_alone(door: _Door) -> None:
    assert gc.get_freeze_count() == 0
