"""serverless-cd plugins through the Node bridge: outputs, logger, postRun, errors, npm."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
from scd_core.models import Event
from scd_engine.plugins import resolve_plugin
from scd_engine.plugins.node import NodePlugin
from scd_engine.plugins.npm import NpmSpec, npm_spec

from tests.engine.test_runtime_steps import run_yaml

FIXTURES = Path(__file__).with_name("node_plugins")
needs_node = pytest.mark.skipif(
    shutil.which("node") is None or shutil.which("npm") is None,
    reason="node and npm are installed by .ci/run",
)
EVENT = Event(
    provider="github",
    event_name="push",
    ref="refs/heads/main",
    branch="main",
    commit="a" * 40,
    pusher="mona",
    pusher_name="Mona Lisa",
)


def _workspace(tmp_path: Path) -> Path:
    workspace = tmp_path / "ws"
    shutil.copytree(FIXTURES, workspace / "plugins")
    return workspace


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("@serverless-cd/ding-talk", NpmSpec("@serverless-cd/ding-talk", None)),
        ("@serverless-cd/s-deploy@1.0.5", NpmSpec("@serverless-cd/s-deploy", "1.0.5")),
        ("npm:left-pad", NpmSpec("left-pad", None)),
        ("left-pad@^1.3", NpmSpec("left-pad", "^1.3")),
        ("cache", None),
        ("pkg.mod:run", None),
        ("@bad name/x", None),
    ],
)
def test_npm_names_are_told_apart_from_scds_own(name: str, expected: NpmSpec | None) -> None:
    assert npm_spec(name) == expected


def test_names_resolve_to_the_bridge_or_to_a_native_equivalent(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    assert isinstance(resolve_plugin("npm:@serverless-cd/ding-talk", workspace), NodePlugin)
    assert isinstance(resolve_plugin("./plugins/notify", workspace), NodePlugin)
    assert isinstance(resolve_plugin("./plugins/boom.js", workspace), NodePlugin)
    assert isinstance(resolve_plugin("./plugins/boom", workspace), NodePlugin)
    assert isinstance(resolve_plugin("npm:@serverless-cd/checkout", workspace), NodePlugin)
    natives = ("@serverless-cd/checkout", "@serverless-cd/cache@0.0.13", "@serverless-cd/ding-talk")
    for native in natives:
        assert not isinstance(resolve_plugin(native, workspace), NodePlugin)


@needs_node
def test_a_js_plugin_gets_resolved_inputs_and_serverless_cds_context_and_its_outputs_flow(
    tmp_path: Path,
) -> None:
    workspace = _workspace(tmp_path)
    text = (
        "steps:\n"
        "  - id: first\n"
        "    run: echo first\n"
        "  - id: notify\n"
        "    plugin: ./plugins/notify\n"
        "    inputs: {who: '${{ git.branch }}-${{ 1 === 1 }}'}\n"
        "  - id: late\n"
        "    plugin: ./plugins/late.js\n"
        "  - id: after\n"
        '    run: echo "$G $C $B $P $S $L"\n'
        "    env:\n"
        "      G: ${{ steps.notify.outputs.greeting }}\n"
        "      C: ${{ steps.notify.outputs.count }}\n"
        "      B: ${{ steps.notify.outputs.branch }}\n"
        "      P: ${{ steps.notify.outputs.pusher }}\n"
        "      S: ${{ steps.notify.outputs.sd }}-${{ steps.notify.outputs.stepCount }}\n"
        "      L: ${{ steps.notify.outputs.leaked }}\n"
    )
    result, log, _ = run_yaml(
        workspace, text, event=EVENT, secrets={"TOKEN": "tok-0123456789"}, cache_dir=tmp_path / "c"
    )
    assert result.status == "success", [s.message for s in result.steps]
    notify = log("notify")
    assert "hello main-true\n" in notify
    assert "a plain stdout line\n" in notify
    assert "the token is ***\n" in notify  # the logger goes through masking
    assert "tok-0123456789" not in notify
    assert "warning: careful\n" in notify
    assert result.steps[1].outputs["cwd"] == str(workspace.resolve())
    assert log("after") == "hi main-true 2 main Mona Lisa serverless_cd-2 no\n"
    # postRun hooks come after every step, the last declared first
    assert [s.id for s in result.steps[4:]] == ["post-late", "post-notify"]
    assert log("post-late") == "late post\n"
    assert log("post-notify") == "post main-true: run said hi main-true; run status success\n"


@needs_node
@pytest.mark.parametrize(
    ("plugin", "message"),
    [
        ("./plugins/boom.js", "plugin ./plugins/boom.js: kaboom because\n"),
        ("./plugins/empty.js", "./plugins/empty.js exports no run(inputs, context, logger)"),
        ("./plugins/missing.js", "no such plugin in the workspace"),
    ],
)
def test_a_throw_or_a_missing_export_fails_the_step_with_a_clear_message(
    tmp_path: Path, plugin: str, message: str
) -> None:
    workspace = _workspace(tmp_path)
    text = f"steps:\n  - id: p\n    plugin: {plugin}\n    inputs: {{why: because}}\n"
    result, log, _ = run_yaml(workspace, text, cache_dir=tmp_path / "c")
    assert result.status == "failure"
    assert result.steps[0].message is not None
    assert message.strip() in result.steps[0].message
    assert f"error: {result.steps[0].message}" in log("p")


@needs_node
def test_a_step_without_node_on_path_says_how_to_install_it(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    text = "steps:\n  - id: p\n    plugin: ./plugins/late.js\n    env: {PATH: /nonexistent}\n"
    result, _, _ = run_yaml(workspace, text, cache_dir=tmp_path / "c")
    assert result.steps[0].message is not None
    assert "no 'node' on the step's PATH" in result.steps[0].message
    assert "apt-get install nodejs npm" in result.steps[0].message


@needs_node
def test_a_failed_npm_install_fails_the_step_with_npms_message(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    text = "steps:\n  - id: p\n    plugin: npm:scd-no-such-package-4b1e7c@0.0.1\n"
    result, log, _ = run_yaml(workspace, text, cache_dir=tmp_path / "c")
    assert result.status == "failure"
    message = result.steps[0].message or ""
    assert message.startswith("InstallError: npm install scd-no-such-package-4b1e7c@0.0.1 failed")
    assert "404" in message
    assert "Installing scd-no-such-package-4b1e7c@0.0.1 with npm" in log("p")
    assert not list((tmp_path / "c" / "npm").iterdir())  # nothing half-installed is kept


def _git(cwd: Path, *args: str) -> str:
    done = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True)
    return done.stdout.strip()


def test_serverless_cds_checkout_is_the_set_up_steps_checkout_or_moves_to_another_commit(
    tmp_path: Path,
) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    _git(workspace, "init", "-q", "-b", "main")
    _git(workspace, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
         "--allow-empty", "-m", "one")  # fmt: skip
    first = _git(workspace, "rev-parse", "HEAD")
    _git(workspace, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-q",
         "--allow-empty", "-m", "two")  # fmt: skip
    head = _git(workspace, "rev-parse", "HEAD")
    event = EVENT.model_copy(update={"commit": head})
    text = (
        "steps:\n"
        "  - id: same\n"
        "    plugin: '@serverless-cd/checkout'\n"
        "  - id: back\n"
        "    plugin: '@serverless-cd/checkout@0.1.11'\n"
        f"    inputs: {{ref: refs/heads/main, commit: '{first}'}}\n"
        "  - id: where\n"
        "    run: git rev-parse HEAD\n"
    )
    result, log, _ = run_yaml(workspace, text, event=event)
    assert result.status == "success", [s.message for s in result.steps]
    assert f"already checked out {head}" in log("same")
    assert f"HEAD is now at {first}" in log("back")
    assert log("where") == f"{first}\n"


def test_serverless_cds_cache_runs_on_the_builtin_cache_with_inputs_translated(
    tmp_path: Path,
) -> None:
    workspace = tmp_path / "ws"
    (workspace / "node_modules").mkdir(parents=True)
    (workspace / "node_modules" / "dep.txt").write_text("cached")
    text = (
        "steps:\n"
        "  - id: cache\n"
        "    plugin: '@serverless-cd/cache'\n"
        "    inputs: {key: k1, path: [node_modules, ~/.npm]}\n"
        "  - run: echo hit=${{ steps.cache.outputs.cache-hit }}\n"
        "    id: show\n"
    )
    kw: dict[str, Any] = {"cache_dir": tmp_path / "c"}
    first, log1, _ = run_yaml(workspace, text, **kw)
    assert first.status == "success"
    assert "~/.npm is outside the workspace" in log1("cache")
    assert log1("show") == "hit=false\n"
    second, log2, _ = run_yaml(workspace, text, **kw)
    assert second.status == "success"
    assert log2("show") == "hit=true\n"


@needs_node
def test_a_real_serverless_cd_package_from_npm_runs_against_scds_context(tmp_path: Path) -> None:
    """@serverless-cd/core (from the npm registry) renders templates against
    context.$variables and finds the run and postRun steps in scd's context; its
    getInputs does not render scd's resolved inputs a second time."""
    cache_dir = tmp_path / "cache"
    event = EVENT.model_copy(update={"message": "fix {{ process.exit(3) }} <% process.exit(4) %>"})
    text = (
        "steps:\n"
        "  - id: sd\n"
        "    plugin: ./plugins/sdcore\n"
        "    inputs: {greeting: '${{ git.message }}'}\n"
        "  - id: spec\n"
        "    plugin: npm:@serverless-cd/core@0.0.26\n"
        "    continue-on-error: true\n"
    )
    for attempt in ("cold", "warm"):
        workspace = _workspace(tmp_path / attempt)
        result, log, _ = run_yaml(workspace, text, event=event, cache_dir=cache_dir)
        sd = log("sd")
        verb = "Installing" if attempt == "cold" else "Using"
        assert f"{verb} the dependencies of sdcore" in sd
        assert result.steps[0].outputs == {
            "greeting": "fix {{ process.exit(3) }} <% process.exit(4) %>",
            "rendered": "main while success",
            "runType": "run",
            "ref": "main",
        }
        assert result.steps[1].message == (
            "NodePluginError: plugin npm:@serverless-cd/core@0.0.26:"
            " npm:@serverless-cd/core@0.0.26 exports no run(inputs, context, logger)"
        )
        assert f"{verb} @serverless-cd/core@0.0.26" in log("spec")
        assert log("post-sd").endswith("core post: postRun of sd (main while success)\n")
    records = list(cache_dir.glob("npm/*/scd-install.json"))
    assert len(records) == 2  # one per content installed, shared by both runs
    assert any('"version": "0.0.26"' in r.read_text() for r in records)


@needs_node
def test_a_timed_out_plugin_step_kills_its_node_process(tmp_path: Path) -> None:
    workspace = _workspace(tmp_path)
    pidfile = tmp_path / "pid"
    text = (
        "steps:\n"
        "  - id: p\n"
        "    plugin: ./plugins/sleepy.js\n"
        f"    inputs: {{pidfile: '{pidfile}'}}\n"
        "    timeout-minutes: 0.05\n"
    )
    result, _, _ = run_yaml(workspace, text, cache_dir=tmp_path / "c", grace=30.0)
    assert result.steps[0].message is not None
    assert "timed out" in result.steps[0].message
    pid = int(pidfile.read_text())
    deadline = time.monotonic() + 30
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
