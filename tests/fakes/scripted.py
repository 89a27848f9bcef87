"""A platform whose behaviour a test scripts: what the outbox sees of a real
connector whose API answers with errors, 429s or successes."""

from __future__ import annotations

from collections import deque

from router.connector import Connector, ConnectorHost, ConnectorOptions, DeliveryError, SendProgress, SendResult
from router.models import OutboundMessage


class ScriptedPlatform(Connector[ConnectorOptions]):
    type_name = "scripted"

    def __init__(self, name: str = "scripted", host: ConnectorHost | None = None) -> None:
        super().__init__(name, ConnectorOptions(), host)  # type: ignore[arg-type]
        self.failures: deque[DeliveryError] = deque()
        self.delivered: list[OutboundMessage] = []
        self.attempts: list[OutboundMessage] = []

    def fail_next(self, *errors: DeliveryError) -> None:
        self.failures.extend(errors)

    async def send(self, message: OutboundMessage, progress: SendProgress | None = None) -> SendResult:
        self.attempts.append(message)
        if self.failures:
            raise self.failures.popleft()
        self.delivered.append(message)
        return SendResult(external_id=f"ext-{len(self.delivered)}")
