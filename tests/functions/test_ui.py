"""The dashboard over real HTTP on loopback: log-in, sessions, CSRF, pages, live logs, actions."""

from __future__ import annotations

import re
import stat
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import httpx
import pytest
from api_support import Served, config_yaml, digest, serve_trigger, token_yaml
from scd_core.logs import LogWriter
from scd_core.models import Event, Run, StepState

from functions.trigger.ui.session import COOKIE, Sessions

READ, TRIGGER = "ui-read-token", "ui-trigger-token"
WEBHOOK_SECRET = "whsec-ui-never-shown"


CONFIG = config_yaml(
    f"""\
  - name: web
    repo: https://github.com/acme/web.git
    secret: {WEBHOOK_SECRET}
  - name: api
    repo: https://github.com/acme/api.git
    insecure_no_secret: true
""",
    token_yaml("viewer", READ, "read"),
    token_yaml("operator", TRIGGER, "read", "trigger"),
)


@dataclass
class Ui(Served):
    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, follow_redirects=False)

    @contextmanager
    def login(self, token: str = TRIGGER) -> Iterator[httpx.Client]:
        with self.client() as client:
            csrf = _field(client.get("/ui/login").text, "csrf")
            form = {"token": token, "csrf": csrf, "next": "/ui/"}
            answer = client.post("/ui/login", data=form)
            assert answer.status_code == 303, answer.text
            yield client

    def run(self, status: str = "running", **event: str) -> Run:
        fields = {"branch": "main", "commit": "6113728f27ae82c7b1a177c8d03f9e96e0adf246"}
        fields.update(event)
        started = datetime.now(timezone.utc) - timedelta(seconds=5)
        run = Run(
            id=uuid.uuid4().hex,
            app=fields.pop("app", "web"),
            dedup_key=uuid.uuid4().hex,
            status=status,
            started_at=None if status == "queued" else started,
            event=Event(
                provider="github",
                event_name=fields.pop("event_name", "push"),
                ref=f"refs/heads/{fields['branch']}",
                payload={"token": "payload-value-never-shown"},
                **fields,
            ),
        )
        stored, _ = self.store.create_run(run)
        return stored


def _field(html: str, name: str) -> str:
    found = re.search(rf'name="{name}" value="([^"]*)"', html)
    assert found, f"no {name} field in the page"
    return found.group(1)


@pytest.fixture(scope="module")
def ui(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ui]:
    with serve_trigger(tmp_path_factory.mktemp("ui"), CONFIG, Ui) as served:
        yield served


def test_pages_without_a_session_redirect_to_the_login_form(ui: Ui) -> None:
    with ui.client() as client:
        answer = client.get("/ui/?app=web")
        assert answer.status_code == 303
        assert answer.headers["location"].startswith("/ui/login?next=")
        assert client.get("/ui/runs.json").status_code == 401


def test_login_sets_a_signed_httponly_lax_cookie_and_a_0600_key(ui: Ui) -> None:
    with ui.login() as client:
        cookie = next(c for c in client.cookies.jar if c.name == COOKIE)
        assert cookie.has_nonstandard_attr("HttpOnly")
        assert (cookie.get_nonstandard_attr("SameSite") or "").lower() == "lax"
        assert TRIGGER not in (cookie.value or "")
        assert client.get("/ui/").status_code == 200
    mode = stat.S_IMODE((ui.data_dir / "ui-secret").stat().st_mode)
    assert mode == 0o600


def test_login_with_a_wrong_token_answers_401_with_the_form(ui: Ui) -> None:
    with ui.client() as client:
        csrf = _field(client.get("/ui/login").text, "csrf")
        answer = client.post("/ui/login", data={"token": "nope", "csrf": csrf})
        assert answer.status_code == 401
        assert "invalid token" in answer.text
        assert COOKIE not in client.cookies


def test_login_without_the_form_csrf_value_is_refused(ui: Ui) -> None:
    with ui.client() as client:
        client.get("/ui/login")
        answer = client.post("/ui/login", data={"token": TRIGGER, "csrf": "forged"})
        assert answer.status_code == 403
        assert COOKIE not in client.cookies


def test_a_tampered_or_foreign_cookie_is_not_a_session(ui: Ui) -> None:
    foreign = Sessions(b"k" * 32).issue("operator", digest(TRIGGER))
    with ui.client() as client:
        client.cookies.set(COOKIE, foreign, path="/ui")
        assert client.get("/ui/").status_code == 303
    with ui.login() as client:
        value = client.cookies[COOKIE]
        client.cookies.set(COOKIE, value[:-2] + "AA", path="/ui")
        assert client.get("/ui/").status_code == 303


