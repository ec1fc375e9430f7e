"""ACS3-HMAC-SHA256: our signer agrees with the vendor SDK's, and the double verifies both."""

from __future__ import annotations

import hashlib
import http.client
import io
import json
from collections.abc import Iterator
from datetime import datetime, timezone
from types import SimpleNamespace
from typing import Any

import pytest
from scd_core.invokers.fcdouble import FcDouble
from scd_core.invokers.fcsign import Credentials, authorization, signed_headers

sdk_utils = pytest.importorskip("alibabacloud_tea_openapi.utils")
fc_models = pytest.importorskip("alibabacloud_fc20230330.models")

KEY_ID, SECRET = "LTAI5tFixedKeyId", "fixed-secret-for-signing"  # a test credential
PATH = "/2023-03-30/functions/scd-worker/invocations"
BODY = b'{"id":"0193abc","app":"web"}'


def sdk_authorization(
    method: str, path: str, query: dict[str, str], headers: dict[str, str]
) -> str:
    request = SimpleNamespace(method=method, pathname=path, query=query, headers=headers)
    payload = headers["x-acs-content-sha256"]
    return str(
        sdk_utils.Utils.get_authorization(request, "ACS3-HMAC-SHA256", payload, KEY_ID, SECRET)
    )


FIXED_HEADERS = {
    "host": "1234567890123456.cn-hangzhou.fc.aliyuncs.com",
    "x-acs-version": "2023-03-30",
    "x-acs-action": "InvokeFunction",
    "x-acs-date": "2026-12-06T04:00:00Z",
    "x-acs-signature-nonce": "6d2c1b0a9f8e7d6c5b4a",
    "x-acs-content-sha256": hashlib.sha256(BODY).hexdigest(),
    "accept": "application/json",
    "content-type": "application/octet-stream",
    "x-fc-invocation-type": "Async",
    "x-fc-async-task-id": "scd_0193abc",
    "User-Agent": "  AlibabaCloud (Linux) Python/3.12  ",  # mixed case, padded: normalised
}


@pytest.mark.parametrize(
    ("method", "path", "query"),
    [
        ("POST", PATH, {"qualifier": "LATEST"}),
        ("PUT", "/2023-03-30/functions/scd-worker/async-tasks/scd_0193abc/stop", {}),
        (
            "GET",
            "/2023-03-30/functions/scd-worker/async-tasks",
            {"prefix": "scd_~ a/b", "limit": "5"},
        ),
        ("GET", "/2023-03-30/functions/f%C3%A9/async-tasks", {"qualifier": "ä ö"}),
    ],
)
def test_our_signature_equals_the_sdk_signature_on_fixed_inputs(
    method: str, path: str, query: dict[str, str]
) -> None:
    ours = authorization(
        method, path, query, FIXED_HEADERS, FIXED_HEADERS["x-acs-content-sha256"], KEY_ID, SECRET
    )
    assert ours == sdk_authorization(method, path, query, FIXED_HEADERS)
    assert ours.startswith(
        f"ACS3-HMAC-SHA256 Credential={KEY_ID},SignedHeaders=accept;content-type;"
    )


def test_signed_headers_with_an_sts_token_sign_as_the_sdk_does() -> None:
    creds = Credentials(KEY_ID, SECRET, "sts-token")
    now = datetime(2026, 12, 6, 4, 0, tzinfo=timezone.utc)
    headers = signed_headers(
        "POST", "127.0.0.1:9000", PATH, {"qualifier": "LATEST"}, BODY,
        action="InvokeFunction", credentials=creds, now=now, nonce="n1",
        headers={"x-fc-invocation-type": "Async"},
    )  # fmt: skip
    assert headers["x-acs-security-token"] == "sts-token"
    assert headers["x-acs-date"] == "2026-12-06T04:00:00Z"
    unsigned = {k: v for k, v in headers.items() if k != "authorization"}
    assert headers["authorization"] == sdk_authorization(
        "POST", PATH, {"qualifier": "LATEST"}, unsigned
    )
    changed = signed_headers(
        "POST", "127.0.0.1:9000", PATH, {"qualifier": "LATEST"}, BODY + b" ",
        action="InvokeFunction", credentials=creds, now=now, nonce="n1",
        headers={"x-fc-invocation-type": "Async"},
    )  # fmt: skip
    assert changed["authorization"] != headers["authorization"]


@pytest.fixture
def double() -> Iterator[FcDouble]:
    with FcDouble({KEY_ID: SECRET}) as fc:
        yield fc


def sdk_client(double: FcDouble, secret: str) -> Any:
    from alibabacloud_fc20230330.client import Client
    from alibabacloud_tea_openapi.models import Config

    host = double.url.split("//", 1)[1]
    config = Config(
        access_key_id=KEY_ID,
        access_key_secret=secret,
        endpoint=host,
        protocol="http",
        region_id="cn-hangzhou",
    )
    return Client(config)


