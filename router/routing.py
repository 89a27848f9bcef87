"""The routing step of the pipeline. Until the YAML rules engine lands, every
new conversation queues to the configured default team."""

from __future__ import annotations

from typing import Protocol

from router.config import RoutingConfig
from router.models import ConversationStatus, Customer, Message, RouteDecision


class Routing(Protocol):
    def decide(self, message: Message, customer: Customer) -> RouteDecision: ...


class DefaultTeamRouting:
    def __init__(self, config: RoutingConfig) -> None:
        self.config = config

    def decide(self, message: Message, customer: Customer) -> RouteDecision:
        return RouteDecision(
            status=ConversationStatus.QUEUED,
            team=self.config.default_team,
            priority=self.config.default_priority,
            reason=f"no rules configured: default team {self.config.default_team!r}",
        )
