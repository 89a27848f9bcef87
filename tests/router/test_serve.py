"""``omnirouter run`` at the terminal: a taken port is one clear line and
changes nothing, and the listening line is logged when the port answers."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import socket
import sqlite3
import sys
from pathlib import Path

import aiohttp
import pytest

from router.store.migrations import MIGRATIONS
from tests.e2e.conftest import START_CEILING, free_port, wait_healthy

REPO = Path(__file__).resolve().parents[2]


def config_folder(tmp_path: Path) -> Path:
    """A config whose database and cache live under tmp_path/var."""
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "omnirouter.yaml").write_text(
        f"store:\n  path: {tmp_path / 'var' / 'omnirouter.db'}\n  writer: thread\n", encoding="utf-8")
    return folder


async def start(folder: Path, port: int) -> asyncio.subprocess.Process:
    env = {k: v for k, v in os.environ.items() if k != "OMNIROUTER_ADMIN_PASSWORD"}  # a generated one
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "run", "--config", str(folder), "--port", str(port),
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def listening_line(proc: asyncio.subprocess.Process) -> bytes:
    """The line that says the server listens, once it is written."""
    assert proc.stderr is not None
    async with asyncio.timeout(START_CEILING):
        while b"omnirouter on http://" not in (line := await proc.stderr.readline()):
            assert line, "omnirouter exited before it said it was listening"
    return line


async def test_a_port_in_use_is_one_line_and_creates_nothing(tmp_path: Path) -> None:
    folder = config_folder(tmp_path)
    with socket.create_server(("127.0.0.1", 0)) as taken:
        port = taken.getsockname()[1]
        proc = await start(folder, port)
        out, err = await asyncio.wait_for(proc.communicate(), START_CEILING)
    assert proc.returncode == 1
    lines = err.decode().strip().splitlines()
    assert lines == [f"omnirouter: 127.0.0.1:{port} is already in use: another program (or another omnirouter) "
                     "listens there; stop it, or use --port to choose another port"], err.decode()
    assert not out
    assert not (tmp_path / "var").exists()  # no database, no cache, no admin account

    # the admin account was not made either: the next start, on a free port, makes it and says its password
    port = free_port()
    proc = await start(folder, port)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), START_CEILING)
    assert proc.returncode == 0, err.decode()
    assert "omnirouter created the console account 'admin'." in err.decode()
    assert "Its password: " in err.decode()


async def test_the_listening_line_comes_when_the_port_answers(tmp_path: Path) -> None:
    port = free_port()
    proc = await start(config_folder(tmp_path), port)
    try:
        line = await listening_line(proc)
        assert f"omnirouter on http://127.0.0.1:{port} ".encode() in line
        # no retry: the line is true when it is written
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as resp:
            assert resp.status == 200
            assert (await resp.json())["status"] == "ok"
        assert b"started in " in line  # with where the time went
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), START_CEILING)
    assert proc.returncode == 0


async def test_the_server_runs_on_the_event_loop_its_config_names(tmp_path: Path) -> None:
    """libuv's loop (uvloop) by default, asyncio's own when ``server.event_loop: asyncio``: either serves."""
    for choice, expected in ((None, "uvloop"), ("asyncio", "asyncio")):
        (tmp_path / (choice or "default")).mkdir()
        folder = config_folder(tmp_path / (choice or "default"))
        if choice is not None:
            config = folder / "omnirouter.yaml"
            config.write_text(config.read_text(encoding="utf-8") + f"server:\n  event_loop: {choice}\n",
                              encoding="utf-8")
        port = free_port()
        proc = await start(folder, port)
        try:
            line = await listening_line(proc)
            assert line.decode().rstrip().endswith(f", on {expected}"), line
            async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as resp:
                assert resp.status == 200
        finally:
            proc.terminate()
            await asyncio.wait_for(proc.communicate(), START_CEILING)
        assert proc.returncode == 0


@pytest.mark.parametrize("writer", ["thread", "process"])
async def test_a_database_newer_than_this_omnirouter_is_one_line(tmp_path: Path, writer: str) -> None:
    """After a rollback (a newer release migrated the database, this one started
    again) the start died with a RuntimeError's 60-line traceback; ``db migrate``
    said it in one line, and so does ``run`` now, changing nothing."""
    database = tmp_path / "var" / "omnirouter.db"
    database.parent.mkdir()
    with contextlib.closing(sqlite3.connect(database)) as conn:
        conn.execute("PRAGMA user_version=99")
    folder = config_folder(tmp_path)
    (folder / "omnirouter.yaml").write_text(f"store:\n  path: {database}\n  writer: {writer}\n", encoding="utf-8")
    proc = await start(folder, free_port())
    _, err = await asyncio.wait_for(proc.communicate(), START_CEILING)
    assert proc.returncode == 1, err.decode()
    assert "Traceback" not in err.decode(), err.decode()
    assert err.decode().strip().splitlines()[-1] == (
        f"{database} has schema version 99, newer than this omnirouter ({len(MIGRATIONS)}); upgrade omnirouter")
    with contextlib.closing(sqlite3.connect(database)) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 99


async def test_the_writer_process_logs_as_the_server_does(tmp_path: Path) -> None:
    """The store's writer process had no logging of its own: its lines (the
    migrations, the search index's) came out bare, without time or level,
    through Python's last resort, and nothing below WARNING at all."""
    folder = config_folder(tmp_path)
    (folder / "omnirouter.yaml").write_text(
        f"store:\n  path: {tmp_path / 'var' / 'omnirouter.db'}\n  writer: process\n", encoding="utf-8")
    proc = await start(folder, free_port())  # a new database: the writer process applies every migration
    assert proc.stderr is not None
    said: list[str] = []
    try:
        async with asyncio.timeout(START_CEILING):
            while "omnirouter on http://" not in (line := (await proc.stderr.readline()).decode()):
                assert line, f"omnirouter exited before it said it was listening: {''.join(said)}"
                said.append(line)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.communicate(), START_CEILING)
    migrations = [line.rstrip("\n") for line in said if "schema" in line]
    assert len(migrations) == 1, "".join(said)  # one line for the new store's schema, not one per migration
    assert re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO router\.store\.sqlite: creating the store's "
                        r"schema \(version \d+\) in .*omnirouter\.db", migrations[0]), migrations[0]


