"""schemathesis against the trigger's own /openapi.json, served on loopback.

With and without a valid (admin) token, every generated request must answer
without a 5xx and with a status, content type, headers and body the document
declares. The example count is kept modest so the file runs in well under a minute.
"""

from __future__ import annotations

import hashlib
import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from scd_core.invokers.memory import MemoryInvoker
from scd_core.models import Event, Run, StepState
from scd_core.settings import Settings
from scd_core.stores import open_store

from functions.appconfig import parse_config
from functions.trigger.app import create_app
from functions.trigger.testing import serve

with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    import schemathesis
    from schemathesis.core.result import Err

ADMIN = "schema-admin-token"
CONFIG = f"""
apps:
  - name: web
    repo: https://github.com/acme/web.git
    secret: schema-webhook-secret
tokens:
  - {{name: admin, sha256: {hashlib.sha256(ADMIN.encode()).hexdigest()}, scopes: [admin]}}
"""
EXAMPLES = 15


@pytest.fixture(scope="module")
def base_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    tmp_path = tmp_path_factory.mktemp("api-schema")
    settings_ = Settings(data_dir=tmp_path, config=tmp_path / "scd.yaml")
    store = open_store(settings_.store)
    event = Event(provider="github", event_name="push", branch="main", commit="c" * 40)
    store.create_run(Run(id="0" * 32, app="web", dedup_key="seed", event=event))
    store.put_step("0" * 32, StepState(id="setup", index=-1, status="success"))
    app = create_app(settings_, config=parse_config(CONFIG), store=store, invoker=MemoryInvoker())
    try:
        with serve(app) as url:
            yield url
    finally:
        store.close()


def _check_every_operation(base_url: str, headers: dict[str, str]) -> int:
    """Generate cases for every operation of the served document and validate each
    answer; the number of operations checked.

    Driven by hand rather than by ``schemathesis.pytest.from_fixture``, whose lazy
    loader relies on a pytest internal that pytest 9 removed.
    """
    loaded = schemathesis.openapi.from_url(f"{base_url}/openapi.json")
    checked = 0
    for result in loaded.get_all_operations():
        if isinstance(result, Err):
            raise result.err()  # the served document itself is invalid
        operation = result.ok()

        @_SETTINGS
        @given(case=operation.as_strategy())
        def check(case: Any) -> None:
            case.call_and_validate(
                base_url=base_url, headers=headers, timeout=10, excluded_checks=_EXCLUDED
            )

        check()
        checked += 1
    return checked


# Every check but one: "schema-valid data is accepted" cannot hold where validity goes
# beyond JSON Schema (an opaque cursor, an app mapping checked by scd.yaml's rules);
# those answer a documented 400, which the other checks still validate.
_EXCLUDED = [schemathesis.checks.positive_data_acceptance]
_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    derandomize=True,
    database=None,
)


def test_every_answer_without_a_token_matches_the_schema_and_is_not_5xx(base_url: str) -> None:
    assert _check_every_operation(base_url, {}) >= 14


def test_every_answer_with_an_admin_token_matches_the_schema_and_is_not_5xx(
    base_url: str,
) -> None:
    assert _check_every_operation(base_url, {"Authorization": f"Bearer {ADMIN}"}) >= 14
