"""pipeline_json_schema: draft 2020-12, YAML spellings, and it agrees with the validator."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
import yaml
from scd_engine.spec import lint_pipeline, pipeline_json_schema
from scd_engine.spec.pipeline import PIPELINE_KEYS, STEP_KEYS

_TYPES = {
    "object": dict, "array": list, "string": str, "boolean": bool, "null": type(None),
}  # fmt: skip


def _is_type(value: Any, name: str) -> bool:
    if name == "number":
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    return isinstance(value, _TYPES[name])


def valid(value: Any, schema: dict[str, Any], root: dict[str, Any]) -> bool:
    """A small validator for the keywords the pipeline schema uses (no jsonschema installed)."""
    if "$ref" in schema:
        return valid(value, root["$defs"][schema["$ref"].rsplit("/", 1)[1]], root)
    types = schema.get("type")
    if types is not None:
        names = [types] if isinstance(types, str) else types
        if not any(_is_type(value, n) for n in names):
            return False
    checks = [
        "enum" not in schema or value in schema["enum"],
        all(valid(value, s, root) for s in schema.get("allOf", [])),
        "anyOf" not in schema or any(valid(value, s, root) for s in schema["anyOf"]),
        "oneOf" not in schema or sum(valid(value, s, root) for s in schema["oneOf"]) == 1,
        "not" not in schema or not valid(value, schema["not"], root),
    ]
    if isinstance(value, str) and "pattern" in schema:
        checks.append(re.search(schema["pattern"], value) is not None)
    if _is_type(value, "number") and "exclusiveMinimum" in schema:
        checks.append(value > schema["exclusiveMinimum"])
    if isinstance(value, list):
        checks.append(len(value) >= schema.get("minItems", 0))
        checks.extend(valid(item, schema.get("items", {}), root) for item in value)
    if isinstance(value, dict):
        checks.extend(_valid_object(value, schema, root))
    return all(checks)


def _valid_object(
    value: dict[str, Any], schema: dict[str, Any], root: dict[str, Any]
) -> list[bool]:
    properties = schema.get("properties", {})
    extra = schema.get("additionalProperties", True)
    checks = [key in value for key in schema.get("required", [])]
    for key, item in value.items():
        if key in properties:
            checks.append(valid(item, properties[key], root))
        elif extra is False:
            checks.append(False)
        elif isinstance(extra, dict):
            checks.append(valid(item, extra, root))
        if "propertyNames" in schema:
            checks.append(valid(key, schema["propertyNames"], root))
    for key, needed in schema.get("dependentRequired", {}).items():
        checks.append(key not in value or all(n in value for n in needed))
    for key, sub in schema.get("dependentSchemas", {}).items():
        checks.append(key not in value or valid(value, sub, root))
    return checks


def test_schema_is_draft_2020_12_json_with_descriptions() -> None:
    schema = pipeline_json_schema()
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert json.loads(json.dumps(schema)) == schema
    step = schema["$defs"]["step"]["properties"]
    assert all(prop.get("description") for prop in step.values())
    assert all(prop.get("description") for prop in schema["properties"].values())


def test_schema_property_names_are_the_yaml_spellings_with_aliases() -> None:
    schema = pipeline_json_schema()
    assert tuple(schema["properties"]) == PIPELINE_KEYS
    assert set(schema["$defs"]["step"]["properties"]) == set(STEP_KEYS)
    assert {"plugin", "inputs", "working-directory", "if", "with"} <= set(STEP_KEYS)


def test_schema_returns_a_copy_callers_may_change() -> None:
    pipeline_json_schema()["properties"].clear()
    assert pipeline_json_schema()["properties"]


CASES = [
    "steps:\n  - run: make\n",
    "name: x\nenv: {A: 1, B: true}\nsteps:\n  - id: t\n    run: x\n    shell: sh\n"
    "    timeout-minutes: 2.5\n    continue-on-error: ${{ inputs.soft }}\n",
    "steps:\n  - plugin: cache\n    inputs: {key: k, paths: [a, b]}\n  - script: print(1)\n",
    "steps:\n  - uses: cache\n    with: {}\n    if: ${{ always() }}\n",
    "steps: []\n",
    "name: x\n",
    "stpes:\n  - run: x\n",
    "steps:\n  - rnu: make\n",
    "steps:\n  - run: a\n    script: b\n",
    "steps:\n  - uses: a\n    plugin: b\n",
    "steps:\n  - uses: a\n    with: {}\n    inputs: {}\n",
    "steps:\n  - uses: a\n    shell: bash\n",
    "steps:\n  - run: a\n    with: {x: 1}\n",
    "steps:\n  - run: a\n    shell: zsh\n",
    "steps:\n  - run: a\n    timeout-minutes: 0\n",
    "steps:\n  - run: a\n    timeout-minutes: soon\n",
    "steps:\n  - run: a\n    continue-on-error: maybe\n",
    "steps:\n  - id: 1abc\n    run: a\n",
    "steps:\n  - run: [a]\n",
    "env: {1A: x}\nsteps:\n  - run: a\n",
    "env: {A: [x]}\nsteps:\n  - run: a\n",
    "steps:\n  - make\n",
]


@pytest.mark.parametrize("text", CASES)
def test_schema_and_validator_agree_on_structure(text: str) -> None:
    schema = pipeline_json_schema()
    by_schema = valid(yaml.safe_load(text), schema, schema)
    errors = [p for p in lint_pipeline("p.yaml", text) if p.severity == "error"]
    assert by_schema == (not errors)
