"""The environment a step's process starts from.

Contract: :func:`process_base_env` is computed once per run: ``os.environ``
minus the platform's credentials and scd's own settings (names starting
``ALIBABA_CLOUD_``, ``ALIYUN_``, ``FC_`` or ``SCD_``, except ``SCD_DEBUG``), plus
``CI=true``, ``SCD=true``, serverless-cd's ``SERVERLESS_CD=serverless_cd`` (which its
scripts test for) and ``SCD_*`` variables describing the run (``SCD_EVENT_NAME`` keeps
scd's word ``tag`` for a tag push). The
runner then lays the pipeline's and the step's ``env`` and the step's
``SCD_OUTPUT``/``SCD_ENV``/``SCD_STEP`` over it.
"""

from __future__ import annotations

import os
from pathlib import Path

from scd_core.models import Event

__all__ = ["HIDDEN_PREFIXES", "process_base_env"]

HIDDEN_PREFIXES = ("ALIBABA_CLOUD_", "ALIYUN_", "FC_", "SCD_")
_KEPT = frozenset({"SCD_DEBUG"})


def process_base_env(run_id: str, workspace: Path, event: Event | None) -> dict[str, str]:
    """The variables every step of the run inherits."""
    env = {
        name: value
        for name, value in os.environ.items()
        if name in _KEPT or not name.startswith(HIDDEN_PREFIXES)
    }
    env.update(
        CI="true",
        SCD="true",
        SERVERLESS_CD="serverless_cd",
        SCD_RUN_ID=run_id,
        SCD_WORKSPACE=str(workspace),
    )
    if event is not None:
        described = {
            "SCD_EVENT_NAME": event.event_name,
            "SCD_PROVIDER": event.provider,
            "SCD_REF": event.ref,
            "SCD_SHA": event.commit,
            "SCD_BRANCH": event.branch,
            "SCD_TAG": event.tag,
            "SCD_REPOSITORY": event.repository,
        }
        env.update({k: v for k, v in described.items() if v})
    return env
