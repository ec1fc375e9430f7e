"""Who pushed: serverless-cd's ``pusher`` object, read as its trigger reads it.

Contract: :func:`sd_pusher` returns ``pusher_name``, ``pusher_email`` and
``pusher_avatar`` keyword arguments for ``make_event`` (each a string or None),
following ``@serverless-cd/trigger``'s ``generateSuccessResult`` field by field:

- every provider first: name ``pusher.name`` or ``sender.login``, email
  ``pusher.email`` or ``sender.email``, avatar ``sender.avatar_url``;
- GitLab then: avatar ``user.avatar_url`` or ``user_avatar``, name ``user.name`` or
  ``user_name`` (the display name, not the username), email ``user.email`` or
  ``user_email``;
- Codeup then: for a merge request the last commit's author name and email; then
  name ``user_name`` or ``user.name`` and email ``user_email`` where still unset,
  and avatar ``user.avatar_url``.

scd's own ``Event.pusher`` (the login, GitLab's ``user_username``) is unchanged.
Every field read here is in the providers' partial-decoder shapes. A field of an
unexpected type reads as absent: who pushed never decides whether a delivery is valid.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PUSHER_SHAPE", "sd_pusher"]

# The fields read below, for the partial decoders of the providers that have one.
PUSHER_SHAPE: dict[str, Any] = {
    "pusher": {"name": None, "email": None},
    "sender": {"login": None, "email": None, "avatar_url": None},
    "user": {"name": None, "email": None, "avatar_url": None, "username": None},
    "user_name": None,
    "user_email": None,
    "user_avatar": None,
}


def sd_pusher(payload: dict[str, Any], provider: str, *, pull_request: bool) -> dict[str, Any]:
    """serverless-cd's pusher of ``payload`` as ``make_event`` keyword arguments."""
    name = _text(payload, "pusher.name") or _text(payload, "sender.login")
    email = _text(payload, "pusher.email") or _text(payload, "sender.email")
    avatar = _text(payload, "sender.avatar_url")
    if provider == "gitlab":
        avatar = _text(payload, "user.avatar_url") or _text(payload, "user_avatar")
        name = _text(payload, "user.name") or _text(payload, "user_name")
        email = _text(payload, "user.email") or _text(payload, "user_email")
    elif provider == "codeup":
        if pull_request:
            name = _text(payload, "object_attributes.last_commit.author.name")
            email = _text(payload, "object_attributes.last_commit.author.email")
        name = name or _text(payload, "user_name") or _text(payload, "user.name")
        email = email or _text(payload, "user_email")
        avatar = _text(payload, "user.avatar_url")
    return {"pusher_name": name, "pusher_email": email, "pusher_avatar": avatar}


def _text(payload: dict[str, Any], path: str) -> str | None:
    value: Any = payload
    for key in path.split("."):
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value if isinstance(value, str) else None
