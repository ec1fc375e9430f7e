"""What the webhook hot path does for speed keeps its answers and imports exact."""

from __future__ import annotations

import subprocess
import sys

from hypothesis import given
from hypothesis import strategies as st
from starlette.responses import JSONResponse

from functions.trigger.webhooks import _queued


@given(st.text())
def test_the_queued_answer_is_byte_for_byte_what_json_response_sends(run_id: str) -> None:
    expected = JSONResponse({"run_id": run_id, "status": "queued"}, status_code=202)
    answer = _queued(run_id)
    assert answer.status_code == 202
    assert answer.body == expected.body
    assert answer.raw_headers == expected.raw_headers


def test_loading_the_trigger_app_does_not_import_croniter() -> None:
    code = "import sys, functions.trigger.app, scd_trigger_spec;print('croniter' in sys.modules)"
    found = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert found.returncode == 0, found.stderr
    assert found.stdout.strip() == "False"
