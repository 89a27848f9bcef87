"""``omnirouter agents set-password``: a lost password is reset from the
terminal, with the service stopped or running, and nothing else changes."""

from __future__ import annotations

import asyncio
import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from router.accounts.service import check_login, hash_password
from router.cli import main
from router.config import Settings
from router.models import Role
from router.server.app import DATABASE_URL
from router.store.postgres import PostgresStore
from router.store.sqlite import SQLiteStore
from tests.agents_ui.conftest import login
from tests.conftest import ADMIN_PASSWORD, AppClient, sqlite_only

NEW = "a new password 42"


def config_for(folder: Path, db: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "omnirouter.yaml").write_text(f"store: {{path: '{db}', writer: thread}}\n", encoding="utf-8")
    return folder


@pytest.fixture
async def db(tmp_path: Path) -> Path:
    """A stopped service's store with the admin account."""
    path = tmp_path / "var" / "omnirouter.db"
    async with SQLiteStore(path) as store:
        await store.create_agent("admin", "Administrator", Role.ADMIN, await hash_password(ADMIN_PASSWORD))
    return path


async def logs_in(db: Path, username: str, password: str) -> bool:
    async with SQLiteStore(db) as store:
        return await check_login(store, username, password) is not None


def run_cli(argv: list[str], stdin: str, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    return main(argv)


async def test_the_password_is_set_from_stdin_while_the_service_is_stopped(
    tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = config_for(tmp_path / "config", db)
    code = await asyncio.to_thread(run_cli, ["agents", "set-password", "admin", "--config", str(folder)],
                                   NEW + "\n", monkeypatch)
    assert code == 0, capsys.readouterr().err
    assert "the password of 'admin' is set" in capsys.readouterr().out
    assert await logs_in(db, "admin", NEW)
    assert not await logs_in(db, "admin", ADMIN_PASSWORD)


async def test_on_a_terminal_it_asks_twice_and_refuses_a_mismatch(
    tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = config_for(tmp_path / "config", db)
    answers = iter([NEW, NEW + "x"])
    monkeypatch.setattr("getpass.getpass", lambda prompt="": next(answers))
    monkeypatch.setattr(sys, "stdin", io.StringIO())
    monkeypatch.setattr(sys.stdin, "isatty", lambda: True)
    assert await asyncio.to_thread(main, ["agents", "set-password", "admin", "--config", str(folder)]) == 1
    assert "the two passwords differ; nothing was changed" in capsys.readouterr().err
    assert await logs_in(db, "admin", ADMIN_PASSWORD)
    answers = iter([NEW, NEW])
    assert await asyncio.to_thread(main, ["agents", "set-password", "admin", "--config", str(folder)]) == 0
    assert await logs_in(db, "admin", NEW)


async def test_from_an_environment_variable_for_scripts(
    tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = config_for(tmp_path / "config", db)
    argv = ["agents", "set-password", "admin", "--config", str(folder), "--password-env", "NEW_PW"]
    assert await asyncio.to_thread(run_cli, argv, "", monkeypatch) == 1
    assert "the environment variable NEW_PW is not set" in capsys.readouterr().err
    monkeypatch.setenv("NEW_PW", NEW)
    assert await asyncio.to_thread(run_cli, argv, "", monkeypatch) == 0
    assert await logs_in(db, "admin", NEW)


@pytest.mark.parametrize(("username", "password", "error"), [
    ("root", NEW, "no console account 'root' (accounts: admin); nothing was changed"),
    ("admin", "short", "the password is shorter than 8 characters; nothing was changed"),
    ("admin", "", "the password is shorter than 8 characters"),
    # the console's own rule, which the command line did not apply
    ("admin", "11111111", "the password repeats too few characters: use at least 4 different ones; nothing was "
                          "changed"),
    ("admin", "Administrator", "the password must not be the username or the name; nothing was changed"),
])
async def test_bad_input_is_refused_and_changes_nothing(
    tmp_path: Path, db: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str],
    username: str, password: str, error: str,
) -> None:
    folder = config_for(tmp_path / "config", db)
    argv = ["agents", "set-password", username, "--config", str(folder)]
    assert await asyncio.to_thread(run_cli, argv, password + "\n", monkeypatch) == 1
    assert error in capsys.readouterr().err
    assert await logs_in(db, "admin", ADMIN_PASSWORD)


def test_without_a_store_it_says_so_and_creates_none(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    db = tmp_path / "var" / "omnirouter.db"
    folder = config_for(tmp_path / "config", db)
    assert run_cli(["agents", "set-password", "admin", "--config", str(folder)], NEW + "\n", monkeypatch) == 1
    assert f"no store at {db}: start the service once" in capsys.readouterr().err
    assert not db.parent.exists()


async def set_password_elsewhere(folder: Path, password: str) -> str:
    """``omnirouter agents set-password admin`` in another process, as from a
    second terminal, while the service holds the store open; what it printed."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "agents", "set-password", "admin", "--config", str(folder),
        "--password-env", "NEW_PW", env={**os.environ, "NEW_PW": password}, stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), 120)  # a hang detector, not a speed limit
    assert proc.returncode == 0, err.decode()
    return out.decode()


@sqlite_only("test_on_postgresql_the_password_is_set_in_the_database, below")
async def test_while_the_service_runs_the_new_password_works_at_once_and_old_sessions_end(
    make_client: AppClient, settings: Settings, tmp_path: Path
) -> None:
    client = await make_client()
    await login(client)
    assert (await client.get("/api/me")).status == 200
    folder = config_for(tmp_path / "config", Path(settings.store.path))
    assert "1 console session of it ended" in await set_password_elsewhere(folder, NEW)
    assert (await client.get("/api/me")).status == 401
    bad = await client.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    assert bad.status == 401
    await login(client, "admin", NEW)


@sqlite_only("the SQLite store's files alone are shared between processes")
async def test_while_the_service_runs_every_later_password_works_too(
    make_client: AppClient, settings: Settings, tmp_path: Path
) -> None:
    """The first command's close once took the running service's WAL with it (the
    service's check of the files' flags had dropped its locks on them), so the
    service went on in a WAL of its own nobody else saw: the second password set
    while it ran never reached its logins, nor its writes the database file."""
    client = await make_client()
    await login(client)
    folder = config_for(tmp_path / "config", Path(settings.store.path))
    for password in (NEW, NEW + " again", NEW + " and again"):
        await set_password_elsewhere(folder, password)
        assert await asyncio.to_thread(os.path.exists, f"{settings.store.path}-wal")
        await login(client, "admin", password)


async def test_on_postgresql_the_password_is_set_in_the_database(
    tmp_path: Path, pg_database: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    async with PostgresStore(pg_database) as store:
        await store.create_agent("admin", "Administrator", Role.ADMIN, await hash_password(ADMIN_PASSWORD))
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "omnirouter.yaml").write_text("store: {backend: postgres}\n", encoding="utf-8")
    monkeypatch.setenv(DATABASE_URL, pg_database)
    argv = ["agents", "set-password", "admin", "--config", str(folder)]
    assert await asyncio.to_thread(run_cli, argv, NEW + "\n", monkeypatch) == 0, capsys.readouterr().err
    async with PostgresStore(pg_database) as store:
        assert await check_login(store, "admin", NEW) is not None
        assert await check_login(store, "admin", ADMIN_PASSWORD) is None
    monkeypatch.setenv(DATABASE_URL, "postgresql://postgres@127.0.0.1:1/nowhere")  # nobody listens on port 1
    assert await asyncio.to_thread(run_cli, argv, NEW + "\n", monkeypatch) == 1
    assert "the store failed: the database cannot be reached" in capsys.readouterr().err
