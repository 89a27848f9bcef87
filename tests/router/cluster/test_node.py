"""The node's id at ``omnirouter run``: ``OMNIROUTER_NODE_ID``, or one made
up; one that could not label a metric is refused with what is wrong, and
nothing is created."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import aiohttp
import pytest

from router.cluster.node import NODE_ENV, node_id
from router.yamlconf import ConfigError
from tests.e2e.conftest import START_CEILING, free_port, wait_healthy
from tests.router.test_serve import REPO, config_folder


def test_the_configured_id_is_used() -> None:
    assert node_id({NODE_ENV: " eu-1 "}) == "eu-1"


def test_without_one_each_start_makes_one_up() -> None:
    made = {node_id({}) for _ in range(20)}
    assert len(made) == 20


@pytest.mark.parametrize("bad", ["x" * 64, "eu\n1", "eu\x1b[31m1"])
def test_an_id_that_cannot_label_a_metric_is_refused(bad: str) -> None:
    with pytest.raises(ConfigError, match=NODE_ENV):
        node_id({NODE_ENV: bad})


async def run(folder: Path, port: int, node: str) -> asyncio.subprocess.Process:
    env = {**os.environ, NODE_ENV: node}
    return await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "run", "--config", str(folder), "--port", str(port),
        cwd=REPO, env=env, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)


async def test_omnirouter_run_answers_as_its_node(tmp_path: Path) -> None:
    folder = config_folder(tmp_path)
    proc = await run(folder, free_port(), "x" * 64)
    _, err = await asyncio.wait_for(proc.communicate(), START_CEILING)
    assert proc.returncode == 1 and f"{NODE_ENV} must be printable and at most 63 bytes" in err.decode()
    assert not (tmp_path / "var").exists()

    port = free_port()
    proc = await run(folder, port, "eu-west-2")
    try:
        await wait_healthy(f"http://127.0.0.1:{port}", proc)
        async with aiohttp.ClientSession() as http, http.get(f"http://127.0.0.1:{port}/healthz") as resp:
            assert (await resp.json())["node"] == "eu-west-2"
    finally:
        proc.terminate()
        _, err = await asyncio.wait_for(proc.communicate(), START_CEILING)
    assert f"omnirouter on http://127.0.0.1:{port} (console /, site chat /chat/), node eu-west-2, started in" \
        in err.decode()  # the node says who it is as it starts listening


async def test_a_second_node_of_a_running_nodes_id_is_refused_and_a_restart_after_a_kill_is_not(
    tmp_path: Path, pg_database: str
) -> None:
    """Two nodes of one name would take each other's outbox leases and drop
    each other's events: the second is refused while the first runs; the
    same name after the first was killed starts."""
    folder = tmp_path / "pg"
    folder.mkdir()
    (folder / "omnirouter.yaml").write_text("store:\n  backend: postgres\n", encoding="utf-8")
    env = {**os.environ, NODE_ENV: "node-1", "OMNIROUTER_DATABASE_URL": pg_database}

    async def start(port: int) -> asyncio.subprocess.Process:
        return await asyncio.create_subprocess_exec(
            sys.executable, "-m", "router.cli", "run", "--config", str(folder), "--port", str(port),
            cwd=REPO, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)

    first_port = free_port()
    first = await start(first_port)
    try:
        await wait_healthy(f"http://127.0.0.1:{first_port}", first)
        second = await start(free_port())
        _, err = await asyncio.wait_for(second.communicate(), START_CEILING)
        assert second.returncode == 1, err.decode()
        assert f"another node named 'node-1' is connected to the database: give each node its own {NODE_ENV}" \
            in err.decode()
        await wait_healthy(f"http://127.0.0.1:{first_port}", first)  # the first runs on
    finally:
        first.kill()
        await asyncio.wait_for(first.wait(), START_CEILING)
    again_port = free_port()
    again = await start(again_port)
    try:
        await wait_healthy(f"http://127.0.0.1:{again_port}", again)
    finally:
        again.terminate()
        await asyncio.wait_for(again.communicate(), START_CEILING)
