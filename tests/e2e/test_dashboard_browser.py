"""The dashboard in a real browser: Debian's chromium driven by Playwright.

The trigger app runs under real uvicorn on loopback with a SQLite store and the
file log sink in the test's temp dir. A thread stands in for the worker: it
writes the running step's log through a ``LogWriter`` and, once the cancel
request is recorded, ends the step and the run ``cancelled`` as the worker does.
The test logs in with a token, opens the running run, sees a line written after
the page loaded appear (ANSI colour rendered), presses Cancel and sees
``cancelled``; the run page's screenshot is saved under the test's temp dir.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from scd_core.invokers.memory import MemoryInvoker
from scd_core.logs import LogWriter
from scd_core.models import Event, Run, StepState, utcnow
from scd_core.settings import Settings
from scd_core.sinks.file import FileLogSink
from scd_core.store import RunStore
from scd_core.stores import open_store

from functions.appconfig import parse_config
from functions.trigger.app import create_app
from functions.trigger.testing import serve

if TYPE_CHECKING:
    from playwright.sync_api import Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "browser-operator-token"
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()
WAIT_MS = 15_000
CONFIG = f"""
apps:
  - name: web
    repo: https://github.com/acme/web.git
    insecure_no_secret: true
tokens:
  - {{name: operator, sha256: {DIGEST}, scopes: [read, trigger]}}
"""

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists() or shutil.which(str(CHROMIUM)) is None,
    reason="Debian's chromium (/usr/bin/chromium) is not installed: apt-get install chromium",
)


@dataclass
class FakeWorker:
    """Writes a running step's log and honours a cancel request, as the worker would."""

    store: RunStore
    run_id: str
    writer: LogWriter
    live_line: threading.Event
    stop: threading.Event

    def serve(self) -> None:
        self.live_line.wait()
        self.writer.write(b"\x1b[1;32mlive line written after the page loaded\x1b[0m\n")
        while not self.stop.wait(0.05):
            if self.store.get_control(self.run_id) == "cancel":
                self._cancel()
                return

    def _cancel(self) -> None:
        self.writer.line("step cancelled")
        self.writer.close()
        now = utcnow()
        self.store.put_step(
            self.run_id,
            StepState(
                id="build",
                name="Build",
                index=0,
                status="cancelled",
                conclusion="cancelled",
                started_at=now - timedelta(seconds=3),
                finished_at=now,
            ),
        )
        run = self.store.get_run(self.run_id)
        run.status = "cancelled"
        run.finished_at = now
        run.message = "cancelled by a user"
        self.store.update_run(run)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[str, RunStore, FileLogSink]]:
    settings = Settings(data_dir=tmp_path / "data", config=tmp_path / "scd.yaml")
    settings.data_dir.mkdir()
    store = open_store(settings.store)
    app = create_app(settings, config=parse_config(CONFIG), store=store, invoker=MemoryInvoker())
    try:
        with serve(app) as url:
            yield url, store, FileLogSink(settings.data_dir / "logs")
    finally:
        store.close()


def _running_run(store: RunStore, sink: FileLogSink) -> tuple[str, LogWriter]:
    started = datetime.now(timezone.utc) - timedelta(seconds=3)
    run_id = uuid.uuid4().hex
    event = Event(
        provider="github",
        event_name="push",
        ref="refs/heads/main",
        branch="main",
        commit="6113728f27ae82c7b1a177c8d03f9e96e0adf246",
        message="Make the build <b>faster</b>",
    )
    run = Run(
        id=run_id, app="web", dedup_key=run_id, status="running", started_at=started, event=event
    )
    store.create_run(run)
    setup = StepState(
        id="setup",
        name="Set up",
        index=-1,
        status="success",
        started_at=started,
        finished_at=started,
    )
    store.put_step(run_id, setup)
    setup_log = LogWriter(sink, run_id, "setup")
    setup_log.line("checked out 6113728")
    setup_log.close()
    store.put_step(
        run_id, StepState(id="build", name="Build", index=0, status="running", started_at=started)
    )
    writer = LogWriter(sink, run_id, "build")
    writer.write(b"compiling 3 modules\n\x1b[31m<i>not markup</i>\x1b[0m\n")
    return run_id, writer


@contextmanager
def _browser_page() -> Iterator[Page]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser.new_page(viewport={"width": 1200, "height": 900})
        finally:
            browser.close()


