"""How channels are named to people: each connector type's own name (the
Twilio connector's by its flavour), or the section's ``label``; the app
gives the core every running connector's label."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from connectors import connector_class
from router.appkeys import ROUTER
from router.config import ConnectorConfig, Settings
from router.server.app import create_app

SITE_LABEL = {"name": {"ru": "чат поддержки", "en": "support chat"},
              "where": {"ru": "в чате поддержки", "en": "in the support chat"}}


def test_a_section_may_name_its_channel_and_must_give_both_forms() -> None:
    cls = connector_class("webchat")
    assert cls.parse_options({"label": SITE_LABEL}).label is not None
    with pytest.raises(ValidationError, match="where"):
        cls.parse_options({"label": {"name": {"ru": "чат"}}})
    with pytest.raises(ValidationError):
        cls.parse_options({"label": {"name": {"de": "Chat"}, "where": {"de": "im Chat"}}})


def test_the_app_gives_the_core_each_channels_label(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OMNIROUTER_TWILIO_ACCOUNT_SID", "AC" + "0" * 32)
    monkeypatch.setenv("OMNIROUTER_TWILIO_AUTH_TOKEN", "f" * 32)
    settings = Settings()
    settings.store.path = str(tmp_path / "labels.db")
    settings.server.public_url = "https://support.example.com"
    settings.connectors["site"] = ConnectorConfig.model_validate({"type": "webchat", "label": SITE_LABEL})
    settings.connectors["wa"] = ConnectorConfig(type="twilio", flavour="whatsapp", from_number="+14155238886")
    settings.connectors["text"] = ConnectorConfig(type="twilio", flavour="sms", from_number="+15005550006")
    labels = create_app(settings, base_dir=tmp_path)[ROUTER].channel_labels
    assert labels["webchat"].name == {"ru": "чат на сайте", "en": "site chat"}
    assert labels["webchat"].where == {"ru": "в чате на сайте", "en": "in the site chat"}
    assert labels["site"].where["en"] == "in the support chat"
    assert (labels["wa"].name["en"], labels["wa"].where["ru"]) == ("WhatsApp", "в WhatsApp")
    assert (labels["text"].name["en"], labels["text"].where["ru"]) == ("SMS", "по SMS")