def test_a_revoked_api_token_ends_its_session_at_once(ui: Ui) -> None:
    token = "ui-api-created-token"
    ui.store.put_token("temp", digest(token), ["read"], datetime.now(timezone.utc))
    with ui.login(token) as client:
        assert client.get("/ui/").status_code == 200
        ui.store.revoke_token("temp")
        assert client.get("/ui/").status_code == 303


def test_runs_page_lists_runs_and_the_json_applies_the_filters(ui: Ui) -> None:
    pushed = ui.run("success", app="api", branch="feature-x")
    manual = ui.run("failure", app="api", branch="main", event_name="manual")
    with ui.login(READ) as client:
        page = client.get("/ui/", params={"app": "api"})
        assert page.status_code == 200
        assert pushed.id in page.text
        assert manual.id in page.text
        assert "status-success" in page.text
        assert '<option value="api" selected>api</option>' in page.text
        rows = client.get("/ui/runs.json", params={"app": "api", "branch": "feature-x"}).json()
        assert [r["id"] for r in rows["runs"]] == [pushed.id]
        rows = client.get("/ui/runs.json", params={"app": "api", "event": "manual"}).json()
        assert [r["id"] for r in rows["runs"]] == [manual.id]
        rows = client.get("/ui/runs.json", params={"app": "api", "status": "failure"}).json()
        assert [r["short_commit"] for r in rows["runs"]] == ["6113728"]
        assert client.get("/ui/runs.json", params={"status": "bogus"}).status_code == 400


def test_run_page_escapes_event_text_and_shows_no_secret(ui: Ui) -> None:
    run = ui.run(message="<script>alert(1)</script> fix")
    ui.store.put_step(run.id, StepState(id="setup", name="Set up", index=-1, status="success"))
    with ui.login(READ) as client:
        page = client.get(f"/ui/runs/{run.id}")
        assert page.status_code == 200
        assert "<script>alert(1)" not in page.text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page.text
        assert WEBHOOK_SECRET not in page.text
        assert "payload-value-never-shown" not in page.text
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "<svg" in page.text
        assert 'data-step="setup"' in page.text
        assert 'id="cancel"' not in page.text  # a read token gets no buttons
        state = client.get(f"/ui/runs/{run.id}/state.json").json()
        assert state["steps"][0]["id"] == "setup"


def test_run_page_of_a_bad_or_unknown_id_is_400_or_404(ui: Ui) -> None:
    with ui.login(READ) as client:
        assert client.get("/ui/runs/a..b").status_code == 400
        assert client.get(f"/ui/runs/{uuid.uuid4().hex}").status_code == 404


def test_cancel_needs_the_session_csrf_token(ui: Ui) -> None:
    run = ui.run("queued")
    with ui.login() as client:
        answer = client.post(f"/ui/runs/{run.id}/cancel", data={"csrf": "wrong"})
        assert answer.status_code == 403
        assert ui.store.get_run(run.id).status == "queued"


def test_cancel_with_csrf_ends_a_queued_run_cancelled(ui: Ui) -> None:
    run = ui.run("queued")
    with ui.login() as client:
        csrf = _field(client.get(f"/ui/runs/{run.id}").text, "csrf")
        answer = client.post(f"/ui/runs/{run.id}/cancel", data={"csrf": csrf})
        assert answer.status_code == 303
        assert answer.headers["location"] == f"/ui/runs/{run.id}"
    assert ui.store.get_run(run.id).status == "cancelled"
    assert ui.store.get_control(run.id) == "cancel"


def test_cancel_with_a_read_only_session_is_forbidden(ui: Ui) -> None:
    run = ui.run("running")
    with ui.login(READ) as client:
        csrf = _field(client.get("/ui/").text, "csrf")
        answer = client.post(f"/ui/runs/{run.id}/cancel", data={"csrf": csrf})
        assert answer.status_code == 403
    assert ui.store.get_control(run.id) is None


def test_rerun_records_a_linked_run_and_dispatches_it(ui: Ui) -> None:
    first = ui.run("failure")
    with ui.login() as client:
        csrf = _field(client.get(f"/ui/runs/{first.id}").text, "csrf")
        answer = client.post(f"/ui/runs/{first.id}/rerun", data={"csrf": csrf})
        assert answer.status_code == 303
        new_id = answer.headers["location"].rsplit("/", 1)[1]
        again = client.post(f"/ui/runs/{first.id}/rerun", data={"csrf": csrf})
        second_id = again.headers["location"].rsplit("/", 1)[1]
    new = ui.store.get_run(new_id)
    assert new.rerun_of == first.id
    assert new.event.commit == first.event.commit
    assert new.dedup_key == f"rerun:{first.id}:1"
    assert ui.store.get_run(second_id).dedup_key == f"rerun:{first.id}:2"
    assert {new_id, second_id} <= {job.id for job in ui.invoker.jobs}


