"""s.yaml: each resource's props validate against fc3's schema, and mean what scd needs."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
import yaml
from scd_trigger_spec.cron import parse_cron
from sdevs_support import ROOT, TemplateError, render, uncomment

from functions.fc.runtime import FUNCTIONS, PYTHON_VERSION, RUNTIME

SCHEMA = ROOT.parent / "shared" / "corpus" / "fc3" / "schema.json"
TEXT = (ROOT / "s.yaml").read_text(encoding="utf-8")
ENV = {
    "SCD_FC_ACCOUNT_ID": "1234567890123456",
    "SCD_STORE": "tablestore://scd?endpoint=https://scd.cn-hangzhou.ots.aliyuncs.com",
    "SCD_LOG_SINK": "oss://scd-logs/runs?region=cn-hangzhou",
    "SCD_DEMO_SECRET": "from-the-deploying-shell",
    "SCD_NAS_SERVER": "0123abcd-xyz1.cn-hangzhou.nas.aliyuncs.com",
    "SCD_VPC_ID": "vpc-bp1",
    "SCD_SECURITY_GROUP_ID": "sg-bp1",
    "SCD_VSWITCH_ID": "vsw-bp1",
}
SECRET_NAME = re.compile(r"SECRET|TOKEN|PASSWORD|PASSWD|KEY|CREDENTIAL", re.IGNORECASE)
ENV_REF = re.compile(r"\$\{env\('([A-Z0-9_]+)'(?:,\s*'')?\)\}")


def resources(text: str = TEXT) -> dict[str, dict[str, Any]]:
    rendered = render(text, ENV)
    return {key: value["props"] for key, value in rendered["resources"].items()}


@pytest.fixture(scope="module")
def validator() -> Any:
    if not SCHEMA.is_file():
        pytest.skip(f"the fc3 schema corpus is absent ({SCHEMA})")
    from jsonschema import Draft7Validator

    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    Draft7Validator.check_schema(schema)
    return Draft7Validator(schema)


@pytest.mark.parametrize(
    "optional", [(), ("nas",), ("vpc",), ("nas", "vpc")], ids=["plain", "nas", "vpc", "nas+vpc"]
)
def test_every_resource_props_validate_against_the_fc3_schema(
    validator: Any, optional: tuple[str, ...]
) -> None:
    text = TEXT
    for tag in optional:
        text = uncomment(text, tag)
    props = resources(text)
    assert set(props) == {"trigger", "worker", "failure-handler"}
    for key, value in props.items():
        errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(value)]
        assert errors == [], f"{key}: {errors}"
        for tag in optional:
            assert f"{tag}Config" in value, f"{key}: uncommenting [{tag}] adds {tag}Config"


def test_an_unset_variable_without_default_fails_rendering() -> None:
    env = {k: v for k, v in ENV.items() if k != "SCD_FC_ACCOUNT_ID"}
    with pytest.raises(TemplateError, match="SCD_FC_ACCOUNT_ID"):
        render(TEXT, env)


def test_the_trigger_is_a_concurrent_anonymous_http_function() -> None:
    trigger = resources()["trigger"]
    http = [t for t in trigger["triggers"] if t["triggerType"] == "http"]
    assert len(http) == 1
    config = http[0]["triggerConfig"]
    assert config["authType"] == "anonymous"  # scd checks signatures and tokens itself
    assert {"GET", "POST", "PUT", "DELETE"} <= set(config["methods"])
    assert trigger["instanceConcurrency"] >= 50
    assert trigger["timeout"] <= 600


def test_the_worker_is_a_24h_async_task_function_whose_failures_reach_the_handler() -> None:
    props = resources()
    worker, handler = props["worker"], props["failure-handler"]
    assert worker["timeout"] == 86400
    assert worker["instanceConcurrency"] == 1
    assert "triggers" not in worker  # invoked only through the API, asynchronously
    config = worker["asyncInvokeConfig"]
    assert config["asyncTask"] is True
    assert config["maxAsyncRetryAttempts"] == 0
    assert 60 <= config["maxAsyncEventAgeInSeconds"] <= 604800  # the API's range
    destination = config["destinationConfig"]["onFailure"]["destination"]
    assert destination == (
        f"acs:fc:{handler['region']}:{ENV['SCD_FC_ACCOUNT_ID']}:functions/{handler['functionName']}"
    )
    assert "onSuccess" not in config["destinationConfig"]
    hooks = worker["instanceLifecycleConfig"]
    assert {"initializer", "preStop"} <= set(hooks)


def test_the_failure_handler_is_an_event_function() -> None:
    handler = resources()["failure-handler"]
    # FC destinations must be event functions: no HTTP trigger makes it a web function
    assert all(t["triggerType"] != "http" for t in handler.get("triggers", []))
    assert "asyncInvokeConfig" not in handler


def test_functions_run_the_packaged_code_on_the_runtime_it_was_built_for() -> None:
    props = resources()
    packaged = {f.name for f in FUNCTIONS}
    for key, value in props.items():
        assert value["runtime"] == RUNTIME
        assert value["code"] == f"./dist/fc/{key}"
        assert value["customRuntimeConfig"]["command"] == ["/code/bootstrap"]
        assert value["customRuntimeConfig"]["port"] == 9000
        path = value["environmentVariables"]["PATH"]
        assert path.startswith(f"/var/fc/lang/python{PYTHON_VERSION}/bin:")
        assert value["role"] == f"acs:ram::{ENV['SCD_FC_ACCOUNT_ID']}:role/scd-fc-role"
        assert value["logConfig"]["project"]
        assert value["logConfig"]["logstore"]
    assert packaged <= set(props)


def test_every_function_sees_the_same_store_and_log_sink() -> None:
    props = resources()
    for value in props.values():
        env = value["environmentVariables"]
        assert env["SCD_STORE"] == ENV["SCD_STORE"]
        assert env["SCD_LOG_SINK"] == ENV["SCD_LOG_SINK"]
    invoker = props["trigger"]["environmentVariables"]["SCD_INVOKER"]
    assert invoker == f"fc://{ENV['SCD_FC_ACCOUNT_ID']}.cn-hangzhou/scd-worker"


def test_the_minute_tick_posts_its_payload_to_the_trigger_every_minute() -> None:
    props = resources()
    timers = [t for t in props["trigger"]["triggers"] if t["triggerType"] == "timer"]
    assert [t["triggerName"] for t in timers] == ["scd-tick"]
    config = timers[0]["triggerConfig"]
    assert config["enable"] is True
    assert json.loads(config["payload"]) == {"scd": "tick"}
    schedule = parse_cron(config["cronExpression"])
    from datetime import datetime, timezone

    start = datetime(2026, 12, 6, 3, 59, 30, tzinfo=timezone.utc)
    first = schedule.next_after(start)
    assert first == datetime(2026, 12, 6, 4, 0, tzinfo=timezone.utc)
    assert (schedule.next_after(first) - first).total_seconds() == 60
    for key in ("worker", "failure-handler"):
        assert not any(t["triggerType"] == "timer" for t in props[key].get("triggers", []))


def test_no_secret_is_written_in_s_yaml() -> None:
    raw = yaml.safe_load(TEXT)
    for key, resource in raw["resources"].items():
        for name, value in resource["props"]["environmentVariables"].items():
            if SECRET_NAME.search(name):
                assert ENV_REF.fullmatch(str(value)), f"{key}: {name} must be ${{env('...')}}"
    # nothing that looks like a key or a token anywhere, comments included
    assert not re.search(r"\b[A-Za-z0-9+/]{32,}\b", TEXT)
    assert not re.search(r"LTAI[A-Za-z0-9]{8,}", TEXT)


def test_the_ram_policies_are_well_formed_and_name_the_deployed_functions() -> None:
    deploy = Path(ROOT / "deploy")
    policy = json.loads((deploy / "ram-policy.json").read_text(encoding="utf-8"))
    assert policy["Version"] == "1"
    actions = {a for s in policy["Statement"] for a in s["Action"]}
    assert {"fc:InvokeFunction", "fc:StopAsyncTask", "fc:GetAsyncTask"} <= actions
    assert not any(a.endswith(":*") or a == "*" for a in actions)
    resources_named = " ".join(r for s in policy["Statement"] for r in s["Resource"])
    names = render(TEXT, ENV)["vars"]
    for var in ("workerFunction", "failureHandlerFunction"):
        assert f"functions/{names[var]}" in resources_named
    trust = json.loads((deploy / "ram-trust-policy.json").read_text(encoding="utf-8"))
    assert trust["Statement"][0]["Principal"]["Service"] == ["fc.aliyuncs.com"]
    vpc = json.loads((deploy / "ram-policy-vpc.json").read_text(encoding="utf-8"))
    assert "ecs:CreateNetworkInterface" in vpc["Statement"][0]["Action"]


def _serverless_devs() -> str:
    """Serverless Devs' ``s`` (``SCD_SDEVS`` or on PATH), checked to be that tool."""
    import os
    import shutil
    import subprocess

    found = os.environ.get("SCD_SDEVS") or shutil.which("s")
    if not found:
        pytest.skip("Serverless Devs' s is not installed (npm install -g @serverless-devs/s)")
    version = subprocess.run([found, "--version"], capture_output=True, text=True, timeout=120)
    if "@serverless-devs/s" not in version.stdout + version.stderr:
        pytest.skip(f"{found} is not Serverless Devs' s")
    return found


@pytest.mark.slow
@pytest.mark.parametrize("optional", [(), ("nas", "vpc")], ids=["plain", "nas+vpc"])
def test_s_preview_renders_s_yaml_as_the_tests_do(
    tmp_path: Path, optional: tuple[str, ...]
) -> None:
    import os
    import subprocess

    s = _serverless_devs()
    text = TEXT
    for tag in optional:
        text = uncomment(text, tag)
    path = tmp_path / "s.yaml"
    path.write_text(text, encoding="utf-8")
    env = {**os.environ, **ENV, "HOME": str(tmp_path)}
    command = [s, "preview", "-t", str(path), "-o", "json"]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stdout[-2000:]
    printed = done.stdout[done.stdout.index("{") :]  # after s's warnings
    assert json.loads(printed) == render(text, ENV)
    missing = {k: v for k, v in env.items() if k != "SCD_STORE"}
    refused = subprocess.run(command, env=missing, capture_output=True, text=True, timeout=300)
    assert refused.returncode != 0  # an unset ${env('SCD_STORE')} fails, as render() does
