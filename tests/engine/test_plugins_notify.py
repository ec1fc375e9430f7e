"""Built-in notification plugins, run as pipeline steps against loopback doubles that
check each service's signature: dingtalk (and serverless-cd's ding-talk), wecom,
feishu, email over SMTP with STARTTLS."""

from __future__ import annotations

import base64
import hashlib
import hmac
import shutil
import ssl
import subprocess
import textwrap
import urllib.parse
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from http_double import Recorded, recorder
from netutil import free_port
from scd_core.logs import strip_timestamps
from scd_core.sinks.memory import MemoryLogSink
from scd_engine.plan import compile_plan
from scd_engine.runtime import Runner, RunnerOptions, RunResult
from scd_engine.spec import load_pipeline

SECRET = "SECabc123-robot-secret"


def run_yaml(workspace: Path, text: str, **kw: Any) -> tuple[RunResult, Callable[[str], str]]:
    path = workspace / "serverless-pipeline.yaml"
    path.write_text(textwrap.dedent(text))
    sink = MemoryLogSink()
    task = compile_plan(load_pipeline(path)).task("default")
    result = Runner(RunnerOptions(workspace, sink=sink, run_id="r1", **kw)).run(task)

    def log(step: str) -> str:
        return strip_timestamps(sink.read("r1", step).data).decode()

    return result, log


def _dingtalk_signed(request: Recorded) -> bool:
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(request.path).query)
    stamp = query["timestamp"][0]
    digest = hmac.new(SECRET.encode(), f"{stamp}\n{SECRET}".encode(), hashlib.sha256).digest()
    return query["sign"][0] == base64.b64encode(digest).decode()


def test_dingtalk_signs_the_url_and_sends_markdown(tmp_path: Path) -> None:
    with recorder((200, {"errcode": 0, "errmsg": "ok"})) as robot:
        text = f"""
        steps:
          - {{id: build, run: "true"}}
          - id: tell
            uses: dingtalk
            with:
              webhook: "{robot.url}/robot/send?access_token=${{{{ secrets.DING }}}}"
              secret: "${{{{ secrets.DING_SECRET }}}}"
        """
        result, log = run_yaml(tmp_path, text, secrets={"DING": "tok9", "DING_SECRET": SECRET})
    assert result.steps[1].status == "success"
    (request,) = robot.requests
    assert request.path.startswith("/robot/send?access_token=tok9&timestamp=")
    assert _dingtalk_signed(request)
    body = request.json()
    assert body["msgtype"] == "markdown"
    assert "build: success" in body["markdown"]["text"]
    assert SECRET not in log("tell")
    assert "tok9" not in log("tell")


def test_serverless_cds_ding_talk_inputs_run_on_the_native_plugin(tmp_path: Path) -> None:
    with recorder((200, {"errcode": 0})) as robot:
        text = f"""
        steps:
          - uses: "@serverless-cd/ding-talk"
            id: ding
            with:
              webhook: "{robot.url}/robot/send?access_token=t"
              secret: "{SECRET}"
              msgtype: text
              payload: {{text: {{content: "deployed"}}}}
        """
        result, _ = run_yaml(tmp_path, text)
    assert result.steps[0].status == "success"
    (request,) = robot.requests
    assert _dingtalk_signed(request)
    assert request.json() == {"msgtype": "text", "text": {"content": "deployed"}}


def test_a_robot_refusing_the_message_fails_the_step(tmp_path: Path) -> None:
    with recorder((200, {"errcode": 310000, "errmsg": "sign not match"})) as robot:
        text = f"""
        steps:
          - {{id: tell, uses: dingtalk, with: {{webhook: "{robot.url}/robot/send"}}}}
        """
        result, log = run_yaml(tmp_path, text)
    assert result.steps[0].status == "failure"
    assert "310000" in log("tell")


def test_wecom_sends_markdown_to_the_robot_key(tmp_path: Path) -> None:
    with recorder((200, {"errcode": 0})) as robot:
        text = f"""
        steps:
          - {{id: tell, uses: wecom, with: {{webhook: "{robot.url}/cgi-bin/webhook/send?key=k1", text: "hi **there**"}}}}
        """  # noqa: E501
        result, _ = run_yaml(tmp_path, text)
    assert result.steps[0].status == "success"
    (request,) = robot.requests
    assert request.path == "/cgi-bin/webhook/send?key=k1"
    assert request.json()["msgtype"] == "markdown"
    assert "hi **there**" in request.json()["markdown"]["content"]


def test_feishu_signs_the_body_with_timestamp_and_secret(tmp_path: Path) -> None:
    with recorder((200, {"code": 0, "msg": "success"})) as robot:
        text = f"""
        steps:
          - {{id: tell, uses: feishu, with: {{webhook: "{robot.url}/open-apis/bot/v2/hook/x", secret: "{SECRET}", title: "T", text: "body"}}}}
        """  # noqa: E501
        result, _ = run_yaml(tmp_path, text)
    assert result.steps[0].status == "success"
    body = robot.requests[0].json()
    key = f"{body['timestamp']}\n{SECRET}".encode()
    assert body["sign"] == base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["msg_type"] == "text"
    assert body["content"]["text"] == "T\nbody"


@pytest.fixture
def smtp_server(tmp_path: Path) -> Iterator[tuple[int, list[Any], Path]]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl is needed to make the test certificate")
    from aiosmtpd.controller import Controller

    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", "/CN=localhost",
         "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"],
        check=True, capture_output=True,
    )  # fmt: skip
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    port = free_port()
    controller = Controller(
        Handler(), hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True
    )
    controller.start()
    try:
        yield port, received, cert
    finally:
        controller.stop()


def test_email_goes_over_starttls(tmp_path: Path, smtp_server: tuple[int, list[Any], Path]) -> None:
    port, received, cert = smtp_server
    text = f"""
    steps:
      - id: mail
        uses: email
        with:
          host: 127.0.0.1
          port: {port}
          from: ci@example.com
          to: [dev@example.com, ops@example.com]
          ca_file: "{cert}"
          subject: build done
          text: all good
    """
    result, log = run_yaml(tmp_path, text)
    assert result.steps[0].status == "success", log("mail")
    (envelope,) = received
    assert envelope.rcpt_tos == ["dev@example.com", "ops@example.com"]
    content = envelope.content.decode()
    assert "Subject: build done" in content
    assert "all good" in content
