"""What an app asks to be told about its runs: completion callbacks and notifications.

Contract: plain, frozen models of an app's ``callbacks:`` and ``notify:`` (scd.yaml
or the apps API), validated when the app is. Secrets (a callback's HMAC secret, a
notifier's inputs, which hold robot tokens and passwords) are ``SecretStr``: they
never show in a ``repr``, a log or an API answer.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, field_validator

__all__ = ["CALLBACK_EVENTS", "Callback", "CallbackEvent", "Notify", "NotifyWhen"]

CallbackEvent = Literal["run.started", "run.finished", "task.finished"]
CALLBACK_EVENTS: tuple[str, ...] = ("run.started", "run.finished", "task.finished")
NotifyWhen = Literal["failure", "fix", "always"]


def _finished_only() -> list[CallbackEvent]:
    return ["run.finished"]


def _failure_and_fix() -> list[NotifyWhen]:
    return ["failure", "fix"]


class Callback(BaseModel):
    """POST a signed JSON body to ``url`` on each of ``events``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    url: str
    events: list[CallbackEvent] = Field(default_factory=_finished_only, min_length=1)
    secret: SecretStr | None = None

    @field_validator("url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("http://", "https://")):
            raise ValueError("callback url must be an http:// or https:// URL")
        return value


class Notify(BaseModel):
    """Send a message with built-in plugin ``uses`` when a run ends: ``on`` ``failure``
    (every failed run), ``fix`` (a success after a failure of the same branch), or
    ``always``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    uses: Literal["dingtalk", "wecom", "feishu", "lark", "email", "notify-webhook"]
    on: list[NotifyWhen] = Field(default_factory=_failure_and_fix, min_length=1)
    # strings are secret (robot tokens, passwords); numbers, flags and lists are not
    inputs: dict[str, SecretStr | bool | int | list[str]] = Field(
        default_factory=dict, alias="with"
    )

    @field_validator("on", mode="before")
    @classmethod
    def _one_or_many(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value
