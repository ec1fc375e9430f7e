"""The pipeline spec: models, located validation, injection lint and JSON Schema.

::

    from scd_engine.spec import load_pipeline, lint_pipeline

    pipeline = load_pipeline("serverless-pipeline.yaml")   # or SpecError(problems)
    for step in pipeline.steps:
        print(step.kind, step.location)

Stages, as in Woodpecker's frontend: read YAML with node marks
(:mod:`~scd_engine.spec.yamlsource`), validate the models
(:mod:`~scd_engine.spec.pipeline`, errors translated by
:mod:`~scd_engine.spec.problems`), check key combinations and expressions
(:mod:`~scd_engine.spec.checks`, :mod:`~scd_engine.spec.injection`).
"""

from __future__ import annotations

from scd_engine.spec.checks import CONTEXTS
from scd_engine.spec.injection import untrusted_paths, untrusted_reads
from scd_engine.spec.lint import DEFAULT_PIPELINE, lint_pipeline, load_pipeline
from scd_engine.spec.pipeline import Pipeline, Step, StepKind
from scd_engine.spec.schema import pipeline_json_schema
from scd_engine.spec.yamlsource import SourceLocation

__all__ = [
    "CONTEXTS",
    "DEFAULT_PIPELINE",
    "Pipeline",
    "SourceLocation",
    "Step",
    "StepKind",
    "lint_pipeline",
    "load_pipeline",
    "pipeline_json_schema",
    "untrusted_paths",
    "untrusted_reads",
]
