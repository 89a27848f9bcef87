"""``omnirouter run`` as a terminal or a service manager stops it: the signal
goes to the whole process group, the store's writer process included."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

import aiohttp
import pytest

from tests.conftest import HANG, eventually
from tests.e2e.conftest import ADMIN_PASSWORD, free_port, wait_healthy


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


async def _gone(pgid: int) -> bool:
    return not _group_alive(pgid)


@pytest.mark.parametrize("writer", ["process", "thread"])
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
async def test_a_signal_to_the_process_group_shuts_down_cleanly_and_leaves_no_process(
    tmp_path: Path, signum: signal.Signals, writer: str
) -> None:
    port = free_port()
    (tmp_path / "omnirouter.yaml").write_text(
        f"server:\n  port: {port}\nstore:\n  path: {tmp_path / 'run.db'}\n  writer: {writer}\n", encoding="utf-8"
    )
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "run", "--config", str(tmp_path),
        env={**os.environ, "OMNIROUTER_ADMIN_PASSWORD": ADMIN_PASSWORD},
        stderr=asyncio.subprocess.PIPE, start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    await wait_healthy(base, proc)
    async with aiohttp.ClientSession() as http, http.ws_connect(f"{base}/chat/ws") as ws:
        await ws.send_json({"type": "hello"})
        await ws.receive_json()
        await ws.send_json({"type": "message", "text": "hello", "client_id": "c1"})
        assert (await ws.receive_json())["type"] == "ack"  # stored: the writer process is at work
    os.killpg(proc.pid, signum)
    assert await asyncio.wait_for(proc.wait(), HANG) == 0
    assert proc.stderr is not None
    log = (await proc.stderr.read()).decode()
    assert "Traceback" not in log and "died" not in log, log
    # the writer exits after the server: wait for it, a hang detector as the ceiling
    await eventually(lambda: _gone(proc.pid), "every process of omnirouter to exit")
