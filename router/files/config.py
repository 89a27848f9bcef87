"""The ``files:`` section of omnirouter.yaml."""

from __future__ import annotations

import os
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

# shown inline in the console and the widget; anything else is only downloaded
INLINE_TYPES = frozenset({"image/jpeg", "image/png", "image/gif", "image/webp"})

DEFAULT_TYPES = [
    "image/jpeg", "image/png", "image/gif", "image/webp",
    "application/pdf", "text/plain",
    # office documents (ZIP containers the sniffer names by their contents)
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/msword", "application/vnd.ms-excel",
    "application/zip",
    "audio/mpeg", "audio/ogg", "audio/mp4", "video/mp4", "video/webm",
]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid")


class S3Config(_Section):
    """An S3-compatible bucket (AWS, MinIO, Ceph, Yandex Object Storage…). The
    keys are read from the environment variables named here, never from YAML."""

    bucket: str = Field(min_length=3, max_length=63)
    endpoint_url: str | None = None
    region: str = "us-east-1"
    # keys are <prefix><file id>: several installations may share a bucket
    prefix: str = "omnirouter/"
    access_key_env: str = "OMNIROUTER_S3_ACCESS_KEY"
    secret_key_env: str = "OMNIROUTER_S3_SECRET_KEY"

    def credentials(self) -> tuple[str | None, str | None]:
        return os.environ.get(self.access_key_env) or None, os.environ.get(self.secret_key_env) or None


class FilesConfig(_Section):
    # "folder": on this node's disk (one node); "s3": a bucket every node shares
    backend: Literal["folder", "s3"] = "folder"
    folder: str = "var/files"
    s3: S3Config | None = None
    # per file; Telegram takes up to 50 MB from a bot, VK's documents 200 MB
    max_bytes: int = Field(20 * 1024**2, gt=0, le=1024**3)
    # content types as sniffed from the bytes (the client's claim is never trusted)
    allowed_types: list[str] = Field(default_factory=lambda: list(DEFAULT_TYPES), min_length=1)
    # how long a link handed to a platform (Twilio's MediaUrl) or a visitor stays valid
    link_seconds: int = Field(7 * 24 * 3600, ge=60)
    # a file no message refers to (an agent's upload never sent) is deleted after this many hours
    unreferenced_hours: float = Field(24, gt=0)

    @model_validator(mode="after")
    def _bucket_given(self) -> FilesConfig:
        if self.backend == "s3" and self.s3 is None:
            raise ValueError("files.backend is s3: give files.s3.bucket (and endpoint_url for a non-AWS server)")
        return self
