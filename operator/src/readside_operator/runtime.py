"""What the handlers share: the Kubernetes client, Kafka inspectors per cluster, settings."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

from readside_kafka import KafkaInspector, KafkaLookupError
from readside_operator.kube import Kube
from readside_operator.settings import OperatorSettings

log = logging.getLogger(__name__)


@dataclass(slots=True)
class Runtime:
    kube: Kube
    settings: OperatorSettings
    _inspectors: dict[str, KafkaInspector] = field(default_factory=dict)

    async def inspector(self, bootstrap_servers: str) -> KafkaInspector:
        """A started inspector for these brokers (KafkaLookupError when unreachable)."""
        found = self._inspectors.get(bootstrap_servers)
        if found is None:
            found = KafkaInspector(
                bootstrap_servers,
                timeout=self.settings.kafka_timeout_seconds,
                security=self.settings.kafka,
            )
            try:
                await found.start()
            except KafkaLookupError:
                await _quietly_close(found)
                raise
            self._inspectors[bootstrap_servers] = found
        return found

    async def forget(self, bootstrap_servers: str) -> None:
        """Drop a failing inspector: the next call connects afresh."""
        found = self._inspectors.pop(bootstrap_servers, None)
        if found is not None:
            await _quietly_close(found)

    async def close(self) -> None:
        for servers in list(self._inspectors):
            await self.forget(servers)
        await self.kube.close()


async def _quietly_close(inspector: KafkaInspector) -> None:
    try:
        await inspector.close()
    except Exception as exc:  # closing a broken connection may fail in many ways
        log.debug("closing the Kafka inspector: %r", exc)
