"""Built-in notification plugins: ``dingtalk``, ``wecom``, ``feishu`` (Lark), ``email``.

Contract: each plugin takes ``with:`` inputs and sends one message about the run;
the step fails (``BackendError``, the URL masked, never a secret) unless the
service accepted it. The same senders serve an app's ``notify:`` through
:func:`send`, which needs no step context. Inputs:

- ``dingtalk``: ``webhook`` (the robot URL with its ``access_token``), ``secret``
  (the robot's signing secret: ``timestamp`` and ``sign`` =
  base64(HMAC-SHA256(secret, "timestamp\\nsecret")) are added to the URL),
  ``title``/``text`` (markdown). serverless-cd's ``@serverless-cd/ding-talk``
  inputs are accepted too: ``msgtype`` and ``payload`` (sent as the message body
  as they are), ``at``.
- ``wecom``: ``webhook`` (the robot URL with its ``key``), ``text`` (markdown).
- ``feishu``: ``webhook``, ``secret`` (optional: ``timestamp`` and ``sign`` =
  base64(HMAC-SHA256(key = "timestamp\\nsecret", empty message)) in the body),
  ``title``/``text``.
- ``email``: ``host``, ``port`` (587), ``username``, ``password``, ``from``,
  ``to`` (a list or a comma-separated string), ``starttls`` (default true; port
  465 uses TLS from the start), ``subject``/``text``.

Without ``title``/``text`` the message says the run's app, status, ref, commit
and each step's conclusion. DingTalk, WeCom and Feishu answer 200 with an error
code in the JSON for a refused message; that fails the step too.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import smtplib
import ssl
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass
from email.message import EmailMessage
from typing import Any

from scd_core.errors import BackendError, BadRequest

from scd_engine.plugins.context import PluginContext

__all__ = [
    "KINDS",
    "Message",
    "dingtalk",
    "dingtalk_sign",
    "email",
    "feishu",
    "feishu_sign",
    "send",
    "wecom",
]

KINDS = ("dingtalk", "wecom", "feishu", "email")
_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class Message:
    """A notification: a one-line ``title`` and a markdown ``text``."""

    title: str
    text: str


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """DingTalk's ``sign`` query value for ``timestamp_ms`` (URL-encoded)."""
    digest = hmac.new(secret.encode(), f"{timestamp_ms}\n{secret}".encode(), hashlib.sha256)
    return urllib.parse.quote_plus(base64.b64encode(digest.digest()).decode())


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """Feishu/Lark's ``sign`` body value for ``timestamp_s``."""
    digest = hmac.new(f"{timestamp_s}\n{secret}".encode(), b"", hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def send(kind: str, inputs: Mapping[str, Any], message: Message) -> str:
    """Send ``message`` through ``kind`` with ``inputs``; a short result for the log."""
    if kind == "dingtalk":
        return _dingtalk(inputs, message)
    if kind == "wecom":
        return _wecom(inputs, message)
    if kind == "feishu":
        return _feishu(inputs, message)
    if kind == "email":
        return _email(inputs, message)
    raise BadRequest(f"notify: unknown kind {kind!r} (one of {', '.join(KINDS)})")


def _webhook(kind: str, inputs: Mapping[str, Any]) -> str:
    url = str(inputs.get("webhook") or inputs.get("url") or "")
    if not url.startswith(("http://", "https://")):
        raise BadRequest(f"{kind}: 'webhook' must be an http:// or https:// URL")
    return url


def _post(kind: str, url: str, body: dict[str, Any], shown: str) -> dict[str, Any]:
    data = json.dumps(body).encode()
    headers = {"Content-Type": "application/json", "User-Agent": "scd"}
    request = urllib.request.Request(url, data=data, headers=headers, method="POST")  # noqa: S310
    try:
        with urllib.request.urlopen(request, timeout=_TIMEOUT_S) as response:  # noqa: S310
            raw = response.read(65536)
    except urllib.error.HTTPError as exc:
        raise BackendError(f"{kind}: {shown} answered {exc.code}") from None
    except (urllib.error.URLError, OSError) as exc:
        raise BackendError(f"{kind}: {shown}: {type(exc).__name__}") from None
    try:
        answer = json.loads(raw or b"{}")
    except ValueError:
        answer = {}
    if not isinstance(answer, dict):
        answer = {}
    code = answer.get("errcode", answer.get("code", 0))
    if code not in (0, None):
        reason = str(answer.get("errmsg") or answer.get("msg") or "")[:200]
        raise BackendError(f"{kind}: {shown} refused the message ({code}: {reason})")
    return answer


def _host(url: str) -> str:
    # the path and query hold the robot's token: show only where it went
    parts = urllib.parse.urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"


def _dingtalk(inputs: Mapping[str, Any], message: Message) -> str:
    url = _webhook("dingtalk", inputs)
    secret = str(inputs.get("secret") or "")
    if secret:
        stamp = int(time.time() * 1000)
        joiner = "&" if "?" in url else "?"
        url = f"{url}{joiner}timestamp={stamp}&sign={dingtalk_sign(secret, stamp)}"
    payload = inputs.get("payload")
    if isinstance(payload, Mapping):  # serverless-cd's form: the message body as given
        body: dict[str, Any] = {"msgtype": str(inputs.get("msgtype") or "text"), **payload}
    else:
        body = {"msgtype": "markdown", "markdown": {"title": message.title, "text": message.text}}
    if isinstance(inputs.get("at"), Mapping):
        body["at"] = dict(inputs["at"])
    _post("dingtalk", url, body, _host(url))
    return f"dingtalk: sent to {_host(url)}"


def _wecom(inputs: Mapping[str, Any], message: Message) -> str:
    url = _webhook("wecom", inputs)
    text = f"**{message.title}**\n{message.text}"
    _post("wecom", url, {"msgtype": "markdown", "markdown": {"content": text}}, _host(url))
    return f"wecom: sent to {_host(url)}"


def _feishu(inputs: Mapping[str, Any], message: Message) -> str:
    url = _webhook("feishu", inputs)
    body: dict[str, Any] = {
        "msg_type": "text",
        "content": {"text": f"{message.title}\n{message.text}"},
    }
    secret = str(inputs.get("secret") or "")
    if secret:
        stamp = int(time.time())
        body = {"timestamp": str(stamp), "sign": feishu_sign(secret, stamp), **body}
    _post("feishu", url, body, _host(url))
    return f"feishu: sent to {_host(url)}"


def _recipients(value: Any) -> list[str]:
    items = value if isinstance(value, list) else str(value or "").split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _email(inputs: Mapping[str, Any], message: Message) -> str:
    host = str(inputs.get("host") or "")
    to = _recipients(inputs.get("to"))
    sender = str(inputs.get("from") or inputs.get("username") or "")
    if not host or not to or not sender:
        raise BadRequest("email: 'host', 'to' and 'from' (or 'username') are required")
    port = int(inputs.get("port") or 587)
    mail = EmailMessage()
    mail["Subject"], mail["From"], mail["To"] = message.title, sender, ", ".join(to)
    mail.set_content(message.text)
    starttls = str(inputs.get("starttls", "true")).lower() not in ("false", "0", "no")
    context = ssl.create_default_context()
    if inputs.get("ca_file"):
        context.load_verify_locations(cafile=str(inputs["ca_file"]))
    try:
        if port == 465:
            smtp: smtplib.SMTP = smtplib.SMTP_SSL(host, port, timeout=_TIMEOUT_S, context=context)
        else:
            smtp = smtplib.SMTP(host, port, timeout=_TIMEOUT_S)
        with smtp:
            if starttls and port != 465:
                smtp.starttls(context=context)
            if inputs.get("username") and inputs.get("password"):
                smtp.login(str(inputs["username"]), str(inputs["password"]))
            smtp.send_message(mail)
    except (smtplib.SMTPException, OSError) as exc:
        raise BackendError(f"email: {host}:{port}: {type(exc).__name__}") from None
    return f"email: sent to {len(to)} recipient(s) through {host}:{port}"


def _summary(inputs: Mapping[str, Any], ctx: PluginContext) -> Message:
    steps = ctx.contexts.get("steps", {})
    git = ctx.contexts.get("git", {})
    app = ctx.contexts.get("app", {}).get("name") or "scd"
    failed = any(s.get("conclusion") == "failure" for s in steps.values())
    status = "failure" if failed else "success"
    lines = [f"- {name}: {step.get('conclusion')}" for name, step in steps.items()]
    default_text = "\n".join(
        [f"run {ctx.run_id}: **{status}**", f"ref {git.get('ref')} at {git.get('commit')}", *lines]
    )
    title = str(inputs.get("title") or inputs.get("subject") or f"{app}: {status}")
    return Message(title, str(inputs.get("text") or default_text))


def _plugin(kind: str, inputs: dict[str, Any], ctx: PluginContext) -> Mapping[str, Any]:
    for name in ("secret", "password"):
        if inputs.get(name):
            ctx.add_mask(str(inputs[name]))
    ctx.log(send(kind, inputs, _summary(inputs, ctx)))
    return {}


def dingtalk(inputs: dict[str, Any], ctx: PluginContext) -> Mapping[str, Any]:
    """The ``dingtalk`` plugin (and ``@serverless-cd/ding-talk``); see the module doc."""
    return _plugin("dingtalk", inputs, ctx)


def wecom(inputs: dict[str, Any], ctx: PluginContext) -> Mapping[str, Any]:
    """The ``wecom`` plugin; see the module doc."""
    return _plugin("wecom", inputs, ctx)


def feishu(inputs: dict[str, Any], ctx: PluginContext) -> Mapping[str, Any]:
    """The ``feishu`` (Lark) plugin; see the module doc."""
    return _plugin("feishu", inputs, ctx)


def email(inputs: dict[str, Any], ctx: PluginContext) -> Mapping[str, Any]:
    """The ``email`` plugin; see the module doc."""
    return _plugin("email", inputs, ctx)
