"""Region routing: an app's own worker, scd.yaml's rules, the job's region and its endpoint.

The last tests send real jobs through the fc invoker to two FC doubles, one per
region, and look at which one received the task.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from factories import make_app, make_run, scd_yaml
from scd_core.errors import ConfigError
from scd_core.invokers import open_invoker
from scd_core.invokers.fc import FcInvoker, task_id
from scd_core.invokers.fcdouble import FcDouble
from scd_core.invokers.memory import MemoryInvoker
from scd_core.stores import open_store
from scd_trigger_spec import Accepted
from scd_trigger_spec.routing import WorkerRule, WorkerTarget, repo_path, route

from functions.appconfig import parse_config
from functions.trigger.launcher import Launcher, job_for

KEY_ID, SECRET = "LTAI-routing-key", "routing-secret-never-shown"
ACCOUNT = "1234567890123456"
SG = "ap-southeast-1"
RULES = (
    WorkerRule(repo="github.com/**", region=SG),
    WorkerRule(provider="gitee", region="cn-shanghai", function="scd-worker-gitee"),
)


def test_an_app_naming_its_worker_gets_it_whatever_the_rules_say() -> None:
    app = make_app(worker={"region": "cn-beijing", "function": "scd-big"})
    assert route(app, RULES) == WorkerTarget(region="cn-beijing", function="scd-big")


def test_rules_choose_by_repository_pattern_then_by_provider() -> None:
    assert route(make_app(repo="https://github.com/acme/web.git"), RULES) == WorkerTarget(region=SG)
    gitee = make_app(repo="https://gitee.com/acme/web.git")
    assert route(gitee, RULES) == WorkerTarget(region="cn-shanghai", function="scd-worker-gitee")
    assert route(make_app(repo="git@github.com:acme/web.git"), RULES) == WorkerTarget(region=SG)


def test_an_app_no_rule_matches_stays_in_the_trigger_s_region() -> None:
    app = make_app(repo="https://codeup.aliyun.com/acme/web.git")
    assert route(app, RULES) is None
    assert route(make_app(), ()) is None


def test_a_rule_must_match_every_condition_it_states() -> None:
    both = WorkerRule(provider="gitlab", repo="github.com/**", region=SG)
    assert not both.matches(make_app(repo="https://github.com/acme/web.git"))


def test_repository_paths_drop_scheme_user_and_dot_git() -> None:
    assert repo_path("https://x:y@github.com/acme/web.git") == "github.com/acme/web"
    assert repo_path("ssh://git@gitee.com/acme/web") == "gitee.com/acme/web"
    assert repo_path("git@codeup.aliyun.com:acme/web.git") == "codeup.aliyun.com/acme/web"


@pytest.mark.parametrize(
    ("rule", "says"),
    [
        ({"region": SG}, "needs 'provider' or 'repo'"),
        ({"repo": "github.com/**", "region": "Singapore"}, "FC region id"),
        ({"repo": "github.com/**", "region": SG, "function": "9bad"}, "FC function name"),
    ],
)
def test_bad_rules_are_refused_with_where_and_why(rule: dict[str, str], says: str) -> None:
    text = scd_yaml() + "workers:\n  - " + "\n    ".join(f"{k}: '{v}'" for k, v in rule.items())
    with pytest.raises(ConfigError, match=says) as caught:
        parse_config(text, "scd.yaml", {"WEB_WEBHOOK_SECRET": "x"})
    assert "scd.yaml:" in str(caught.value)
    assert "workers[0]" in str(caught.value)


def test_scd_yaml_rules_load_in_order() -> None:
    text = scd_yaml() + (
        "workers:\n"
        "  - {repo: 'github.com/**', region: ap-southeast-1}\n"
        "  - {provider: gitee, region: cn-shanghai, function: scd-worker-gitee}\n"
    )
    config = parse_config(text, "scd.yaml", {"WEB_WEBHOOK_SECRET": "x"})
    assert config.workers == RULES


def test_the_job_carries_the_chosen_region_and_function(tmp_path: Path) -> None:
    github = make_app(repo="https://github.com/acme/web.git")
    assert job_for(github, make_run(), RULES).region == SG
    assert job_for(github, make_run()).region is None
    store = open_store(f"sqlite:///{tmp_path / 'scd.db'}")
    invoker = MemoryInvoker()
    launcher = Launcher(store, invoker, workers=RULES)
    gitee = make_app(repo="https://gitee.com/acme/web.git")
    launched = launcher.launch(gitee, Accepted(make_run().event, "github:delivery-1"))
    [job] = invoker.jobs
    assert job.id == launched.run.id
    assert (job.region, job.function) == ("cn-shanghai", "scd-worker-gitee")
    store.close()


@pytest.fixture
def doubles(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[FcDouble, FcDouble]]:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.delenv("ALIBABA_CLOUD_SECURITY_TOKEN", raising=False)
    home = FcDouble({KEY_ID: SECRET}, region="cn-hangzhou", account_id=ACCOUNT)
    away = FcDouble({KEY_ID: SECRET}, region=SG, account_id=ACCOUNT, function="scd-worker-sg")
    with home, away:
        yield home, away


def fc_url(home: FcDouble, away: FcDouble) -> str:
    return (
        f"fc://{ACCOUNT}.cn-hangzhou/scd-worker?endpoint={home.url}&endpoint.{SG}={away.url}"
        "&attempts=1"
    )


def test_each_job_reaches_its_region_s_endpoint_and_function(
    doubles: tuple[FcDouble, FcDouble],
) -> None:
    home, away = doubles
    invoker = open_invoker(fc_url(home, away))
    assert isinstance(invoker, FcInvoker)
    app = make_app(repo="https://github.com/acme/web.git", worker={"region": SG})
    routed = job_for(app, make_run(1), [WorkerRule(repo="x/**", region=SG, function="no")])
    routed = routed.model_copy(update={"function": "scd-worker-sg"})
    local = job_for(make_app(), make_run(2))
    try:
        invoker.dispatch(routed)
        invoker.dispatch(local)
        assert away.task(task_id(routed.id)) is not None
        assert home.task(task_id(routed.id)) is None
        assert home.task(task_id(local.id)) is not None
        assert away.task(task_id(local.id)) is None
        assert invoker.endpoint_of(SG) == away.url
        assert invoker.endpoint_of("cn-beijing") == f"https://{ACCOUNT}.cn-beijing.fc.aliyuncs.com"
        invoker.stop(routed.id)  # found where it was sent: 404 nowhere else matters
        assert away.wait(task_id(routed.id)) in ("Stopped", "Failed")
    finally:
        invoker.close()


def test_a_bad_region_endpoint_fails_at_start_up() -> None:
    with pytest.raises(ConfigError, match="endpoint"):
        open_invoker(f"fc://{ACCOUNT}.cn-hangzhou/scd-worker?endpoint.{SG}=ftp://x")
    with pytest.raises(ConfigError, match="unknown or repeated option"):
        open_invoker(f"fc://{ACCOUNT}.cn-hangzhou/scd-worker?endpoint.Nowhere=http://x")
