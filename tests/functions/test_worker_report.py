"""The worker reports back: on Function Compute it sends what a job queued (a
signed callback, the final commit status) before answering the invocation."""

from __future__ import annotations

import hashlib
import hmac
from pathlib import Path

from factories import pipeline_repo, scd_yaml
from http_double import recorder
from scd_core.stores import open_store
from test_worker_support import new_job, worker_process

CALLBACK_SECRET = "worker-callback-secret"
STATUS_TOKEN = "worker-status-token"


def test_on_fc_the_worker_delivers_before_it_answers(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    repo, sha = pipeline_repo(tmp_path / "repo", "steps:\n  - id: hello\n    run: echo hi\n")
    with recorder() as api, recorder((200, {})) as hooks:
        app = {
            "name": "web",
            "repo": f"file://{repo}",
            "insecure_no_secret": True,
            "provider": "github",
            "secrets": {"status_token": "${env:STATUS_TOKEN}"},
            "status_api": api.url,
            "callbacks": [{"url": f"{hooks.url}/done", "secret": CALLBACK_SECRET}],
        }
        (data_dir / "scd.yaml").write_text(scd_yaml(app), encoding="utf-8")
        env = {"FC_FUNCTION_NAME": "scd-worker", "STATUS_TOKEN": STATUS_TOKEN}
        with worker_process(data_dir, env) as worker:
            store = open_store(f"sqlite:///{data_dir / 'scd.db'}")
            try:
                job = new_job(store, f"file://{repo}", sha)
                assert worker.invoke(job).json()["status"] == "success"
            finally:
                store.close()
            # no waiting: the answer came after the deliveries
            (callback,) = hooks.requests
            states = [r.json()["state"] for r in api.requests]
            output = worker.output.read_text()
    digest = hmac.new(CALLBACK_SECRET.encode(), callback.body, hashlib.sha256).hexdigest()
    assert callback.headers["x-scd-signature-256"] == f"sha256={digest}"
    assert callback.json()["run_id"] == job.id
    assert states[-1] == "success"
    assert STATUS_TOKEN not in output
