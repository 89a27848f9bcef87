"""The browser tests' own service: what it keeps at paths relative to where it runs
(files.folder's default var/files, ...) lands in the test's temporary folder, never in
the checkout the tests are run from (a var/files left behind there by every run)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.conftest import running_service, server_yaml


async def test_the_service_keeps_nothing_where_the_tests_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    checkout = tmp_path / "checkout"
    folder = tmp_path / "service"
    checkout.mkdir()
    folder.mkdir()
    monkeypatch.chdir(checkout)  # where pytest runs from
    async with running_service(folder, lambda port: server_yaml(port, folder)):
        # healthy: the files' folder (a default, relative path) is open by now
        assert (folder / "var" / "files").is_dir()
    assert list(checkout.iterdir()) == []
