"""``omnirouter run`` (or a reference server) for a bench, waited for with a
ceiling a busy machine does not reach: importing the connectors' libraries
and loading the bot's model take tens of seconds when six jobs share 2 cores."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator

import aiohttp

START_CEILING = 180.0  # seconds: a hang detector, not a speed figure


@contextlib.asynccontextmanager
async def server(cmd: list[str], port: int, env: dict[str, str] | None = None) -> AsyncIterator[int]:
    """The process's pid once ``/healthz`` answers 200; terminated after the block."""
    proc = await asyncio.create_subprocess_exec(*cmd, env={**os.environ, **(env or {})},
                                                stdout=asyncio.subprocess.DEVNULL)
    try:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + START_CEILING
        async with aiohttp.ClientSession() as http:
            while True:
                if proc.returncode is not None:
                    raise RuntimeError(f"server exited with {proc.returncode}: {' '.join(cmd)}")
                with contextlib.suppress(aiohttp.ClientError):
                    async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                        if r.status == 200:
                            break
                if loop.time() > deadline:
                    raise RuntimeError(f"server did not start in {START_CEILING:g} s: {' '.join(cmd)}")
                await asyncio.sleep(0.1)
        yield proc.pid
    finally:
        if proc.returncode is None:
            proc.terminate()
        await asyncio.wait_for(proc.wait(), 60)
