"""Real faults under a running ``omnirouter run`` (its writer in a process of
its own): a full tmpfs, and database files made immutable with ``chattr +i``.
Both need root; without it (or without tmpfs mounts, or chattr) the test says
why it is skipped. tests/router/test_store_outage.py injects the same faults
into SQLite's connections wherever it runs."""

from __future__ import annotations

import asyncio
import contextlib
import errno
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from connectors.webchat_tokens import public_part
from tests.e2e.conftest import ADMIN_PASSWORD, free_port, wait_healthy

CEILING = 120.0  # seconds: a hang detector, never a measurement


class Server:
    def __init__(self, proc: asyncio.subprocess.Process, base: str, http: aiohttp.ClientSession) -> None:
        self.proc, self.base, self.http = proc, base, http
        self.sent = 0

    async def health(self) -> tuple[int, dict[str, Any]]:
        async with self.http.get(f"{self.base}/healthz") as resp:
            return resp.status, await resp.json()

    async def say(self, client_id: str) -> str | None:
        """A new visitor's message: its id if acknowledged, None if refused."""
        self.sent += 1
        async with self.http.ws_connect(f"{self.base}/chat/ws") as ws:
            await ws.send_json({"type": "hello"})
            welcome = await ws.receive_json(timeout=CEILING)
            if welcome["type"] == "error":  # the hello's history could not be read either
                assert welcome["code"] == "unavailable", welcome
                return None
            await ws.send_json({"type": "message", "text": "where is my order?", "client_id": client_id})
            while True:
                frame = await ws.receive_json(timeout=CEILING)
                if frame["type"] == "ack":
                    return f"{public_part(welcome['visitor_id'])}:{client_id}"  # the token's public part
                if frame["type"] == "error":
                    assert frame["code"] == "unavailable", frame
                    return None

    async def until_refused(self, tag: str) -> list[str]:
        """Messages until one is refused; the acknowledged ones' external ids."""
        acked: list[str] = []
        for n in range(10_000):
            if (external_id := await self.say(f"{tag}-{n}")) is None:
                return acked
            acked.append(external_id)
        raise AssertionError("no message was refused")

    async def until_healthy(self) -> None:
        for _ in range(int(CEILING * 10)):
            if (await self.health())[0] == 200:
                return
            await asyncio.sleep(0.1)
        raise AssertionError("/healthz never said ok again")

    async def stop(self) -> str:
        """SIGTERM to the process group, as a service manager sends it; the log."""
        os.killpg(self.proc.pid, signal.SIGTERM)
        code = await asyncio.wait_for(self.proc.wait(), CEILING)
        assert self.proc.stderr is not None
        log = (await self.proc.stderr.read()).decode()
        assert code == 0, log
        return log


@contextlib.asynccontextmanager
async def running(tmp_path: Path, database: Path) -> AsyncIterator[Server]:
    port = free_port()
    (tmp_path / "omnirouter.yaml").write_text(
        f"server:\n  port: {port}\nstore:\n  path: {database}\n  writer: process\n", encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "run", "--config", str(tmp_path),
        env={**os.environ, "OMNIROUTER_ADMIN_PASSWORD": ADMIN_PASSWORD},
        stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_healthy(base, proc)
        async with aiohttp.ClientSession() as http:
            yield Server(proc, base, http)
    finally:
        if proc.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            await proc.wait()


def _stored(database: Path, external_ids: list[str]) -> dict[str, int]:
    with contextlib.closing(sqlite3.connect(database)) as conn:
        return {e: int(conn.execute("SELECT count(*) FROM messages WHERE external_id = ?", (e,)).fetchone()[0])
                for e in external_ids}


async def _cmd(*args: str) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(subprocess.run, list(args), capture_output=True, text=True, check=False)


def _episodes(log: str) -> list[str]:
    return [line for line in log.splitlines() if "sqlite store: writes are failing" in line]


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("mounting a tmpfs needs root")
    disk = tmp_path / "disk"
    disk.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(disk)],
                             capture_output=True, text=True, check=False)
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        yield disk
    finally:
        subprocess.run(["umount", "-l", str(disk)], check=False)


def _fill(disk: Path, name: str) -> Path:
    """Every free byte of ``disk`` taken by one file (none, if the WAL already took them)."""
    filler = disk / name
    try:
        with filler.open("wb") as f:
            while True:
                f.write(b"\0" * 4096)
                f.flush()
    except OSError as exc:
        assert exc.errno == errno.ENOSPC, exc
    return filler