def runtime_options() -> Any:
    try:
        from darabonba.runtime import RuntimeOptions
    except ImportError:  # older SDKs
        from alibabacloud_tea_util.models import RuntimeOptions
    return RuntimeOptions()


def test_the_double_accepts_what_the_vendor_sdk_signs(double: FcDouble) -> None:
    client = sdk_client(double, SECRET)
    request = fc_models.InvokeFunctionRequest(qualifier="LATEST", body=io.BytesIO(BODY))
    headers = fc_models.InvokeFunctionHeaders(
        x_fc_invocation_type="Async", x_fc_async_task_id="scd_sdk"
    )
    answer = client.invoke_function_with_options("scd-worker", request, headers, runtime_options())
    assert answer.status_code == 202
    assert answer.headers["x-fc-async-task-id"] == "scd_sdk"
    task = double.task("scd_sdk")
    assert task is not None
    assert task["taskPayload"] == BODY.decode()
    got = client.get_async_task_with_options(
        "scd-worker", "scd_sdk", fc_models.GetAsyncTaskRequest(qualifier="LATEST"), {},
        runtime_options(),
    )  # fmt: skip
    assert got.body.task_id == "scd_sdk"


def test_the_double_refuses_a_bad_signature_with_fc_s_error(double: FcDouble) -> None:
    client = sdk_client(double, "not-the-secret")
    request = fc_models.InvokeFunctionRequest(qualifier="LATEST", body=io.BytesIO(BODY))
    headers = fc_models.InvokeFunctionHeaders(x_fc_invocation_type="Async")
    with pytest.raises(Exception, match="SignatureNotMatch") as caught:
        client.invoke_function_with_options("scd-worker", request, headers, runtime_options())
    assert getattr(caught.value, "code", None) == "SignatureNotMatch"
    assert double.task("scd_sdk") is None


def _send(double: FcDouble, headers: dict[str, str], body: bytes) -> tuple[int, dict[str, Any]]:
    conn = http.client.HTTPConnection(
        double.url.split("//")[1].split(":")[0], int(double.url.rsplit(":", 1)[1])
    )
    try:
        conn.request("POST", f"{PATH}?qualifier=LATEST", body=body, headers=headers)
        response = conn.getresponse()
        return response.status, json.loads(response.read() or b"{}")
    finally:
        conn.close()


def test_the_double_refuses_a_tampered_body_or_a_stale_date(double: FcDouble) -> None:
    host = double.url.split("//", 1)[1]
    creds = Credentials(KEY_ID, SECRET)
    extra = {"x-fc-invocation-type": "Async", "content-type": "application/octet-stream"}
    good = signed_headers(
        "POST", host, PATH, {"qualifier": "LATEST"}, BODY,
        action="InvokeFunction", credentials=creds, headers=extra,
    )  # fmt: skip
    status, answer = _send(double, good, BODY + b"tampered")
    assert (status, answer["Code"]) == (403, "SignatureNotMatch")
    assert set(answer) == {"Code", "Message", "RequestId"}
    stale = signed_headers(
        "POST", host, PATH, {"qualifier": "LATEST"}, BODY,
        action="InvokeFunction", credentials=creds, headers=extra,
        now=datetime(2020, 1, 1, tzinfo=timezone.utc),
    )  # fmt: skip
    assert _send(double, stale, BODY)[1]["Code"] == "RequestTimeTooSkewed"
    reordered = dict(good, **{"x-fc-async-task-id": "scd_added_after_signing"})
    assert _send(double, reordered, BODY)[0] == 202  # unsigned headers do not count...
    moved = dict(good, **{"x-acs-action": "StopAsyncTask"})
    assert _send(double, moved, BODY)[1]["Code"] == "SignatureNotMatch"  # ...signed ones do
    assert _send(double, good, BODY)[0] == 202


def test_the_double_refuses_a_key_without_its_sts_token() -> None:
    with FcDouble({KEY_ID: SECRET}, tokens={KEY_ID: "the-token"}) as double:
        host = double.url.split("//", 1)[1]
        for creds, expected in (
            (Credentials(KEY_ID, SECRET), (403, "InvalidSecurityToken")),
            (Credentials(KEY_ID, SECRET, "another-token"), (403, "InvalidSecurityToken")),
            (Credentials(KEY_ID, SECRET, "the-token"), (202, None)),
        ):
            headers = signed_headers(
                "POST", host, PATH, {"qualifier": "LATEST"}, BODY,
                action="InvokeFunction", credentials=creds,
                headers={"x-fc-invocation-type": "Async"},
            )  # fmt: skip
            status, answer = _send(double, headers, BODY)
            assert (status, answer.get("Code")) == expected