def test_step_events_stream_lines_resume_from_last_event_id_and_end(ui: Ui) -> None:
    run = ui.run("running")
    ui.store.put_step(run.id, StepState(id="build", name="Build", index=0, status="running"))
    writer = LogWriter(ui.sink, run.id, "build")
    writer.write(b"\x1b[32mfirst\x1b[0m\nsecond\n")

    def finish() -> None:
        writer.write(b"third\n")
        ui.store.put_step(run.id, StepState(id="build", name="Build", status="success"))
        writer.close()

    timer = threading.Timer(0.3, finish)
    timer.start()
    with ui.login(READ) as client:
        url = f"/ui/runs/{run.id}/steps/build/events"
        text = client.get(url).text
        timer.join()
        assert text.count("event: line") == 3
        assert '"text": "\\u001b[32mfirst\\u001b[0m"' in text
        assert text.rstrip().endswith('event: end\ndata: {"status": "success"}')
        second_id = re.findall(r"^id: (\d+)$", text, re.MULTILINE)[1]
        resumed = client.get(url, headers={"Last-Event-ID": second_id}).text
        assert resumed.count("event: line") == 1
        assert '"text": "third"' in resumed


def test_step_events_refuse_a_bad_step_or_offset(ui: Ui) -> None:
    run = ui.run("running")
    with ui.login(READ) as client:
        base = f"/ui/runs/{run.id}/steps"
        assert client.get(f"{base}/..%2Fx/events").status_code in (400, 404)
        assert client.get(f"{base}/a..b/events").status_code == 400
        bad = client.get(f"{base}/build/events", headers={"Last-Event-ID": "-1"})
        assert bad.status_code == 400


def test_logout_clears_the_session(ui: Ui) -> None:
    with ui.login(READ) as client:
        csrf = _field(client.get("/ui/").text, "csrf")
        answer = client.post("/ui/logout", data={"csrf": csrf})
        assert answer.status_code == 303
        assert client.get("/ui/").status_code == 303


def test_static_files_are_served_and_other_names_are_404(ui: Ui) -> None:
    with ui.client() as client:
        script = client.get("/ui/static/ui.js")
        assert script.status_code == 200
        assert "ansiToHtml" in script.text
        assert client.get("/ui/static/..%2Froutes.py").status_code == 404
        assert client.get("/ui/static/nope.js").status_code == 404


def test_ui_routes_are_not_in_the_openapi_document(ui: Ui) -> None:
    with ui.client() as client:
        paths = client.get("/openapi.json").json()["paths"]
    assert not [path for path in paths if path.startswith("/ui")]


def test_runs_page_pages_with_the_store_cursor(ui: Ui) -> None:
    ids = [ui.run("success", app="paged").id for _ in range(51)]
    with ui.login(READ) as client:
        first = client.get("/ui/", params={"app": "paged"}).text
        older = re.search(r'id="older" href="([^"]+)"', first)
        assert older is not None
        assert sum(run_id in first for run_id in ids) == 50
        second = client.get(older.group(1).replace("&amp;", "&")).text
        assert [run_id for run_id in ids if run_id in second] == [ids[0]]
        data = client.get("/ui/runs.json", params={"app": "paged"}).json()
        assert len(data["runs"]) == 50
        assert data["next_cursor"]


def test_a_trigger_only_api_token_logs_in_and_reruns_a_run_of_an_api_app(ui: Ui) -> None:
    token, app = f"ui-trigger-only-{uuid.uuid4().hex}", f"hooks-{uuid.uuid4().hex[:8]}"
    name = f"robot-{uuid.uuid4().hex[:8]}"
    ui.store.put_token(name, digest(token), ["trigger"], datetime.now(timezone.utc))
    spec = {"name": app, "repo": "https://github.com/acme/hooks.git", "insecure_no_secret": True}
    ui.store.put_app(app, spec)
    first = ui.run("failure", app=app)
    with ui.login(token) as client:  # trigger carries read
        csrf = _field(client.get(f"/ui/runs/{first.id}").text, "csrf")
        answer = client.post(f"/ui/runs/{first.id}/rerun", data={"csrf": csrf})
        assert answer.status_code == 303
        new_id = answer.headers["location"].rsplit("/", 1)[1]
    new = ui.store.get_run(new_id)
    assert (new.app, new.rerun_of) == (app, first.id)
    assert new_id in {job.id for job in ui.invoker.jobs}


def test_root_redirects_to_the_dashboard(ui: Ui) -> None:
    with ui.client() as client:
        answer = client.get("/")
        assert answer.status_code == 307
        assert answer.headers["location"] == "/ui/"


