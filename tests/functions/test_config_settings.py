"""Settings read from SCD_* environment variables."""

from __future__ import annotations

from pathlib import Path

import pytest
from scd_core.errors import ConfigError
from scd_core.settings import DEFAULT_MAX_BODY_BYTES, Settings


def test_defaults_put_state_in_dot_scd_with_a_sqlite_store() -> None:
    settings = Settings.from_env({})
    assert settings.config == Path("scd.yaml")
    assert settings.data_dir == Path(".scd")
    assert settings.store == "sqlite:///.scd/scd.db"
    assert settings.invoker == "memory://"
    assert settings.max_body_bytes == DEFAULT_MAX_BODY_BYTES == 25 * 1024 * 1024
    assert settings.scheduler is False
    assert settings.trust_fc_headers is False


def test_data_dir_moves_the_default_store_and_variables_override() -> None:
    settings = Settings.from_env(
        {
            "SCD_CONFIG": "/etc/scd.yaml",
            "SCD_DATA_DIR": "/var/lib/scd",
            "SCD_SCHEDULER": "yes",
            "SCD_MAX_BODY_BYTES": "1024",
        }
    )
    assert settings.config == Path("/etc/scd.yaml")
    assert settings.store == "sqlite:////var/lib/scd/scd.db"
    assert settings.scheduler is True
    assert settings.max_body_bytes == 1024
    assert Settings.from_env({"SCD_STORE": "memory://"}).store == "memory://"


def test_running_on_function_compute_trusts_its_control_headers() -> None:
    assert Settings.from_env({"FC_FUNCTION_NAME": "trigger"}).trust_fc_headers is True
    off = {"FC_FUNCTION_NAME": "trigger", "SCD_TRUST_FC_HEADERS": "false"}
    assert Settings.from_env(off).trust_fc_headers is False


def test_malformed_values_name_the_variable() -> None:
    with pytest.raises(ConfigError, match="SCD_MAX_BODY_BYTES"):
        Settings.from_env({"SCD_MAX_BODY_BYTES": "lots"})
    with pytest.raises(ConfigError, match="SCD_SCHEDULER"):
        Settings.from_env({"SCD_SCHEDULER": "perhaps"})
