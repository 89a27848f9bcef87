"""The first admin account: from the environment, or generated and shown once."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from router.appkeys import STORE
from router.config import Settings
from router.server.app import create_app
from tests.agents_ui.conftest import login
from tests.conftest import ADMIN_PASSWORD, AppClient


async def test_admin_is_seeded_from_the_environment(make_client: AppClient, capfd: pytest.CaptureFixture[str]
                                                    ) -> None:
    client = await make_client()
    creds = await client.app[STORE].agent_credentials("admin")
    assert creds is not None and creds[0].role == "admin" and creds[1].startswith("$argon2id$")
    assert ADMIN_PASSWORD not in creds[1]
    await login(client, "admin", ADMIN_PASSWORD)
    assert "password" not in capfd.readouterr().err


async def test_a_generated_password_is_shown_once_on_stderr_and_never_logged(
    make_client: AppClient, settings: Settings, monkeypatch: pytest.MonkeyPatch,
    capfd: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.delenv("OMNIROUTER_ADMIN_PASSWORD")
    caplog.set_level(logging.DEBUG)
    client = await make_client()
    err = capfd.readouterr().err
    box = [line for line in err.splitlines() if line.startswith(("+", "|"))]
    assert box[0] == box[-1] and set(box[0]) == {"+", "-"} and len(box) == 6
    password = next(line for line in box if "Its password:" in line).split(":", 1)[1].strip(" |")
    assert len(password) >= 16
    assert "generated password" in caplog.text and password not in caplog.text
    await login(client, "admin", password)
    await client.close()

    # a restart finds the account: nothing shown, the password unchanged
    again = await make_client()
    assert capfd.readouterr().err == ""
    await login(again, "admin", password)


async def test_the_environment_does_not_change_an_existing_admin(
    make_client: AppClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    await (await make_client()).close()
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", "another password")
    client = await make_client()
    await login(client, "admin", ADMIN_PASSWORD)


@pytest.mark.real_password_hashing  # argon2 at its production cost: the seeding takes a while
async def test_a_login_as_the_first_start_seeds_the_admin_waits_for_the_account(
    aiohttp_client: Callable[..., Awaitable[TestClient[web.Request, web.Application]]],
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the port answers before the admin's password is hashed; the first login must not be refused for that
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    client = await aiohttp_client(create_app(settings, base_dir=tmp_path))
    await login(client, "admin", ADMIN_PASSWORD)