def test_runs_table_shows_a_new_run_and_its_status_change_without_reloading(
    served: tuple[str, RunStore, FileLogSink],
) -> None:
    from playwright.sync_api import expect

    url, store, _ = served
    with _browser_page() as page:
        page.goto(f"{url}/ui/login")
        page.fill("#token", TOKEN)
        page.click("button[type=submit]")
        expect(page).to_have_url(f"{url}/ui/")
        expect(page.locator("#runs tr.empty")).to_be_visible()
        run_id = uuid.uuid4().hex
        event = Event(provider="github", event_name="push", branch="live", commit="abcdef1234")
        run, _ = store.create_run(Run(id=run_id, app="web", dedup_key=run_id, event=event))
        row = page.locator(f'#runs tr[data-run="{run_id}"]')
        expect(row.locator(".status")).to_have_text("queued", timeout=WAIT_MS)
        expect(row).to_contain_text("abcdef1")
        run.status = "success"
        run.started_at = utcnow()
        store.update_run(run)
        expect(row.locator(".status")).to_have_text("success", timeout=WAIT_MS)
        expect(row.locator(".status")).to_have_class(re.compile(r"\bstatus-success\b"))


def test_dashboard_shows_a_live_log_line_and_cancels_the_run(
    served: tuple[str, RunStore, FileLogSink], tmp_path: Path
) -> None:
    from playwright.sync_api import expect

    url, store, sink = served
    run_id, writer = _running_run(store, sink)
    worker = FakeWorker(store, run_id, writer, threading.Event(), threading.Event())
    thread = threading.Thread(target=worker.serve, daemon=True)
    thread.start()
    shot = tmp_path / "run-page.png"
    try:
        with _browser_page() as page:
            page.goto(f"{url}/ui/runs/{run_id}")
            expect(page).to_have_url(f"{url}/ui/login?next=%2Fui%2Fruns%2F{run_id}")
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            expect(page).to_have_url(f"{url}/ui/runs/{run_id}")
            expect(page.locator("#run-status")).to_have_text("running")
            build_log = page.locator('li[data-step="build"] div.log')
            expect(build_log).to_contain_text("compiling 3 modules", timeout=WAIT_MS)
            follow = page.locator('li[data-step="build"] input.follow')
            expect(follow).to_be_visible()
            expect(follow).to_be_checked()  # a running step follows its tail
            setup_log = page.locator('li[data-step="setup"] div.log')
            expect(setup_log).to_be_hidden()  # a finished step stays collapsed...
            page.click('li[data-step="setup"] summary')
            expect(setup_log).to_contain_text(
                "checked out 6113728", timeout=WAIT_MS
            )  # ...until opened

            worker.live_line.set()  # the page is loaded: now write a new line
            live = build_log.locator("span.ansi-bold.ansi-32")
            expect(live).to_have_text("live line written after the page loaded", timeout=WAIT_MS)
            expect(page.locator("text=Make the build <b>faster</b>")).to_be_visible()
            escaped = build_log.locator("span.ansi-31")
            expect(escaped).to_have_text("<i>not markup</i>")  # text, not an element
            expect(build_log.locator("i")).to_have_count(0)

            page.click("#cancel")
            expect(page.locator("#run-status")).to_have_text("cancelled", timeout=WAIT_MS)
            expect(page.locator('li[data-step="build"] summary .status')).to_have_text(
                "cancelled", timeout=WAIT_MS
            )
            expect(build_log).to_contain_text("step cancelled", timeout=WAIT_MS)
            expect(page.locator("#cancel")).to_be_disabled(timeout=WAIT_MS)
            bar = page.locator("#chart-current")
            expect(bar).to_have_attribute("class", re.compile(r"\bstatus-cancelled\b"))
            page.screenshot(path=str(shot), full_page=True)
    finally:
        worker.live_line.set()
        worker.stop.set()
        thread.join(timeout=10)
    assert store.get_run(run_id).status == "cancelled"
    assert store.get_control(run_id) == "cancel"
    assert shot.stat().st_size > 0
    print(f"dashboard screenshot: {shot}")


ANSI_CASES = [
    ("<b>&'\"", "&lt;b&gt;&amp;&#39;&quot;"),
    ("\x1b[31mred\x1b[0m plain", '<span class="ansi-31">red</span> plain'),
    (
        "\x1b[1;94mbright\x1b[22m thin",
        '<span class="ansi-bold ansi-94">bright</span><span class="ansi-94"> thin</span>',
    ),
    ("\x1b[38;5;31mx\x1b[m", "x"),
    ("\x1b[2Kcleared\x1b", "cleared"),
    (
        "\x1b[32m<img src=x onerror=alert(1)>",
        '<span class="ansi-32">&lt;img src=x onerror=alert(1)&gt;</span>',
    ),
]


def test_ansi_converter_escapes_html_and_renders_sgr_colours(
    served: tuple[str, RunStore, FileLogSink],
) -> None:
    url, _, _ = served
    with _browser_page() as page:
        page.goto(f"{url}/ui/login")  # any page that loads ui.js
        page.add_script_tag(url=f"{url}/ui/static/ui.js")
        got = page.evaluate(
            "cases => cases.map(text => scd.ansiToHtml(text))", [c for c, _ in ANSI_CASES]
        )
    assert got == [html for _, html in ANSI_CASES]
