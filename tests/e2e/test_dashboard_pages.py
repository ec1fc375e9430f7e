"""The dashboard's pages as a person reads them, in Debian's chromium (Playwright).

Failure first (the first failed step open, numbered lines with links, errors
marked, find-in-log, raw download), a run page that never goes stale (start,
commit, rerun), times people read, the apps page (webhook URL to copy, trend,
"Run workflow"), and no horizontal overflow at 390 px and 1280 px. With
``SCD_SCREENSHOTS=DIR`` (``make screenshots``) the pages' screenshots are written
to DIR, else under the test's temp dir.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from scd_core.logs import LogWriter
from scd_core.models import Event, Run, StepState, utcnow
from scd_core.sinks.file import FileLogSink
from scd_core.store import RunStore
from test_dashboard_browser import CHROMIUM, CHROMIUM_ARGS, TOKEN, WAIT_MS, served

from functions.client.render import format_ago, format_duration

if TYPE_CHECKING:
    from playwright.sync_api import Page

__all__ = ["served"]  # the fixture, shared with the live-log tests

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="Debian's chromium (/usr/bin/chromium) is not installed"
)
Served = tuple[str, RunStore, FileLogSink]
COMMIT = "6113728f27ae82c7b1a177c8d03f9e96e0adf246"
NOW = datetime.now(timezone.utc)
ZONE = "Asia/Shanghai"  # the viewer's zone: UTC+8, no daylight saving


@contextmanager
def _page(url: str, width: int = 1280, height: int = 900) -> Iterator[Page]:
    """A logged-in page (clipboard allowed, so the copy button can be read back)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            context = browser.new_context(
                viewport={"width": width, "height": height}, timezone_id=ZONE
            )
            context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url)
            page = context.new_page()
            page.goto(f"{url}/ui/login")
            page.fill("#token", TOKEN)
            page.click("button[type=submit]")
            page.wait_for_url(f"{url}/ui/")
            yield page
        finally:
            browser.close()


def _run(
    store: RunStore, status: str = "failure", *, commit: str | None = COMMIT, **kw: Any
) -> Run:
    run_id = uuid.uuid4().hex
    event = Event(
        provider="github",
        event_name=kw.pop("event_name", "push"),
        ref="refs/heads/main",
        branch="main",
        commit=commit,
        message="Speed up the build",
    )
    run = Run(id=run_id, app="web", dedup_key=run_id, event=event, **kw)
    store.create_run(run)
    if status != "queued":
        stored = store.get_run(run_id)
        stored.status = status  # type: ignore[assignment]
        stored.started_at = NOW - timedelta(minutes=3)
        stored.finished_at = NOW - timedelta(minutes=1, seconds=48)
        store.update_run(stored)
    return store.get_run(run_id)


def _step(store: RunStore, sink: FileLogSink, run_id: str, index: int, key: str, status: str,
          lines: list[str]) -> None:  # fmt: skip
    started = NOW - timedelta(minutes=3)
    store.put_step(
        run_id,
        StepState(
            id=key, name=key.title(), index=index, status=status,  # type: ignore[arg-type]
            started_at=started, finished_at=started + timedelta(seconds=30 + index),
        ),
    )  # fmt: skip
    writer = LogWriter(sink, run_id, key)
    for line in lines:
        writer.line(line)
    writer.close()


def _failed_run(store: RunStore, sink: FileLogSink) -> Run:
    run = _run(store, "failure")
    _step(store, sink, run.id, -1, "setup", "success", [f"Checked out {COMMIT}"])
    build = [f"compiling module {i}" for i in range(1, 200)]
    build[40] = "needle in the build log"
    build[150] = "another needle"
    _step(store, sink, run.id, 0, "build", "success", build)
    test_lines = [f"test {i} passed" for i in range(1, 120)]
    test_lines[2] = "error: test_checkout failed: expected 3, got 4"
    test_lines[3] = "warning: 2 tests are slow"
    _step(store, sink, run.id, 1, "test", "failure", test_lines)
    store.put_step(run.id, StepState(id="deploy", name="Deploy", index=2, status="skipped"))
    return run


