"""``bench.console_lists`` side by side: the same SQLite store served by the
code of another source tree (the commit before a change: ``git archive`` it
into a folder) and by this one, each on its own copy of the file, every call
asked of one then the other in turn, so both see the same load of a shared
machine. The store is made by the other tree's migrations (its schema), then
filled; this tree's service migrates its copy at start.

    git archive HEAD~1 | tar -x -C /tmp/before
    python -m bench.console_lists_ab --before-tree /tmp/before [--size 1000000] [--samples 40]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import aiohttp
from argon2 import PasswordHasher

from bench.console_lists import NOW, _quiet, calls
from bench.load import PASSWORD, free_port, percentile, server, write_config
from bench.sql_fill import fill_statements

MIGRATE = "import asyncio, sys; from router.store.sqlite import SQLiteStore\n" \
          "async def m():\n    async with SQLiteStore(sys.argv[1]): pass\nasyncio.run(m())"


def make_store(path: Path, tree: Path, customers: int) -> None:
    """The other tree's schema (its migrations, in a process of its own), then the rows."""
    subprocess.run([sys.executable, "-c", MIGRATE, str(path)], check=True, env={**os.environ, "PYTHONPATH": str(tree)},
                   cwd=tree)
    db = sqlite3.connect(path)
    with db:
        for statement in fill_statements("sqlite", customers, NOW, PasswordHasher().hash(PASSWORD)):
            db.execute(statement)
    db.close()


async def login(http: aiohttp.ClientSession, base: str) -> dict[str, str]:
    async with http.post(f"{base}/api/login", json={"username": "admin", "password": PASSWORD}) as r:
        r.raise_for_status()
    async with http.get(f"{base}/api/conversations?status=all") as r:
        r.raise_for_status()
        first = await r.json()
    ids = [c["id"] for c in first["conversations"]]
    asks = calls(ids[0], first["conversations"][0]["customer_id"], first["next"])
    asks["unread (200 ids)"] += ",".join(ids[:200])
    return asks


async def timed(http: aiohttp.ClientSession, url: str) -> float:
    started = time.perf_counter()
    async with http.get(url) as r:
        await r.read()
        if r.status != 200:
            raise RuntimeError(f"{url} answered {r.status}")
    return (time.perf_counter() - started) * 1000


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as root:
        folders = {side: Path(root) / side for side in ("before", "after")}
        for folder in folders.values():
            folder.mkdir()
        started = time.perf_counter()
        make_store(folders["before"] / "bench.db", args.before_tree, args.size)
        shutil.copy(folders["before"] / "bench.db", folders["after"] / "bench.db")
        print(f"filled {args.size:,} customers in {time.perf_counter() - started:.0f} s", flush=True)
        bases: dict[str, str] = {}
        async with contextlib.AsyncExitStack() as stack:
            for side, folder in folders.items():
                port = free_port()
                write_config(folder, port, "process")
                env = {"OMNIROUTER_ADMIN_PASSWORD": PASSWORD}
                if side == "before":
                    env["PYTHONPATH"] = str(args.before_tree)
                pid = await stack.enter_async_context(
                    server([".venv/bin/omnirouter", "run", "--config", str(folder)], port, env))
                await _quiet(pid)
                bases[side] = f"http://127.0.0.1:{port}"
            sessions = {side: await stack.enter_async_context(
                aiohttp.ClientSession(cookie_jar=aiohttp.CookieJar(unsafe=True))) for side in bases}
            asks = {side: await login(sessions[side], bases[side]) for side in bases}
            times: dict[tuple[str, str], list[float]] = {}
            for n in range(args.samples):
                for name in asks["after"]:
                    order = ("before", "after") if n % 2 == 0 else ("after", "before")  # neither always first
                    for side in order:
                        took = await timed(sessions[side], bases[side] + asks[side][name])
                        times.setdefault((side, name), []).append(took)
    print(f"\nSQLite, {args.size:,} customers, {args.samples} samples each, side by side over HTTP:"
          " p50 before → after, p99 before → after (ms)")
    for name in asks["after"]:
        b, a = times["before", name], times["after", name]
        print(f"  {name:22s} {percentile(b, 0.5):8.1f} → {percentile(a, 0.5):6.1f}"
              f"   {percentile(b, 0.99):8.1f} → {percentile(a, 0.99):6.1f}")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--before-tree", type=Path, required=True, help="a source tree of the code to compare with")
    parser.add_argument("--size", type=int, default=1_000_000, help="customers")
    parser.add_argument("--samples", type=int, default=40)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
