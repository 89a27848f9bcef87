"""The site chat's options: the ``connectors.webchat`` section of
``config/omnirouter.yaml`` (README.md, "Embedding the site chat")."""

from __future__ import annotations

from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, Field

from connectors.chat_limits import rate
from connectors.webchat_widget import Prechat, Title
from router.connector import ConnectorOptions, Language, Localized


def _origin(value: str) -> str:
    """Normalise ``https://Shop.example/`` to ``https://shop.example``, the
    form browsers send in the Origin header."""
    parts = urlsplit(value.strip())
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.path not in ("", "/"):
        raise ValueError(f"{value!r} is not an origin like https://shop.example")
    if parts.query or parts.fragment:
        raise ValueError(f"{value!r} is not an origin like https://shop.example")
    return f"{parts.scheme}://{parts.netloc}".lower()


class WebChatOptions(ConnectorOptions):
    # empty: any site may embed the chat; otherwise only these origins
    allowed_origins: list[Annotated[str, AfterValidator(_origin)]] = Field(default_factory=list)
    # unset: the widget's own, in the customer's language («Напишите нам», "Chat with us");
    # one text, or one per language ({ru: ..., en: ...})
    title: Title | dict[Language, Title] | None = None
    # the first words of an empty chat, per language; unset: the widget's own
    # («Здравствуйте! Чем можем помочь?»); false: none
    greeting: Localized | Literal[False] | None = None
    # what a new visitor is asked before their first message (name, phone, email)
    prechat: Prechat = Field(default_factory=Prechat)
    # per visitor, over a moving window: a person never types this fast, a
    # script flooding the store and the agents' screens does
    rate_limit: Annotated[str, AfterValidator(rate)] = "20/minute"
    # per client address too (behind a proxy, see server.trusted_proxies):
    # visitor tokens are free, so a script could mint one per socket. Sized
    # for an office or a campus behind one NAT: 30 people opening the chat
    # for the first time within a minute, or 5 messages a second between
    # them, is far beyond what one address sends a contact centre.
    new_visitors_per_address: Annotated[str, AfterValidator(rate)] = "30/minute"
    rate_limit_per_address: Annotated[str, AfterValidator(rate)] = "300/minute"
    # sockets open at once: each holds one of the process's file descriptors, and one client
    # holding them all shut out every other visitor and /healthz. Per address (as above), sized
    # for an office behind one NAT with the shop open in a hundred tabs; per visitor token
    # (which one client may send from many addresses), a person's tabs.
    sockets_per_address: Annotated[int, Field(gt=0)] = 100
    sockets_per_visitor: Annotated[int, Field(gt=0)] = 20
    # frames of any kind one socket may send: the widget sends a ping every 25 s, a typing frame
    # every 2.5 s while the visitor types, and their messages (again, those still pending, after
    # a reconnect); a socket over it is no widget and is closed, not answered frame by frame
    frames_per_socket: Annotated[str, AfterValidator(rate)] = "300/minute"
    # bytes of files a visitor (and an address) may send per hour: uploads cannot fill the disk
    file_bytes_per_hour: Annotated[int, Field(gt=0)] = 50 * 1024**2
    file_bytes_per_hour_per_address: Annotated[int, Field(gt=0)] = 200 * 1024**2
    # the widget says hello as soon as its socket opens; a socket that stays
    # silent is no widget and only holds a connection
    hello_timeout: Annotated[float, Field(gt=0, le=3600)] = 30.0
