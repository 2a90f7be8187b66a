"""The operator's settings: its Kafka look-ups use the same TLS and SASL variables as the
projection (connection_security), so one set of Secrets serves both."""

from __future__ import annotations

from pathlib import Path

import pytest

from readside_core.settings import SettingsError
from readside_operator.settings import OperatorSettings

pytestmark = pytest.mark.unit


def test_kafka_security_defaults_to_plaintext() -> None:
    assert OperatorSettings.from_env({}).kafka.client_kwargs() == {"security_protocol": "PLAINTEXT"}


def test_sasl_ssl_settings_reach_the_inspectors(tmp_path: Path) -> None:
    password = tmp_path / "password"
    password.write_text("operator-unit-pw\n")
    settings = OperatorSettings.from_env(
        {
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256",
            "KAFKA_SASL_USERNAME": "readside",
            "KAFKA_SASL_PASSWORD_FILE": str(password),
        }
    )
    kwargs = settings.kafka.client_kwargs()
    assert kwargs["sasl_mechanism"] == "SCRAM-SHA-256"
    assert kwargs["sasl_plain_password"] == "operator-unit-pw"
    assert "operator-unit-pw" not in repr(settings)


def test_a_sasl_protocol_without_mechanism_is_refused() -> None:
    with pytest.raises(SettingsError, match="KAFKA_SASL_MECHANISM"):
        OperatorSettings.from_env({"KAFKA_SECURITY_PROTOCOL": "SASL_SSL"})
