"""Fixtures shared by the test modules of one channel, split by topic: imported
here so that each module gets them without importing them itself."""

from tests.connectors.email_helpers import app, dovecot, mail_settings, mailbox, smtp  # noqa: F401  (fixtures)
from tests.connectors.test_telegram import tg_api  # noqa: F401  (fixtures)
from tests.connectors.twilio_helpers import tw, tw_settings, twilio_api  # noqa: F401  (fixtures)
from tests.connectors.two_channels import both  # noqa: F401  (fixtures)
