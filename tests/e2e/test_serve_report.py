"""``scd serve`` reports back: a pushed commit gets its commit statuses (pending,
running, success) and the app's signed completion callback, sent by the serve
process and its worker processes through the shared outbox."""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from e2e_support import SECRET, GitRepo, ScdServer
from http_double import Recorder, recorder

STATUS_TOKEN = "e2e-status-token"
CALLBACK_SECRET = "e2e-callback-secret"


def _wait(check: Callable[[], bool], timeout_s: float = 60.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not check():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.1)


def _register(server: ScdServer, repo: GitRepo, api: Recorder, hooks: Recorder) -> str:
    repo.commit("steps:\n  - id: hello\n    run: echo hi\n")  # make the repository exist
    name = server.app_for(repo.path)
    spec = {
        "name": name,
        "repo": repo.path.resolve().as_uri(),
        "secret": SECRET,
        "provider": "github",
        "trigger": {"push": {"branches": ["main"]}, "manual": True},
        "secrets": {"status_token": STATUS_TOKEN},
        "status_api": api.url,
        "callbacks": [{"url": hooks.url + "/done", "secret": CALLBACK_SECRET}],
    }
    answer = server.client.put(f"/api/v1/apps/{name}", json=spec, headers=server.auth)
    assert answer.status_code in (200, 201), answer.text
    assert STATUS_TOKEN not in answer.text
    assert CALLBACK_SECRET not in answer.text
    return name


def test_a_push_gets_commit_statuses_and_a_signed_callback(
    server: ScdServer, repo: GitRepo
) -> None:
    with recorder() as api, recorder((200, {})) as hooks:
        name = _register(server, repo, api, hooks)
        run_id = server.push(repo.commit("steps:\n  - id: hello\n    run: echo hi\n"))
        assert server.wait_run(run_id)["status"] == "success"
        _wait(lambda: len(hooks.requests) >= 1 and any(
            r.json()["state"] == "success" for r in api.requests
        ))  # fmt: skip
        deliveries = server.client.get(
            f"/api/v1/runs/{run_id}/deliveries", headers=server.auth
        ).json()["deliveries"]
    statuses = [r.json() for r in api.requests]
    assert statuses[-1]["state"] == "success"
    assert {s["context"] for s in statuses} == {f"scd/{name}"}
    assert all(r.headers["authorization"] == f"Bearer {STATUS_TOKEN}" for r in api.requests)
    assert all(r.path.startswith("/repos/local/demo/statuses/") for r in api.requests)
    (callback,) = hooks.requests
    digest = hmac.new(CALLBACK_SECRET.encode(), callback.body, hashlib.sha256).hexdigest()
    assert callback.headers["x-scd-signature-256"] == f"sha256={digest}"
    assert callback.json()["run_id"] == run_id
    assert callback.json()["status"] == "success"
    assert [s["id"] for s in callback.json()["steps"]][-1] == "hello"
    kinds = {(d["kind"], d["state"]) for d in deliveries}
    assert ("callback", "delivered") in kinds
    assert ("status", "delivered") in kinds
    assert STATUS_TOKEN not in server.output()
