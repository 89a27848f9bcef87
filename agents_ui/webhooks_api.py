"""Console API of outbound webhooks (admins only): subscriptions, their
secret (shown once, at creation and at each rotation), recent deliveries
and dead letters, and redelivery. ``router.webhooks.service`` holds the
rules; this turns them into HTTP."""

from __future__ import annotations

from typing import Literal

from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from agents_ui.endpoints import ApiError, endpoint
from agents_ui.schemas import Query
from router.agents.service import Permission
from router.appkeys import STORE, WEBHOOKS
from router.webhooks.guard import UrlRefused
from router.webhooks.signing import EVENT_ID_HEADER, SIGNATURE_HEADER
from router.webhooks.types import EVENT_TYPES, EventType, Subscription, WebhookDelivery

# the subscriptions send customers' data out: an integration's right, as the CRM's writes are
_INTEGRATIONS = Permission.MANAGE_INTEGRATIONS

_URL_ERRORS = ((422, "the URL is not an absolute http(s) URL to a valid host name or IP and port, or carries a user "
                     "(webhook_url_invalid)"),
               (400, "the URL does not resolve (webhook_url_unresolvable), or points to a loopback, private or "
                     "link-local address and private addresses are not allowed for it (webhook_url_private)"))


class _Fields(BaseModel):
    model_config = ConfigDict(extra="forbid")


class NewSubscription(_Fields):
    url: str = Field(min_length=1, max_length=2000, description="where events are POSTed: http(s)://...")
    events: list[EventType] = Field(min_length=1, description="the event types it gets")
    description: str = Field("", max_length=200, description="for people: what listens there")
    allow_private: bool = Field(False, description="may reach a loopback, private or link-local address")


class SubscriptionChanges(_Fields):
    url: str | None = Field(None, min_length=1, max_length=2000)
    events: list[EventType] | None = Field(None, min_length=1)
    description: str | None = Field(None, max_length=200)
    active: bool | None = None
    allow_private: bool | None = None


class SubscriptionsOut(BaseModel):
    subscriptions: list[Subscription]
    event_types: list[str] = Field(description="every event type a subscription can get")
    signature_header: str
    event_id_header: str


class SubscriptionOut(BaseModel):
    subscription: Subscription


class CreatedOut(BaseModel):
    subscription: Subscription
    secret: str = Field(description="signs every delivery: shown this once, keep it")


class SecretOut(BaseModel):
    secret: str = Field(description="the new secret, shown this once; deliveries are signed with it from now on")


class DeliveriesQuery(Query):
    subscription: str | None = Field(None, max_length=64)
    status: Literal["pending", "sent", "dead"] | None = None
    limit: int = Field(50, ge=1, le=500)


class DeliveriesOut(BaseModel):
    deliveries: list[WebhookDelivery]


class DeliveryOut(BaseModel):
    delivery: WebhookDelivery


def _refused(exc: UrlRefused) -> ApiError:
    status = 422 if exc.code == "webhook_url_invalid" else 400  # malformed input, checked before any address
    return ApiError(status, exc.code, str(exc), details={"host": exc.host})


@endpoint("GET", "/api/webhooks", "Every webhook subscription (admins)", response=SubscriptionsOut,
          permission=_INTEGRATIONS)
async def list_webhooks(request: web.Request, _: None) -> SubscriptionsOut:
    return SubscriptionsOut(subscriptions=await request.app[STORE].list_webhooks(), event_types=list(EVENT_TYPES),
                            signature_header=SIGNATURE_HEADER, event_id_header=EVENT_ID_HEADER)


@endpoint("POST", "/api/webhooks", "Subscribe a URL to event types; the answer holds its secret, shown once",
          body=NewSubscription, response=CreatedOut, status=201, permission=_INTEGRATIONS, errors=_URL_ERRORS)
async def create_webhook(request: web.Request, body: NewSubscription) -> CreatedOut:
    try:
        subscription, secret = await request.app[WEBHOOKS].subscribe(
            body.url.strip(), list(body.events), body.description.strip(), body.allow_private)
    except UrlRefused as exc:
        raise _refused(exc) from None
    return CreatedOut(subscription=subscription, secret=secret)


@endpoint("PATCH", "/api/webhooks/{id}", "Change a subscription: URL, events, description, active, private addresses",
          body=SubscriptionChanges, response=SubscriptionOut, permission=_INTEGRATIONS, errors=_URL_ERRORS)
async def update_webhook(request: web.Request, body: SubscriptionChanges) -> SubscriptionOut:
    changes = body.model_dump(exclude_none=True)
    if "url" in changes:
        changes["url"] = changes["url"].strip()
    try:
        saved = await request.app[WEBHOOKS].update(request.match_info["id"], changes)
    except UrlRefused as exc:
        raise _refused(exc) from None
    return SubscriptionOut(subscription=saved)


@endpoint("POST", "/api/webhooks/{id}/secret", "A new secret for a subscription, shown once (the old one stops)",
          response=SecretOut, permission=_INTEGRATIONS)
async def rotate_webhook_secret(request: web.Request, _: None) -> SecretOut:
    return SecretOut(secret=await request.app[WEBHOOKS].rotate_secret(request.match_info["id"]))


@endpoint("DELETE", "/api/webhooks/{id}", "Delete a subscription and its deliveries", status=204,
          permission=_INTEGRATIONS)
async def delete_webhook(request: web.Request, _: None) -> None:
    await request.app[WEBHOOKS].delete(request.match_info["id"])


@endpoint("GET", "/api/webhooks/deliveries", "Recent deliveries, newest first: of one subscription or all, of one "
          "status (pending, sent, dead: the dead letters, each with its reason) or all", query=DeliveriesQuery,
          response=DeliveriesOut, permission=_INTEGRATIONS)
async def webhook_deliveries(request: web.Request, query: DeliveriesQuery) -> DeliveriesOut:
    return DeliveriesOut(deliveries=await request.app[STORE].list_webhook_deliveries(
        query.subscription, query.status, query.limit))


@endpoint("POST", "/api/webhooks/deliveries/{id}/redeliver", "Send a finished delivery (a dead letter) again, "
          "from its first attempt, with the same event id", response=DeliveryOut, permission=_INTEGRATIONS,
          errors=((409, "it is still pending"),))
async def redeliver_webhook(request: web.Request, _: None) -> DeliveryOut:
    return DeliveryOut(delivery=await request.app[WEBHOOKS].redeliver(request.match_info["id"]))


__all__ = ["create_webhook", "delete_webhook", "list_webhooks", "redeliver_webhook", "rotate_webhook_secret",
           "update_webhook", "webhook_deliveries"]
