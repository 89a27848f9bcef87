"""What webhooks need from a store, and no more. ``Store`` inherits it.

Subscriptions are an admin's rows. Deliveries are the webhooks' own durable
outbox: ``enqueue_webhooks`` writes one row per event and matching active
subscription, keyed by (subscription, event id) so an event queued twice (a
retried write whose first try committed) is delivered once. Only the node
that published an event queues it (``router.webhooks.service.WebhookTap``),
so an event relayed from another node is never queued again.

Several nodes send from one table: a delivery is claimed (leased to one node
until a deadline) and only its lease holder finishes it. A delivery is
claimable only while it is the first unfinished one of its subscription and
``order_key``: a conversation's later events wait for an earlier one to be
sent or dead-lettered.

Every method is one atomic step; errors are ``router.store``'s (``NotFound``,
``StoreUnavailable``, ``LeaseLost``...)."""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Collection
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

from router.webhooks.types import DeliveryReason, Outgoing, Queued, Subscription, WebhookDelivery


@dataclass(frozen=True, slots=True)
class WebhookClaim:
    deliveries: list[Outgoing] = field(default_factory=list)
    # when a delivery not claimable now may become so; None: nothing waits
    next_due: datetime | None = None


class WebhookStore(Protocol):
    @abstractmethod
    async def create_webhook(self, subscription: Subscription, secret: str) -> None:
        """Single statement: an INSERT."""

    @abstractmethod
    async def update_webhook(self, subscription: Subscription) -> Subscription:
        """Its url, events, description, active and allow_private as given
        (``NotFound`` when there is none). Single statement: an UPDATE."""

    @abstractmethod
    async def rotate_webhook_secret(self, subscription_id: str, secret: str, now: datetime) -> None:
        """Deliveries from now on are signed with ``secret`` (``NotFound``).
        Single statement: an UPDATE."""

    @abstractmethod
    async def delete_webhook(self, subscription_id: str) -> None:
        """The subscription and its deliveries, sent or not (``NotFound``).
        Lock: PostgreSQL: the deliveries' rows by their DELETE, then the
        subscription's, in one transaction."""

    @abstractmethod
    async def get_webhook(self, subscription_id: str) -> Subscription:
        """``NotFound`` when there is none."""

    @abstractmethod
    async def list_webhooks(self) -> list[Subscription]:
        """Every subscription, oldest first."""

    @abstractmethod
    async def subscribed_event_types(self) -> frozenset[str]:
        """The event types some active subscription listens to."""

    @abstractmethod
    async def enqueue_webhooks(self, events: list[Queued], now: datetime) -> int:
        """One delivery per event and active subscription to its type, in the
        order given; an (event, subscription) queued already is skipped. The
        number of deliveries written.

        Single statement per event: ``INSERT ... SELECT ... ON CONFLICT
        (subscription_id, event_id) DO NOTHING``, all in one transaction."""

    @abstractmethod
    async def claim_webhooks(self, node: str, limit: int, now: datetime, lease: timedelta,
                             skip: Collection[str] = ()) -> WebhookClaim:
        """Lease to ``node`` until ``now + lease`` up to ``limit`` deliveries,
        oldest first, each due, not leased (never leased, or its lease run
        out: a node that died; ``node`` is unique to a process, so what it
        holds is never claimed again while it sends it), not of a subscription
        in ``skip`` (the sender's receivers that have all the sends they may)
        and the first pending one of its subscription and order key.

        Lock: PostgreSQL: the claimable rows ``FOR UPDATE SKIP LOCKED`` (two
        nodes claiming at once take different deliveries, never wait), then
        their UPDATE in the same transaction; that a delivery is the first
        pending of its key is read from the statement's snapshot (a delivery
        only ever leaves the pending ones). SQLite: one unit on its writer."""

    @abstractmethod
    async def webhook_sent(self, delivery_id: str, status: int, now: datetime, node: str | None) -> None:
        """The receiver answered 2xx. ``LeaseLost`` when ``node`` does not hold it.
        Single statement: a conditional UPDATE of the delivery held by ``node``."""

    @abstractmethod
    async def webhook_retry(self, delivery_id: str, attempts: int, next_attempt_at: datetime, error: str,
                            status: int | None, node: str | None, reason: DeliveryReason | None = None) -> None:
        """Failed; tried again at ``next_attempt_at``, the lease given up.
        ``LeaseLost`` when ``node`` does not hold it.
        Single statement: a conditional UPDATE of the delivery held by ``node``."""

    @abstractmethod
    async def webhook_dead(self, delivery_id: str, attempts: int, reason: str, status: int | None,
                           now: datetime, node: str | None, code: DeliveryReason | None = None) -> None:
        """Given up with ``reason``: the dead letter; its key's later deliveries
        may go. ``LeaseLost`` when ``node`` does not hold it.
        Single statement: a conditional UPDATE of the delivery held by ``node``."""

    @abstractmethod
    async def redeliver_webhook(self, delivery_id: str, now: datetime) -> WebhookDelivery:
        """A finished delivery (sent or dead) pending again, due now, its
        attempts from zero (``NotFound``; ``ConflictError`` while it is pending).
        Single statement: a conditional UPDATE."""

    @abstractmethod
    async def list_webhook_deliveries(self, subscription_id: str | None, status: str | None,
                                      limit: int) -> list[WebhookDelivery]:
        """The latest deliveries, newest first, of one subscription or all, of one status or all."""

    @abstractmethod
    async def prune_webhook_deliveries(self, before: datetime) -> int:
        """Sent deliveries finished before ``before`` deleted (dead letters stay
        until an admin redelivers them or deletes the subscription); how many.
        Single statement: a DELETE."""
