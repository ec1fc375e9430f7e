"""The fc invoker against the loopback FC double: dispatch, dedup, stop, errors, retries."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fc_support import FakeFunction, fake_function
from scd_core.errors import BackendError, ConfigError
from scd_core.invoker import Invoker
from scd_core.invokers import open_invoker
from scd_core.invokers.fc import FcInvoker, default_endpoint, task_id
from scd_core.invokers.fcdouble import FcDouble
from scd_core.invokers.fcsign import Credentials
from scd_core.models import Job

KEY_ID = "LTAI-test-key-id"
SECRET = "test-secret-value-never-shown"
TOKEN = "sts-token-value-never-shown"


def make_job(n: int | str, ref: str = "refs/heads/main") -> Job:
    return Job(id=f"0193abc{n}", app="web", ref=ref, commit="a" * 40)


@pytest.fixture
def worker() -> Iterator[FakeFunction]:
    with fake_function() as function:
        yield function


@pytest.fixture
def double(worker: FakeFunction) -> Iterator[FcDouble]:
    with FcDouble({KEY_ID: SECRET}, tokens={KEY_ID: TOKEN}, worker_url=worker.url) as fc:
        yield fc


@pytest.fixture
def environ(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)


def invoker_for(double: FcDouble, **options: object) -> FcInvoker:
    url = f"fc://1234567890123456.cn-hangzhou/scd-worker?endpoint={double.url}"
    if not options:
        invoker = open_invoker(url)
        assert isinstance(invoker, FcInvoker)
        return invoker
    credentials = Credentials(KEY_ID, SECRET, TOKEN)
    settings: dict[str, object] = {"credentials": lambda: credentials, "endpoint": double.url}
    settings.update(options)
    return FcInvoker("1234567890123456", "cn-hangzhou", "scd-worker", **settings)  # type: ignore[arg-type]


@pytest.mark.usefixtures("environ")
def test_dispatch_delivers_the_job_to_the_worker_with_fc_headers(
    double: FcDouble, worker: FakeFunction
) -> None:
    invoker = invoker_for(double)
    assert isinstance(invoker, Invoker)
    job = make_job(1)
    invoker.dispatch(job)
    assert double.wait(task_id(job.id)) == "Succeeded"
    (call,) = worker.calls
    assert call.path == "/invoke"
    assert Job.model_validate_json(call.body).id == job.id
    assert call.headers["x-fc-control-path"] == "/invoke"
    assert call.headers["x-fc-async-task-id"] == task_id(job.id)
    assert call.headers["x-fc-function-name"] == "scd-worker"
    task = invoker.task(job.id)
    assert task is not None
    assert task.status == "Succeeded"
    assert task.task_id == task_id(job.id)
    invoker.close()


@pytest.mark.usefixtures("environ")
def test_a_second_dispatch_of_a_job_is_a_no_op(double: FcDouble, worker: FakeFunction) -> None:
    invoker = invoker_for(double)
    job = make_job(2)
    invoker.dispatch(job)
    double.wait(task_id(job.id))
    invoker.dispatch(job)  # FC answers 409: success for us
    invoker.dispatch(make_job(2))
    assert double.requests == 3
    assert len(worker.calls) == 1
    invoker.close()


@pytest.mark.usefixtures("environ")
def test_stop_stops_a_running_task_and_is_a_no_op_after(
    double: FcDouble, worker: FakeFunction
) -> None:
    invoker = invoker_for(double, stop_grace_s=0.0)
    worker.hold.clear()  # the step runs until stopped
    job = make_job(3)
    invoker.dispatch(job)
    assert worker.arrived.wait(30)
    assert double.wait(task_id(job.id), ("Running",)) == "Running"
    invoker.stop(job.id)
    assert double.wait(task_id(job.id)) == "Stopped"
    invoker.stop(job.id)  # finished: FC refuses, the Protocol says no-op
    invoker.stop("never-dispatched")  # unknown: no-op
    task = invoker.task(job.id)
    assert task is not None
    assert task.status == "Stopped"
    assert double.destinations == []  # a stop is not a failure
    assert invoker.task("never-dispatched") is None
    invoker.close()


def test_a_running_task_gets_the_grace_to_end_before_the_hard_stop(
    double: FcDouble, worker: FakeFunction
) -> None:
    invoker = invoker_for(double, stop_grace_s=1.0)
    worker.hold.clear()  # a worker that does not honour the cancel
    job = make_job(4)
    invoker.dispatch(job)
    assert double.wait(task_id(job.id), ("Running",)) == "Running"
    invoker.stop(job.id)
    task = invoker.task(job.id)
    assert task is not None
    assert task.status == "Running"  # not cut at once
    assert double.wait(task_id(job.id), timeout_s=60) == "Stopped"  # cut after the grace
    invoker.close()


def test_a_task_that_ends_within_the_grace_is_not_stopped(
    double: FcDouble, worker: FakeFunction
) -> None:
    invoker = invoker_for(double, stop_grace_s=1.0)
    worker.hold.clear()
    job = make_job(5)
    invoker.dispatch(job)
    assert double.wait(task_id(job.id), ("Running",)) == "Running"
    invoker.stop(job.id)
    worker.hold.set()  # the worker ends the cancelled run itself
    assert double.wait(task_id(job.id)) == "Succeeded"
    time.sleep(1.5)  # past the grace: the timer found it final and left it
    task = invoker.task(job.id)
    assert task is not None
    assert task.status == "Succeeded"
    invoker.close()


def test_bad_credentials_raise_backend_error_without_the_secret(
    double: FcDouble, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = "a-wrong-secret-never-shown"
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", wrong)
    monkeypatch.setenv("ALIBABA_CLOUD_SECURITY_TOKEN", TOKEN)
    invoker = invoker_for(double)
    with pytest.raises(BackendError) as caught:
        invoker.dispatch(make_job(4))
    text = str(caught.value)
    assert "HTTP 403 SignatureNotMatch" in text
    assert wrong not in text
    assert TOKEN not in text
    assert wrong not in repr(caught.value.__cause__)
    assert double.requests == 1  # a 403 is not retried
    monkeypatch.setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI-unknown")
    with pytest.raises(BackendError, match="InvalidAccessKeyId"):
        invoker.stop("x")
    monkeypatch.delenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
    with pytest.raises(BackendError, match="ACCESS_KEY_SECRET is not set"):
        invoker.dispatch(make_job(4))
    invoker.close()


@pytest.mark.usefixtures("environ")
def test_throttling_and_server_errors_are_retried_then_succeed(double: FcDouble) -> None:
    waits: list[float] = []
    invoker = invoker_for(double, attempts=4, backoff_s=0.1, sleep=waits.append)
    double.fail_next(429, 500, 503)
    job = make_job(5)
    invoker.dispatch(job)
    assert double.requests == 4
    assert double.wait(task_id(job.id)) == "Succeeded"
    assert len(waits) == 3
    assert waits[0] <= 0.1
    assert waits[2] > waits[0]  # doubling backoff (jitter keeps each within [d/2, d])
    invoker.close()


@pytest.mark.usefixtures("environ")
def test_retries_give_up_after_the_attempts_with_the_last_error(double: FcDouble) -> None:
    invoker = invoker_for(double, attempts=2, backoff_s=0.0, sleep=lambda s: None)
    double.fail_next(500, 500)
    with pytest.raises(BackendError, match=r"after 2 attempt\(s\) failed: HTTP 500"):
        invoker.dispatch(make_job(6))
    invoker.close()


def test_an_unreachable_endpoint_is_a_backend_error(environ: None) -> None:
    invoker = FcInvoker(
        "1", "cn-hangzhou", "scd-worker",
        endpoint="http://127.0.0.1:9", attempts=2, backoff_s=0.0, timeout_s=5,
    )  # fmt: skip
    with pytest.raises(BackendError, match="ConnectionRefusedError") as caught:
        invoker.dispatch(make_job(7))
    assert isinstance(caught.value.__cause__, ConnectionRefusedError)


@pytest.mark.usefixtures("environ")
def test_a_job_over_the_async_payload_limit_is_refused_before_sending(double: FcDouble) -> None:
    invoker = invoker_for(double)
    # a job carries ids, never a payload: only a ref this long could pass the limit
    big = make_job(8, ref="refs/heads/" + "x" * (130 * 1024))
    with pytest.raises(BackendError, match="over FC's async payload limit"):
        invoker.dispatch(big)
    assert double.requests == 0
    invoker.close()
    with pytest.raises(BackendError, match="closed"):
        invoker.dispatch(make_job(9))


def test_task_ids_follow_fc_rules_and_are_stable() -> None:
    assert task_id("run-1") == "scd_run-1"
    assert task_id("0193abc") == "scd_0193abc"
    odd = task_id("run:1/task.a")
    assert odd.startswith("scdh_")
    assert odd == task_id("run:1/task.a")
    assert len(task_id("x" * 200)) <= 128


def test_the_endpoint_is_internal_inside_the_region() -> None:
    assert default_endpoint("123", "cn-hangzhou", {}) == "https://123.cn-hangzhou.fc.aliyuncs.com"
    inside = default_endpoint("123", "cn-hangzhou", {"FC_REGION": "cn-hangzhou"})
    assert inside == "https://123.cn-hangzhou-internal.fc.aliyuncs.com"
    other = default_endpoint("123", "cn-hangzhou", {"FC_REGION": "ap-southeast-1"})
    assert other == "https://123.cn-hangzhou.fc.aliyuncs.com"


@pytest.mark.parametrize(
    "url",
    [
        "fc://cn-hangzhou/scd-worker",
        "fc://123.cn-hangzhou/",
        "fc://123.cn-hangzhou/9bad",
        "fc://123.cn-hangzhou/w?bogus=1",
        "fc://123.cn-hangzhou/w?attempts=x",
        "fc://123.cn-hangzhou/w?endpoint=ftp://x",
    ],
)
def test_bad_fc_urls_are_config_errors(url: str) -> None:
    with pytest.raises(ConfigError):
        open_invoker(url)


def test_an_fc_url_names_account_region_function_and_qualifier() -> None:
    invoker = open_invoker("fc://1234.ap-southeast-1/scd-worker?qualifier=prod")
    assert isinstance(invoker, FcInvoker)
    assert invoker.endpoint == "https://1234.ap-southeast-1.fc.aliyuncs.com"
    assert invoker.qualifier == "prod"
    assert "secret" not in repr(invoker).lower()
    assert json.dumps(repr(Credentials(KEY_ID, SECRET, TOKEN))).count(SECRET) == 0


def test_the_trigger_with_the_fc_invoker_imports_no_sdk_or_http_library() -> None:
    import subprocess
    import sys

    code = (
        "import sys\n"
        "import functions.trigger.app\n"
        "from scd_core.invokers import open_invoker\n"
        "open_invoker('fc://1.cn-hangzhou/scd-worker').close()\n"
        "heavy = ('alibabacloud', 'Tea', 'darabonba', 'httpx', 'requests', 'aiohttp')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in heavy))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
