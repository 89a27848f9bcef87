"""Platform connectors, each implementing the core's contract
(``router/connector.py``). Nothing in the core imports this package: the
composition root (``router/server/``) builds connectors from this registry."""

from __future__ import annotations

import importlib
from typing import Any

from router.connector import Connector

# Connector type (as written in config) -> "module:Class". Imported lazily so a
# deployment without, say, Telegram never imports aiogram.
CONNECTOR_TYPES: dict[str, str] = {
    "webchat": "connectors.webchat:WebChatConnector",
    "telegram": "connectors.telegram:TelegramConnector",
    "vk": "connectors.vk:VkConnector",
    "twilio": "connectors.twilio:TwilioConnector",
    "email": "connectors.email:EmailConnector",
}


class UnknownConnectorType(ValueError):
    pass


def connector_class(type_name: str) -> type[Connector[Any]]:
    try:
        target = CONNECTOR_TYPES[type_name]
    except KeyError:
        known = ", ".join(sorted(CONNECTOR_TYPES))
        raise UnknownConnectorType(f"unknown connector type {type_name!r} (known: {known})") from None
    module_name, _, class_name = target.partition(":")
    cls = getattr(importlib.import_module(module_name), class_name)
    if not (isinstance(cls, type) and issubclass(cls, Connector)):
        raise TypeError(f"{target} is not a Connector")
    return cls
