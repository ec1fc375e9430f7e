"""JSON Schema (draft 2020-12) of ``serverless-pipeline.yaml``, for editors.

Contract: :func:`pipeline_json_schema` returns a fresh JSON-ready ``dict``
whose property names are the YAML spellings, serverless-cd's aliases
(``plugin``, ``inputs``) included, each with a description. It encodes what a
schema can (types, exactly one step kind, ``shell`` only with ``run``); the
linter checks the rest (expressions, ids, injection). Point
yaml-language-server at it with ``# yaml-language-server: $schema=<file>``.
"""

from __future__ import annotations

import copy
from typing import Any

from scd_engine.spec.pipeline import ID_PATTERN, SHELLS

__all__ = ["SCHEMA_DIALECT", "pipeline_json_schema"]

SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
_EXPRESSION = r"^\s*\$\{\{[\s\S]*\}\}\s*$"

_ENV: dict[str, Any] = {
    "type": "object",
    "description": "Environment variables; numbers and booleans become strings. "
    "Values may use ${{ }}.",
    "propertyNames": {"pattern": "^[A-Za-z_][A-Za-z0-9_]*$"},
    "additionalProperties": {"type": ["string", "number", "boolean", "null"]},
}
_INPUTS: dict[str, Any] = {
    "type": "object",
    "description": "Inputs handed to the plugin; strings may use ${{ }}.",
}

_STEP_PROPERTIES: dict[str, Any] = {
    "id": {
        "type": "string",
        "pattern": f"^{ID_PATTERN.pattern}$",
        "description": "Unique id; later steps read ${{ steps.<id>.outputs.<name> }}, "
        "${{ steps.<id>.outcome }} and ${{ steps.<id>.conclusion }}.",
    },
    "name": {"type": ["string", "number"], "description": "Name shown in logs and the UI."},
    "if": {
        "type": ["string", "boolean"],
        "description": "Run the step only when this expression is true. Without a status "
        "function (success(), failure(), always(), cancelled()) it means "
        "success() && (...).",
    },
    "env": {**_ENV, "description": "Environment for this step only (wins over the pipeline's)."},
    "working-directory": {
        "type": "string",
        "description": "Directory to run in, relative to the workspace.",
    },
    "continue-on-error": {
        "description": "When true, a failure of this step does not fail the run.",
        "anyOf": [{"type": "boolean"}, {"type": "string", "pattern": _EXPRESSION}],
        "default": False,
    },
    "timeout-minutes": {
        "description": "Stop the step (SIGTERM, then SIGKILL) after this many minutes.",
        "anyOf": [
            {"type": "number", "exclusiveMinimum": 0},
            {"type": "string", "pattern": _EXPRESSION},
        ],
    },
    "shell": {
        "enum": list(SHELLS),
        "description": "Interpreter for 'run': bash (default: bash -e -o pipefail), sh or python.",
    },
    "run": {
        "type": "string",
        "description": "Shell commands to run. Never put untrusted event text in ${{ }} "
        'here: pass it through env and use "$NAME".',
    },
    "uses": {
        "type": "string",
        "description": "Plugin to run: a built-in name, a local path (./ci/plugin.py), "
        "module:function, or an installed 'scd.plugins' entry point.",
    },
    "plugin": {"type": "string", "description": "serverless-cd's spelling of 'uses'."},
    "with": {**_INPUTS},
    "inputs": {**_INPUTS, "description": "serverless-cd's spelling of 'with'."},
    "script": {
        "type": "string",
        "description": "Inline Python run in its own process, with sh(), the contexts and "
        "outputs[...] preloaded.",
    },
}

_STEP: dict[str, Any] = {
    "type": "object",
    "description": "One step: exactly one of run, uses (plugin) or script.",
    "properties": _STEP_PROPERTIES,
    "additionalProperties": False,
    "oneOf": [{"required": [kind]} for kind in ("run", "uses", "plugin", "script")],
    "dependentRequired": {"shell": ["run"]},
    "dependentSchemas": {
        key: {"anyOf": [{"required": ["uses"]}, {"required": ["plugin"]}]}
        for key in ("with", "inputs")
    },
    "not": {"required": ["with", "inputs"]},
}

_TASK: dict[str, Any] = {
    "type": "object",
    "description": "One task: steps run in one worker invocation once its needs ended.",
    "properties": {
        "name": {"type": ["string", "number"], "description": "Name shown in the UI."},
        "needs": {
            "description": "Task ids that must end first; by default they must succeed.",
            "anyOf": [{"type": "string"}, {"type": "array", "items": {"type": "string"}}],
        },
        "if": {
            "type": ["string", "boolean"],
            "description": "Run the task only when true; without a status function it "
            "means success() && (...), success() of the tasks it needs.",
        },
        "matrix": {
            "description": "Axes of values (one task instance per combination), include, "
            "exclude, fail-fast (default true), max-parallel; or one ${{ }} expression.",
            "anyOf": [{"type": "object"}, {"type": "string", "pattern": _EXPRESSION}],
        },
        "env": {**_ENV, "description": "Environment for this task's steps."},
        "steps": {
            "type": "array",
            "minItems": 1,
            "description": "Steps, run in order.",
            "items": {"$ref": "#/$defs/step"},
        },
        "timeout-minutes": {
            **_STEP_PROPERTIES["timeout-minutes"],
            "description": "Stop the task after this many minutes.",
        },
        "continue-on-error": {
            **_STEP_PROPERTIES["continue-on-error"],
            "description": "When true, a failure of this task does not fail the run.",
        },
        "outputs": {
            "type": "object",
            "description": "Values later tasks read as ${{ needs.<task>.outputs.<name> }}.",
            "additionalProperties": {"type": "string"},
        },
    },
    "required": ["steps"],
    "additionalProperties": False,
}

_SCHEMA: dict[str, Any] = {
    "$schema": SCHEMA_DIALECT,
    "title": "scd pipeline (serverless-pipeline.yaml)",
    "description": "Steps scd runs for a push, pull request, schedule or manual run.",
    "type": "object",
    "properties": {
        "name": {"type": ["string", "number"], "description": "Name of the pipeline."},
        "env": {**_ENV, "description": "Environment for every step (a step's env wins)."},
        "steps": {
            "type": "array",
            "minItems": 1,
            "description": "Steps, run in order.",
            "items": {"$ref": "#/$defs/step"},
        },
        "tasks": {
            "type": "object",
            "minProperties": 1,
            "description": "Tasks by id, each its own worker invocation, ordered by 'needs' "
            "(instead of 'steps').",
            "propertyNames": {"pattern": f"^{ID_PATTERN.pattern}$"},
            "additionalProperties": {"$ref": "#/$defs/task"},
        },
    },
    "oneOf": [{"required": ["steps"]}, {"required": ["tasks"]}],
    "additionalProperties": False,
    "$defs": {"step": _STEP, "task": _TASK},
}


def pipeline_json_schema() -> dict[str, Any]:
    """The pipeline spec's JSON Schema (a copy: callers may change it)."""
    return copy.deepcopy(_SCHEMA)
