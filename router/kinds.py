"""Names that the command line must know before anything heavy is imported
(``omnirouter rules explain --attachment``, the config files' names): plain
Python, no pydantic."""

from __future__ import annotations

from typing import Literal

AttachmentKind = Literal["image", "document", "audio", "video", "sticker", "location", "other"]

RULES_FILE = "rules.yaml"
TEAMS_FILE = "teams.yaml"
