"""Plugins: the four ways to resolve one, the plugin API, failures, and the README example."""

from __future__ import annotations

import re
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from scd_core.logs import strip_timestamps
from scd_core.sinks.memory import MemoryLogSink
from scd_engine.plan import compile_plan
from scd_engine.plugins import BUILTINS, PluginError, PluginNotFound, resolve_plugin
from scd_engine.plugins import cache as cache_plugin
from scd_engine.runtime import Runner, RunnerOptions, RunResult
from scd_engine.spec import load_pipeline

README = Path(__file__).resolve().parents[2] / "README.md"


def run_yaml(workspace: Path, text: str, **kw: Any) -> tuple[RunResult, Callable[[str], str]]:
    path = workspace / "serverless-pipeline.yaml"
    path.write_text(textwrap.dedent(text))
    sink = MemoryLogSink()
    runner = Runner(RunnerOptions(workspace, sink=sink, run_id="r1", **kw))
    result = runner.run(compile_plan(load_pipeline(path)).task("default"))

    def log(step: str) -> str:
        return strip_timestamps(sink.read("r1", step).data).decode()

    return result, log


def test_a_builtin_name_resolves_to_the_builtin(tmp_path: Path) -> None:
    assert set(BUILTINS) >= {"cache", "notify-webhook"}
    assert resolve_plugin("cache", tmp_path) is cache_plugin.run


def test_a_local_file_plugin_gets_rendered_inputs_and_its_outputs_reach_later_steps(
    tmp_path: Path,
) -> None:
    (tmp_path / "ci" / "plugins").mkdir(parents=True)
    (tmp_path / "ci" / "plugins" / "greet.py").write_text(
        textwrap.dedent(
            """
            from dataclasses import dataclass

            @dataclass
            class Greeting:
                text: str

            def run(inputs, ctx):
                g = Greeting(f"hello {inputs['who']} x{inputs['times']}")
                ctx.log(g.text)
                return {"greeting": g.text, "ok": True, "n": inputs["times"], "none": None}
            """
        )
    )
    result, log = run_yaml(
        tmp_path,
        """
        steps:
          - id: greet
            uses: ./ci/plugins/greet.py
            with: {who: "${{ git.branch || 'world' }}", times: 3}
          - id: after
            run: echo "${{ steps.greet.outputs.greeting }}"
        """,
    )
    assert result.status == "success", log("greet")
    assert result.steps[0].outputs == {
        "greeting": "hello world x3",
        "ok": "true",
        "n": "3",
        "none": "",
    }
    assert log("greet") == "hello world x3\n"
    assert log("after") == "hello world x3\n"


def test_module_function_resolves_from_the_python_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lib = tmp_path / "lib"
    lib.mkdir()
    (lib / "scd_test_modplugin.py").write_text(
        "class Ns:\n    @staticmethod\n    def go(inputs, ctx):\n        return {'via': 'module'}\n"
    )
    monkeypatch.syspath_prepend(str(lib))
    result, _ = run_yaml(tmp_path, "steps:\n  - {id: m, uses: 'scd_test_modplugin:Ns.go'}\n")
    assert result.steps[0].outputs == {"via": "module"}


