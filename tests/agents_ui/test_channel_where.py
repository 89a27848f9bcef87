"""Each channel says where a sentence sends something by it (GET /api/channels passes it on): the console's
«Ответить по почте», "Reply in the site chat" (a name glued after «через» read «через почта»)."""

from __future__ import annotations

from connectors.email import EmailConnector
from connectors.telegram import TelegramConnector
from connectors.twilio import _LABELS as TWILIO_LABELS
from connectors.vk import VkConnector
from connectors.webchat import WebChatConnector


def test_every_channels_where_reads_right_after_a_verb() -> None:
    """«Ответить {where}», "Reply {where}": each connector's own `where` is a phrase of its own preposition."""
    labels = [EmailConnector.LABEL, TelegramConnector.LABEL, VkConnector.LABEL, WebChatConnector.LABEL,
              *TWILIO_LABELS.values()]
    for label in labels:
        assert label.where["ru"].split()[0] in {"в", "во", "по", "на"}, label
        assert label.where["en"].split()[0] in {"in", "on", "by"}, label