def test_a_failed_run_opens_at_its_failed_step_with_numbered_lines_and_errors_marked(
    served: Served,
) -> None:
    from playwright.sync_api import expect

    url, store, sink = served
    run = _failed_run(store, sink)
    with _page(url, height=700) as page:
        page.goto(f"{url}/ui/runs/{run.id}")
        number = store.get_run(run.id).number  # the run's name: its app and number
        expect(page.locator("#run-title")).to_have_text(re.compile(rf"^web #{number} failure$"))
        test_log = page.locator('li[data-step="test"] div.log')
        expect(test_log).to_be_visible()
        expect(test_log.locator(".line")).to_have_count(119, timeout=WAIT_MS)
        for collapsed in ("setup", "build", "deploy"):
            expect(page.locator(f'li[data-step="{collapsed}"] details')).not_to_have_attribute(
                "open", ""
            )
        expect(page.locator('li[data-step="test"]')).to_be_in_viewport()  # scrolled to it
        line3 = page.locator("#step-test-L3")
        expect(line3).to_have_class(re.compile(r"\bline-error\b"))
        expect(page.locator("#step-test-L4")).to_have_class(re.compile(r"\bline-warning\b"))
        expect(line3.locator("a.ln")).to_have_attribute("href", "#step-test-L3")
        expect(line3.locator("a.ln")).to_have_text("3")
        assert test_log.evaluate("box => box.scrollTop") == 0  # a finished log opens at the top
        expect(page.locator('li[data-step="test"] input.follow')).to_be_hidden()

        page.goto(f"{url}/ui/runs/{run.id}#step-build-L41")  # a shared line link
        line = page.locator("#step-build-L41")
        expect(line).to_have_class(re.compile(r"\bhl\b"), timeout=WAIT_MS)
        expect(line).to_contain_text("needle in the build log")
        expect(line).to_be_in_viewport()

        find = page.locator('li[data-step="build"] input.find')
        find.fill("NEEDLE")
        expect(page.locator('li[data-step="build"] .find-count')).to_have_text("2 matches")
        expect(page.locator('li[data-step="build"] .line.current')).to_contain_text("needle in")
        find.press("Enter")
        expect(page.locator('li[data-step="build"] .line.current')).to_have_text(
            re.compile("another needle")
        )
        raw = page.request.get(f"{url}/ui/runs/{run.id}/steps/test/log.txt")
        assert raw.status == 200
        assert raw.headers["content-type"].startswith("text/plain")
        assert raw.headers["content-disposition"].startswith("attachment;")
        assert raw.text().splitlines()[2] == "error: test_checkout failed: expected 3, got 4"


def test_the_run_page_shows_start_commit_and_times_as_they_happen_and_so_does_a_rerun(
    served: Served,
) -> None:
    from playwright.sync_api import expect

    url, store, _ = served
    run = _run(store, "queued", commit=None, event_name="manual")
    with _page(url) as page:
        page.goto(f"{url}/ui/runs/{run.id}")
        expect(page.locator("#run-started")).to_have_text("not yet")
        expect(page.locator("#run-commit")).to_have_text("not resolved yet")
        expect(page.locator("#run-message-label")).to_be_hidden()  # no empty "Note"
        current = store.get_run(run.id)
        current.status, current.started_at = "running", utcnow() - timedelta(seconds=75)
        current.event = current.event.model_copy(update={"commit": COMMIT})
        store.update_run(current)
        started = page.locator("#run-started time")
        expect(started).to_have_text(re.compile(r"^1m ago$"), timeout=WAIT_MS)
        expect(page.locator("#run-commit code")).to_have_text("6113728", timeout=WAIT_MS)
        expect(page.locator("#run-duration")).to_have_text(re.compile(r"^running for 1m 1\ds$"))
        title = started.get_attribute("title") or ""
        assert title.endswith(ZONE)  # the exact time in the viewer's zone, not raw ISO
        local = current.started_at.astimezone(timezone(timedelta(hours=8)))
        assert f"{local.minute:02d}:{local.second:02d}" in title
        assert str(local.hour % 12 or 12) in title
        current = store.get_run(run.id)
        current.status, current.finished_at = "success", current.started_at + timedelta(seconds=72)
        store.update_run(current)
        expect(page.locator("#run-duration")).to_have_text("took 1m 12s", timeout=WAIT_MS)
        body = page.locator("main").inner_text()
        assert not re.search(r"\d\d:\d\d:\d\d\.\d{6}", body)  # no raw microseconds anywhere

        page.click("#rerun")
        page.wait_for_url(re.compile(r"/ui/runs/[0-9a-f]+$"))
        new_id = page.url.rsplit("/", 1)[1]
        assert new_id != run.id
        expect(page.locator("#run-started")).to_have_text("not yet")
        rerun = store.get_run(new_id)
        rerun.status, rerun.started_at = "running", utcnow()
        store.update_run(rerun)
        expect(page.locator("#run-started time")).to_have_text(
            re.compile(r"^\d+s ago$"), timeout=WAIT_MS
        )
        expect(page.locator("#run-status")).to_have_text("running")


def test_a_running_step_follows_its_tail_until_follow_is_unticked(served: Served) -> None:
    from playwright.sync_api import expect

    url, store, sink = served
    run = _run(store, "running")
    store.put_step(run.id, StepState(id="build", name="Build", index=0, status="running",
                                     started_at=utcnow()))  # fmt: skip
    writer = LogWriter(sink, run.id, "build")
    at_end = "box => box.scrollTop + box.clientHeight >= box.scrollHeight - 4"
    with _page(url, height=700) as page:
        page.goto(f"{url}/ui/runs/{run.id}")
        box = page.locator('li[data-step="build"] div.log')
        follow = page.locator('li[data-step="build"] input.follow')
        expect(follow).to_be_checked()
        writer.write("".join(f"line {i}\n" for i in range(1, 301)).encode())
        expect(page.locator("#step-build-L300")).to_be_attached(timeout=WAIT_MS)
        assert box.evaluate(at_end)  # followed: the newest line in view
        follow.uncheck()
        top = box.evaluate("box => box.scrollTop")
        writer.write("".join(f"more {i}\n" for i in range(1, 51)).encode())
        expect(page.locator("#step-build-L350")).to_be_attached(timeout=WAIT_MS)
        assert box.evaluate("box => box.scrollTop") == top  # not followed: where the reader was
        follow.check()
        assert box.evaluate(at_end)
    writer.close()