def test_an_installed_entry_point_in_group_scd_plugins_resolves_by_name(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    dist = site / "scd_test_ep_plugin-1.0.dist-info"
    dist.mkdir(parents=True)
    (dist / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: scd-test-ep-plugin\nVersion: 1.0\n"
    )
    (dist / "entry_points.txt").write_text("[scd.plugins]\nep-demo = scd_test_ep_mod:run\n")
    (site / "scd_test_ep_mod.py").write_text(
        "def run(inputs, ctx):\n    return {'via': 'entry point'}\n"
    )
    monkeypatch.syspath_prepend(str(site))
    result, _ = run_yaml(tmp_path, "steps:\n  - {id: e, uses: ep-demo}\n")
    assert result.steps[0].outputs == {"via": "entry point"}


def test_an_unknown_plugin_fails_the_step_naming_what_was_tried(tmp_path: Path) -> None:
    with pytest.raises(PluginNotFound, match="entry point"):
        resolve_plugin("no-such-plugin-anywhere", tmp_path)
    result, log = run_yaml(tmp_path, "steps:\n  - {id: x, uses: no-such-plugin-anywhere}\n")
    assert result.status == "failure"
    assert "no plugin 'no-such-plugin-anywhere'" in log("x")


def test_a_local_plugin_outside_the_workspace_is_refused(tmp_path: Path) -> None:
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (tmp_path / "evil.py").write_text("def run(inputs, ctx):\n    return {}\n")
    with pytest.raises(PluginError, match="inside the workspace"):
        resolve_plugin("../evil.py", workspace)


def test_a_plugin_exception_fails_the_step_with_its_message_and_no_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "boom.py").write_text("def run(inputs, ctx):\n    raise RuntimeError('it broke')\n")
    monkeypatch.delenv("SCD_DEBUG", raising=False)
    result, log = run_yaml(tmp_path, "steps:\n  - {id: b, uses: ./boom.py}\n")
    assert result.steps[0].status == "failure"
    assert "RuntimeError: it broke" in log("b")
    assert "Traceback" not in log("b")
    result, log = run_yaml(
        tmp_path, "steps:\n  - {id: b, uses: ./boom.py, env: {SCD_DEBUG: '1'}}\n"
    )
    assert "Traceback" in log("b")


def test_plugin_context_masks_logs_exports_env_and_sees_secrets(tmp_path: Path) -> None:
    (tmp_path / "p.py").write_text(
        textwrap.dedent(
            """
            def run(inputs, ctx):
                ctx.log("token " + ctx.secrets["TOKEN"])
                ctx.add_mask("generated-456")
                ctx.log("made generated-456")
                ctx.export_env("FROM_PLUGIN", "exported")
                return {"cwd": str(ctx.cwd), "env": ctx.env["STEP_VAR"], "run": ctx.run_id}
            """
        )
    )
    result, log = run_yaml(
        tmp_path,
        """
        steps:
          - {id: p, uses: ./p.py, env: {STEP_VAR: here}}
          - {id: after, run: echo "$FROM_PLUGIN"}
        """,
        secrets={"TOKEN": "plugin-secret-123"},
    )
    assert result.status == "success"
    assert "plugin-secret-123" not in log("p")
    assert "generated-456" not in log("p")
    assert result.steps[0].outputs == {"cwd": str(tmp_path.resolve()), "env": "here", "run": "r1"}
    assert log("after") == "exported\n"


@pytest.mark.timeout(60)
def test_a_plugin_past_its_timeout_is_told_to_stop_and_the_step_times_out(tmp_path: Path) -> None:
    (tmp_path / "slow.py").write_text(
        "def run(inputs, ctx):\n    ctx.cancelled.wait(60)\n    return {'stopped': True}\n"
    )
    result, log = run_yaml(
        tmp_path, "steps:\n  - {id: s, uses: ./slow.py, timeout-minutes: 0.005}\n", grace=5
    )
    assert result.steps[0].status == "failure"
    assert "timed out after 0.005 minutes" in log("s")


def test_the_readme_plugin_example_works_as_documented(tmp_path: Path) -> None:
    text = README.read_text(encoding="utf-8")
    section = text[text.index("## Plugins") :]
    python = re.search(r"`ci/plugins/version.py`:\n\n```python\n(.*?)```", section, re.S)
    pipeline = re.search(r"`serverless-pipeline.yaml`:\n\n```yaml\n(.*?)```", section, re.S)
    assert python is not None
    assert pipeline is not None
    (tmp_path / "ci" / "plugins").mkdir(parents=True)
    (tmp_path / "ci" / "plugins" / "version.py").write_text(python.group(1))
    (tmp_path / "VERSION").write_text("1.4.2\n")
    result, log = run_yaml(tmp_path, pipeline.group(1))
    assert result.status == "success", log("version")
    assert log("version") == "version 1.4.2, tag v1.4.2\n"
    assert log("1") == "building 1.4.2 as v1.4.2\n"
    (tmp_path / "VERSION").unlink()
    result, log = run_yaml(tmp_path, pipeline.group(1))
    assert result.status == "failure"
    assert "no version file VERSION" in log("version")