def test_the_raw_log_downloads_as_text_without_timestamps_and_needs_a_session(ui: Ui) -> None:
    run = ui.run("running")
    ui.store.put_step(run.id, StepState(id="build", name="Build", index=0, status="running"))
    writer = LogWriter(ui.sink, run.id, "build")
    writer.line("first line")
    writer.line("\x1b[31msecond\x1b[0m line")
    path = f"/ui/runs/{run.id}/steps/build/log.txt"
    with ui.client() as client:
        assert client.get(path).status_code == 401
    with ui.login(READ) as client:
        answer = client.get(path)
        assert answer.status_code == 200
        assert answer.text == "first line\n\x1b[31msecond\x1b[0m line\n"
        assert answer.headers["content-disposition"] == (
            f'attachment; filename="scd-{run.id[:12]}-build.log"'
        )
        assert client.get(f"/ui/runs/{run.id}/steps/nope/log.txt").status_code == 404
        assert client.get(f"/ui/runs/{run.id}/steps/a..b/log.txt").status_code == 400


def test_the_apps_page_lists_each_app_with_its_webhook_url_and_no_secret(ui: Ui) -> None:
    with ui.login(READ) as client:
        page = client.get("/ui/apps")
        assert page.status_code == 200
        assert f"{ui.url}/webhooks/web" in page.text
        assert f"{ui.url}/webhooks/api" in page.text
        assert WEBHOOK_SECRET not in page.text
        assert "Run workflow" not in page.text  # a read token may not start runs
    with ui.login() as client:
        assert "Run workflow" in client.get("/ui/apps").text


def test_run_workflow_starts_a_manual_run_and_names_a_bad_inputs_line(ui: Ui) -> None:
    with ui.login() as client:
        csrf = _field(client.get("/ui/apps").text, "csrf")
        form = {"csrf": csrf, "ref": "main", "inputs": "env=prod\r\n\r\nnote=a=b"}
        answer = client.post("/ui/apps/web/runs", data=form)
        assert answer.status_code == 303
        run = ui.store.get_run(answer.headers["location"].rsplit("/", 1)[1])
        assert run.event.event_name == "manual"
        assert run.event.inputs == {"env": "prod", "note": "a=b"}
        assert run.id in {job.id for job in ui.invoker.jobs}
        bad = client.post("/ui/apps/web/runs", data={**form, "inputs": "ok=1\nno equals sign"})
        assert bad.status_code == 400
        assert "inputs line 2: expected key=value" in bad.text
        assert client.post("/ui/apps/web/runs", data={**form, "ref": ""}).status_code == 400
        assert client.post("/ui/apps/nope/runs", data=form).status_code == 404
        assert client.post("/ui/apps/web/runs", data={**form, "csrf": "x"}).status_code == 403
    with ui.login(READ) as client:
        csrf = _field(client.get("/ui/apps").text, "csrf")
        answer = client.post("/ui/apps/web/runs", data={**form, "csrf": csrf})
        assert answer.status_code == 403


def test_a_record_an_earlier_release_stored_with_lone_surrogates_breaks_no_page(ui: Ui) -> None:
    # Deliveries holding a lone surrogate are refused at the door now; this is a run an
    # earlier release accepted, written straight to the store.
    run = ui.run(status="failure", message="fix \ud800 things", branch="feat-\udfff")
    ui.sink.append(run.id, "build", b"a line\n")
    ui.store.put_step(run.id, StepState(id="build", name="deploy \udc00", status="failure"))
    headers = {"authorization": f"Bearer {READ}"}
    listing = httpx.get(f"{ui.url}/api/v1/runs", headers=headers, timeout=10)
    assert listing.status_code == 200
    shown = next(item for item in listing.json()["runs"] if item["id"] == run.id)
    assert shown["branch"] == "feat-\ufffd"
    detail = httpx.get(f"{ui.url}/api/v1/runs/{run.id}", headers=headers, timeout=10)
    assert detail.status_code == 200
    assert detail.json()["steps"][0]["name"] == "deploy \ufffd"
    with ui.login(READ) as client:
        assert client.get("/ui/").status_code == 200
        assert client.get("/ui/runs.json").status_code == 200
        page = client.get(f"/ui/runs/{run.id}")
        assert page.status_code == 200
        assert "fix \ufffd things" in page.text or "fix &#xfffd; things" in page.text


def test_pages_forbid_framing_inline_script_and_sniffing(ui: Ui) -> None:
    with ui.login(READ) as client:
        for path in ("/ui/", "/ui/login", "/ui/apps"):
            answer = client.get(path)
            policy = answer.headers["content-security-policy"]
            assert "frame-ancestors 'none'" in policy
            assert "script-src 'self'" in policy
            assert "unsafe-inline" not in policy
            assert answer.headers["x-content-type-options"] == "nosniff"
            assert answer.headers["referrer-policy"] == "same-origin"
            assert "<script>" not in answer.text  # no inline script for the policy to refuse
        static = client.get("/ui/static/ui.js")
        assert static.headers["x-content-type-options"] == "nosniff"
