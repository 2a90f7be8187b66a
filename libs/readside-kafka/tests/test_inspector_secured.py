"""The operator's Kafka reads (readside_kafka) through each secured listener of hack/stack."""

from __future__ import annotations

import uuid

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.structs import OffsetAndMetadata

from readside_core.connection_security import KafkaSecurity
from readside_kafka import KafkaInspector, KafkaLookupError, ResetTarget
from readside_testkit.secured import SecuredStack

pytestmark = pytest.mark.integration

LISTENERS = [
    ("sasl_ssl", "SCRAM-SHA-512"),
    ("sasl_ssl", "SCRAM-SHA-256"),
    ("ssl", ""),
    ("sasl_plaintext", "PLAIN"),
]


def security(
    secured: SecuredStack, listener: str, mechanism: str = "SCRAM-SHA-512"
) -> KafkaSecurity:
    return KafkaSecurity.from_env(secured.kafka_env(listener, mechanism or "SCRAM-SHA-512"))


@pytest.mark.parametrize(("listener", "mechanism"), LISTENERS)
async def test_partitions_lag_group_state_and_offsets_through_a_secured_listener(
    secured: SecuredStack, listener: str, mechanism: str
) -> None:
    topic, group = f"secured-{uuid.uuid4().hex[:8]}", f"g-{uuid.uuid4().hex[:6]}"
    brokers, sec = secured.brokers(listener), security(secured, listener, mechanism)
    producer = AIOKafkaProducer(bootstrap_servers=brokers, **sec.client_kwargs())
    await producer.start()
    try:
        for n in range(5):
            await producer.send_and_wait(topic, f"{n}".encode(), partition=0)
    finally:
        await producer.stop()
    consumer = AIOKafkaConsumer(
        bootstrap_servers=brokers, group_id=group, enable_auto_commit=False, **sec.client_kwargs()
    )
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        await consumer.commit({TopicPartition(topic, 0): OffsetAndMetadata(2, "")})
    finally:
        await consumer.stop()
    async with KafkaInspector(brokers, security=sec) as kafka:
        partitions = await kafka.partitions(topic)
        assert 0 in partitions
        lag = await kafka.lag(topic, group)
        assert {p.partition: p.lag for p in lag.partitions}[0] == 3
        assert (await kafka.group_state(group)).members == 0
        planned = await kafka.plan_offsets(topic, ResetTarget(earliest=True))
        assert planned == dict.fromkeys(partitions, 0)


@pytest.mark.parametrize(
    ("listener", "change", "named"),
    [
        (
            "sasl_ssl",
            {"KAFKA_SASL_PASSWORD": "wrong-one", "KAFKA_SASL_PASSWORD_FILE": ""},
            "KAFKA_SASL_PASSWORD",
        ),
        ("sasl_ssl", {"KAFKA_SASL_MECHANISM": "PLAIN"}, "KAFKA_SASL_MECHANISM=PLAIN"),
        ("sasl_ssl", {"KAFKA_SSL_CAFILE": "other-ca.crt"}, "KAFKA_SSL_CAFILE"),
        ("ssl", {"KAFKA_SSL_CERTFILE": "", "KAFKA_SSL_KEYFILE": ""}, "KAFKA_SSL_CERTFILE"),
        (
            "sasl_ssl",
            {
                "KAFKA_SECURITY_PROTOCOL": "PLAINTEXT",
                "KAFKA_SASL_MECHANISM": "",
                "KAFKA_SASL_USERNAME": "",
                "KAFKA_SASL_PASSWORD_FILE": "",
                "KAFKA_SSL_CAFILE": "",
            },
            "KAFKA_SECURITY_PROTOCOL=PLAINTEXT",
        ),
    ],
)
async def test_a_wrong_setting_is_named_in_the_lookup_error(
    secured: SecuredStack, listener: str, change: dict[str, str], named: str
) -> None:
    files = {"other-ca.crt": secured.file("other-ca.crt")}
    env = {**secured.kafka_env(listener), **{k: files.get(v, v) for k, v in change.items()}}
    with pytest.raises(KafkaLookupError, match=named) as failed:
        async with KafkaInspector(
            secured.brokers(listener), security=KafkaSecurity.from_env(env), timeout=8
        ):
            pass
    for password in secured.passwords():
        assert password not in str(failed.value)
