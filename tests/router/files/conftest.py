from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.fakes.s3_server import FakeS3


@pytest.fixture(scope="session")
def s3_server() -> Iterator[FakeS3]:
    server = FakeS3()
    server.start()
    yield server
    server.stop()