async def test_a_full_disk_is_refused_with_503_and_the_service_recovers_and_stops(
    tmp_path: Path, tmpfs: Path
) -> None:
    database = tmpfs / "omnirouter.db"
    async with running(tmp_path, database) as server:
        acked = [e for e in [await server.say("first")] if e]
        filler = _fill(tmpfs, "filler")
        acked += await server.until_refused("full")
        status, body = await server.health()
        assert status == 503 and "disk is full" in body["store"], body
        assert server.proc.returncode is None
        filler.unlink()
        await server.until_healthy()
        acked += [e for e in [await server.say("after")] if e]
        assert len(acked) >= 2
        filler = _fill(tmpfs, "filler2")
        acked += await server.until_refused("again")
        log = await server.stop()  # in the middle of the second outage
    filler.unlink(missing_ok=True)
    assert set(_stored(database, acked).values()) == {1}, "an acknowledged message lost or stored twice"
    episodes = _episodes(log)
    assert [("cleared" in line) for line in episodes] == [False, True, False], episodes
    assert "Traceback" not in log, log


async def test_immutable_files_are_refused_with_503_not_sigbus_and_the_service_recovers(tmp_path: Path) -> None:
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("chattr +i needs root and e2fsprogs")
    database = tmp_path / "omnirouter.db"
    async with running(tmp_path, database) as server:
        acked = [e for e in [await server.say("first")] if e]
        files = [str(p) for p in (database, Path(f"{database}-wal"), Path(f"{database}-shm")) if p.exists()]
        frozen = await _cmd("chattr", "+i", *files)
        if frozen.returncode != 0:
            pytest.skip(f"chattr +i is not supported here: {frozen.stderr.strip()}")
        try:
            for n in range(10):  # with the pages written back meanwhile: SIGBUS came from there
                assert (await _cmd("sync")).returncode == 0
                assert await server.say(f"frozen-{n}") is None
            status, body = await server.health()
            assert status == 503 and "immutable" in body["store"], body
            assert server.proc.returncode is None, "the server died"
        finally:
            assert (await _cmd("chattr", "-i", *files)).returncode == 0
        await server.until_healthy()
        acked += [e for e in [await server.say("after")] if e]
        log = await server.stop()
    assert len(acked) == 2 and set(_stored(database, acked).values()) == {1}
    assert len(_episodes(log)) == 2 and "Traceback" not in log, log


async def test_a_start_on_immutable_files_is_refused_with_the_reason(tmp_path: Path) -> None:
    """Not a server that says healthy while no write can succeed: it exits
    with the reason, and a service manager's restart brings it up once the
    files can be written."""
    if os.geteuid() != 0 or shutil.which("chattr") is None:
        pytest.skip("chattr +i needs root and e2fsprogs")
    database = tmp_path / "omnirouter.db"
    async with running(tmp_path, database) as server:
        await server.stop()
    frozen = await _cmd("chattr", "+i", str(database))
    if frozen.returncode != 0:
        pytest.skip(f"chattr +i is not supported here: {frozen.stderr.strip()}")
    try:
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "router.cli", "run", "--config", str(tmp_path),
            env={**os.environ, "OMNIROUTER_ADMIN_PASSWORD": ADMIN_PASSWORD}, stderr=asyncio.subprocess.PIPE,
        )
        _, err = await asyncio.wait_for(proc.communicate(), CEILING)
    finally:
        assert (await _cmd("chattr", "-i", str(database))).returncode == 0
    log = err.decode()
    assert proc.returncode == 1 and "the store cannot be written" in log and "immutable" in log, log
    assert "Traceback" not in log, log
    async with running(tmp_path, database) as server:
        assert (await server.health())[0] == 200
        await server.stop()


async def test_a_store_whose_folder_cannot_be_created_is_refused_with_the_reason(tmp_path: Path) -> None:
    """A file where the store's folder should be (a typo in store.path): the
    start says so in one line, with no traceback."""
    (tmp_path / "var").write_text("", encoding="utf-8")
    config = tmp_path / "config"
    config.mkdir()
    (config / "omnirouter.yaml").write_text(f"store:\n  path: {tmp_path / 'var' / 'omnirouter.db'}\n",
                                            encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "run", "--config", str(config), "--port", "0",
        env={**os.environ, "OMNIROUTER_ADMIN_PASSWORD": ADMIN_PASSWORD}, stderr=asyncio.subprocess.PIPE,
    )
    _, err = await asyncio.wait_for(proc.communicate(), CEILING)
    log = err.decode()
    assert proc.returncode == 1 and "the store cannot be written" in log and "a file is in the way" in log, log
    assert "Traceback" not in log, log