async def test_a_named_folder_without_omnirouter_yaml_is_refused_and_the_default_one_is_not(tmp_path: Path) -> None:
    """``run --config DIR`` on an existing, empty folder (a typo, the wrong
    folder) started on the built-in defaults, with a new store and admin in
    the working folder, while ``config check`` refused it."""
    empty = tmp_path / "elsewhere"
    empty.mkdir()
    (empty / "rules.yaml").write_text("rules: []\n", encoding="utf-8")  # not the service's file
    work = tmp_path / "work"
    (work / "config").mkdir(parents=True)  # the default folder, empty: a first start on the defaults
    env = {k: v for k, v in os.environ.items() if k != "OMNIROUTER_ADMIN_PASSWORD"}
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    port = free_port()
    refused = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "run", "--config", str(empty), "--port", str(port),
        cwd=work, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(refused.communicate(), START_CEILING)
    assert refused.returncode == 1
    assert err.decode().splitlines() == [
        f"{empty}: no omnirouter.yaml here: omnirouter run starts on the embedded defaults only in the default "
        "folder (config/); name the folder that holds omnirouter.yaml, or write one"], err.decode()
    assert sorted(p.name for p in work.iterdir()) == ["config"]  # no var/, no admin account
    checked = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "config", "check", str(empty),
        cwd=work, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    _, err = await asyncio.wait_for(checked.communicate(), START_CEILING)
    assert checked.returncode == 1 and f"{empty}: no omnirouter.yaml here" in err.decode()

    # no --config: the default config/, without omnirouter.yaml, starts on the embedded defaults as ever
    started = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "run", "--port", str(port),
        cwd=work, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", started)
    finally:
        started.terminate()
        _, err = await asyncio.wait_for(started.communicate(), START_CEILING)
    assert started.returncode == 0, err.decode()
    assert (work / "var" / "omnirouter.db").exists()