def test_the_apps_page_copies_the_webhook_url_shows_the_trend_and_runs_a_workflow(
    served: Served,
) -> None:
    from playwright.sync_api import expect

    url, store, _ = served
    _run(store, "success")
    _run(store, "failure")
    with _page(url) as page:
        page.click("nav >> text=Apps")
        app = page.locator("#app-web")
        expect(app.locator("code.webhook")).to_have_text(f"{url}/webhooks/web")
        expect(app.locator(".trigger")).to_have_text(["push: any branch", "manual"])
        expect(app.locator(".rate")).to_have_text(
            "1 of 2 recent runs succeeded (50%) · median 1m 12s"
        )
        expect(app.locator("h2 .status")).to_have_text("failure")
        expect(app.locator(".trend rect.bar")).to_have_count(2)
        app.locator("button.copy").click()
        expect(app.locator("button.copy")).to_have_text("Copied")
        assert page.evaluate("navigator.clipboard.readText()") == f"{url}/webhooks/web"

        app.locator(".run-workflow summary").click()
        app.locator("input[name=ref]").fill("release/1.2")
        app.locator("textarea[name=inputs]").fill("env=staging\nnote=a=b\n")
        app.locator(".run-workflow button[type=submit]").click()
        page.wait_for_url(re.compile(r"/ui/runs/[0-9a-f]+$"))
        started = store.get_run(page.url.rsplit("/", 1)[1])
        assert started.event.event_name == "manual"
        assert started.event.ref == "refs/heads/release/1.2"
        assert started.event.inputs == {"env": "staging", "note": "a=b"}
        expect(page.locator("#run-status")).to_have_text("queued")


def test_durations_and_ages_in_the_browser_match_the_cli(served: Served) -> None:
    url, _, _ = served
    seconds = [0, 4.2, 59.9, 60, 72.4, 3599, 3600, 7265]  # the API gives tenths
    now = datetime(2026, 12, 6, 3, 0, 0, tzinfo=timezone.utc)
    stamps = [(now - timedelta(seconds=s)).isoformat().replace("+00:00", "Z") for s in
              (5, 61, 3 * 3600 + 5, 2 * 86400 + 1, -30)]  # fmt: skip
    with _page(url) as page:
        page.add_script_tag(url=f"{url}/ui/static/ui.js")
        durations = page.evaluate("xs => xs.map(x => scd.duration(x))", seconds)
        ages = page.evaluate(
            "([xs, now]) => xs.map(x => scd.ago(x, Date.parse(now)))",
            [stamps, now.isoformat()],
        )
    assert durations == [format_duration(s) for s in seconds]
    assert ages == [format_ago(s, now) for s in stamps]


PAGES = {"runs": "/ui/", "run": "/ui/runs/{run}", "apps": "/ui/apps"}


@pytest.mark.parametrize("width", [390, 1280])
def test_no_page_overflows_the_viewport_horizontally(
    served: Served, width: int, tmp_path: Path
) -> None:
    url, store, sink = served
    run = _failed_run(store, sink)
    _run(store, "success")
    shots = Path(os.environ.get("SCD_SCREENSHOTS") or tmp_path)
    shots.mkdir(parents=True, exist_ok=True)
    weights: dict[str, tuple[int, int]] = {}
    with _page(url, width=width) as page:
        for name, path in PAGES.items():
            finished: list[Any] = []

            def record(request: Any, finished: list[Any] = finished) -> None:
                finished.append(request)

            page.on("requestfinished", record)
            page.goto(url + path.format(run=run.id))
            page.wait_for_load_state("networkidle")
            page.remove_listener("requestfinished", record)
            overflow = page.evaluate("() => document.documentElement.scrollWidth - innerWidth")
            assert overflow <= 0, f"{path} overflows by {overflow}px at {width}px"
            page.screenshot(path=str(shots / f"{name}-{width}.png"), full_page=True)
            total = sum(_body_bytes(request) for request in finished)
            weights[name] = (len(finished), total)
    print(f"page weights at {width}px (requests, body bytes): {weights}; screenshots: {shots}")


def _body_bytes(request: Any) -> int:
    """The bytes of a finished request's answer body (a cached file's too)."""
    size = int(request.sizes()["responseBodySize"])
    if size >= 0:
        return size
    response = request.response()
    return len(response.body()) if response is not None else 0
