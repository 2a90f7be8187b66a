"""What a user is told when a Kafka connection fails: the cause and the variable to change."""

from __future__ import annotations

import ssl

import pytest
from aiokafka.errors import KafkaConnectionError, UnsupportedSaslMechanismError

from readside_core.connection_security import KafkaSecurity
from readside_kafka.diagnosis import _first_broker, explain

pytestmark = pytest.mark.unit

SSL_ONLY = KafkaSecurity(protocol="SSL")
SASL_SSL = KafkaSecurity(protocol="SASL_SSL", sasl_mechanism="PLAIN")


@pytest.mark.parametrize(
    ("exc", "security", "named"),
    [
        (UnsupportedSaslMechanismError("<conn>"), SASL_SSL, "KAFKA_SASL_MECHANISM=PLAIN"),
        (
            Exception("Authentication failed during authentication"),
            SASL_SSL,
            "KAFKA_SASL_PASSWORD_FILE",
        ),
        (
            ssl.SSLCertVerificationError("certificate verify failed: self-signed"),
            SSL_ONLY,
            "KAFKA_SSL_CAFILE",
        ),
        (
            ssl.SSLCertVerificationError("Hostname mismatch, certificate is not valid"),
            SSL_ONLY,
            "KAFKA_BROKERS",
        ),
        (ssl.SSLError("tlsv13 alert certificate required"), SSL_ONLY, "KAFKA_SSL_CERTFILE"),
        (
            ssl.SSLError("[SSL: WRONG_VERSION_NUMBER] wrong version number"),
            SSL_ONLY,
            "KAFKA_SECURITY_PROTOCOL=SSL",
        ),
        (KafkaConnectionError("Connection at b:9093 closed"), SSL_ONLY, "KAFKA_SSL_CERTFILE"),
        (
            KafkaConnectionError("Connection at b:9093 closed"),
            KafkaSecurity(),
            "KAFKA_SECURITY_PROTOCOL=PLAINTEXT",
        ),
    ],
)
def test_each_cause_names_the_setting_to_change(
    exc: BaseException, security: KafkaSecurity, named: str
) -> None:
    assert named in explain(exc, security)


def test_the_first_bootstrap_server_is_diagnosed() -> None:
    assert _first_broker("b-1.example:9096, b-2.example:9096") == ("b-1.example", 9096)
    assert _first_broker("[::1]:9093") == ("::1", 9093)
    assert _first_broker("kafka") == ("kafka", 9092)
