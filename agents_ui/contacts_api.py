"""Console API of "know me": how each channel is named, and a customer's
last contact on each channel (when, and what it was about)."""

from __future__ import annotations

from aiohttp import web
from pydantic import BaseModel

from agents_ui.endpoints import endpoint
from agents_ui.schemas import LastContact
from router.appkeys import ROUTER, STORE
from router.identity.store import CustomerStore


def _store(app: web.Application) -> CustomerStore:
    """Of the store, a customer's last contacts only (the identity slice's)."""
    return app[STORE]


class ChannelOut(BaseModel):
    name: str
    # per language
    label: dict[str, str]
    # per language, as a sentence says where («по почте», «в чате на сайте»; "by email", "in the site chat"):
    # «Ответить через почта» glued the name where Russian declines it
    where: dict[str, str]


class ChannelList(BaseModel):
    channels: list[ChannelOut]


def channel_label(app: web.Application, channel: str) -> dict[str, str]:
    label = app[ROUTER].channel_labels.get(channel)
    return {str(lang): text for lang, text in label.name.items()} if label is not None else {"en": channel}


def channel_where(app: web.Application, channel: str) -> dict[str, str]:
    label = app[ROUTER].channel_labels.get(channel)
    return {str(lang): text for lang, text in label.where.items()} if label is not None else {"en": channel}


async def last_contacts(app: web.Application, customer_id: str) -> list[LastContact]:
    intents = app[ROUTER].bot_intents
    found = []
    for contact in await _store(app).last_contacts(customer_id):
        intent = intents.get(contact.intent) if contact.intent is not None else None
        found.append(LastContact(**contact.model_dump(), label=channel_label(app, contact.channel),
                                 topic=dict(intent.title) if intent is not None else None))
    return found


@endpoint("GET", "/api/channels", "The channels that run, each with its name for people per language",
          response=ChannelList)
async def channels(request: web.Request, _: None) -> ChannelList:
    names = request.app[ROUTER].channel_labels
    app = request.app
    return ChannelList(channels=[ChannelOut(name=n, label=channel_label(app, n), where=channel_where(app, n))
                                 for n in sorted(names)])
