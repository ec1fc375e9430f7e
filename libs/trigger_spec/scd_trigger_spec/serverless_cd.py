"""serverless-cd's trigger spec form, converted into an App's ``trigger``.

An app may say, as serverless-cd's ``trigger_spec`` does::

    github:
      secret: ...
      push:
        branches: {prefix: [release], precise: [main], include: ['feat/*'], exclude: [wip]}
        tags: {prefix: []}
      pull_request:
        types: [opened, merged]
        branches: {precise: [{target: main, source: dev}], prefix: [{target: release}]}

Meaning, exactly as serverless-cd's ``@serverless-cd/trigger``:

- push: one micromatch list per ref kind: ``include`` items as written, ``prefix`` items as
  ``item*`` and ``item/**`` (an empty ``prefix: []`` is ``*`` and ``**``: every branch),
  ``precise`` items as written, ``exclude`` items as ``!item`` (so exclusions win). A branch
  push with no branch rules (or a tag push with no tag rules) is not triggered.
- pull_request: ``types`` (none given: nothing triggers) must hold the normalised action;
  then rules are tried in the order exclude, precise, prefix, include; the first rule whose
  ``target`` glob matches the target branch and ``source`` glob (any, if omitted) the source
  branch decides: exclude ignores, the others trigger. No rule: not triggered.
- the block's ``secret`` (or Gitee's ``password``) becomes the app's ``secret``; the key
  names the provider.
"""

from __future__ import annotations

from typing import Any

__all__ = ["PROVIDER_KEYS", "convert_app_fields", "convert_trigger"]

PROVIDER_KEYS = ("github", "gitee", "gitlab", "codeup")
_RULE_ORDER = ("exclude", "precise", "prefix", "include")


def _flatten(rules: Any) -> list[str] | None:
    """serverless-cd's ``doPushCondition``: one ordered micromatch list (None: no rules)."""
    if not isinstance(rules, dict) or not rules:
        return None
    patterns: list[str] = []
    patterns.extend(_strings(rules.get("include")))
    prefix = rules.get("prefix")
    if isinstance(prefix, list) and not prefix:
        patterns.extend(["*", "**"])
    else:
        for item in _strings(prefix):
            patterns.extend([f"{item}*", f"{item}/**"])
    patterns.extend(_strings(rules.get("precise")))
    patterns.extend(f"!{item}" for item in _strings(rules.get("exclude")))
    return patterns


def _strings(value: Any) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"expected a list of strings, got {value!r}")
    return list(value)


def _pr_rules(branches: Any) -> list[dict[str, Any]] | None:
    if not isinstance(branches, dict) or not branches:
        return None
    rules: list[dict[str, Any]] = []
    for kind in _RULE_ORDER:
        items = branches.get(kind) or []
        if not isinstance(items, list):
            raise ValueError(f"pull_request.branches.{kind} must be a list of {{target, source}}")
        for item in items:
            if not isinstance(item, dict) or not isinstance(item.get("target"), str):
                raise ValueError(f"pull_request.branches.{kind} items need a 'target' string")
            rules.append({"kind": kind, "target": item["target"], "source": item.get("source")})
    return rules


def convert_trigger(block: dict[str, Any]) -> dict[str, Any]:
    """A ``TriggerSpec`` mapping with the meaning of serverless-cd's provider block."""
    trigger: dict[str, Any] = {"manual": True}
    push = block.get("push")
    if isinstance(push, dict):
        trigger["push"] = {
            "dialect": "serverless-cd",
            "branches": _flatten(push.get("branches")),
            "tags": _flatten(push.get("tags")),
        }
    pull_request = block.get("pull_request")
    if isinstance(pull_request, dict):
        trigger["pull_request"] = {
            "dialect": "serverless-cd",
            "types": pull_request.get("types") or [],
            "rules": _pr_rules(pull_request.get("branches")),
        }
    return trigger


def convert_app_fields(fields: dict[str, Any]) -> dict[str, Any]:
    """Rewrite an app mapping that uses a ``github:``/``gitee:``/... key into scd's form."""
    present = [key for key in PROVIDER_KEYS if key in fields]
    if not present:
        return fields
    name = fields.get("name", "?")
    if len(present) > 1:
        raise ValueError(f"app '{name}': only one of {', '.join(present)} may be given")
    if "trigger" in fields:
        raise ValueError(f"app '{name}': give either 'trigger' or '{present[0]}', not both")
    provider = present[0]
    if fields.get("provider") not in (None, provider):
        raise ValueError(f"app '{name}': provider '{fields['provider']}' contradicts '{provider}:'")
    block = fields[provider] or {}
    if not isinstance(block, dict):
        raise ValueError(f"app '{name}': '{provider}:' must be a mapping")
    unknown = set(block) - {"secret", "password", "push", "pull_request"}
    if unknown:
        raise ValueError(f"app '{name}': unknown keys under '{provider}:': {sorted(unknown)}")
    out = {k: v for k, v in fields.items() if k != provider}
    out["provider"] = provider
    out["trigger"] = convert_trigger(block)
    secret = block.get("secret") or block.get("password")
    if secret and out.get("secret") is None:
        out["secret"] = secret
    return out
