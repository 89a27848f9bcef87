"""An agent's upload: how much memory the server holds while a large file
streams in, and how long it takes.

    python -m bench.files_upload [--mib 19] [--runs 3]

Runs the service in this process (embedded defaults: SQLite, files in a
folder of a fresh temporary directory) and uploads with curl in a process of
its own, so what Python allocates meanwhile is the server's alone (traced with
tracemalloc; the first run warms up). The upload is written to disk as it
arrives: the peak stays near the read buffers, whatever the file's size.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import tempfile
import time
import tracemalloc
from pathlib import Path

import aiohttp
from aiohttp.test_utils import TestServer

from agents_ui.sessions import ADMIN_SEED
from router.config import Settings
from router.server.app import create_app

PASSWORD = "bench password 1234"


async def upload(url: str, cookie: str, path: Path) -> tuple[str, float, float]:
    """(HTTP status, seconds, the server's traced peak in MiB)."""
    tracemalloc.start()
    started = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        "curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-H", f"Cookie: {cookie}",
        "-F", f"file=@{path};type=application/pdf", url, stdout=asyncio.subprocess.PIPE)
    out, _ = await proc.communicate()
    took = time.perf_counter() - started
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return out.decode(), took, peak / 2**20


async def main(mib: float, runs: int) -> None:
    if shutil.which("curl") is None:
        raise SystemExit("needs curl")
    folder = Path(tempfile.mkdtemp(prefix="omnirouter-files-bench-"))
    os.environ["OMNIROUTER_ADMIN_PASSWORD"] = PASSWORD
    settings = Settings()
    settings.store.path = str(folder / "bench.db")
    settings.store.writer = "thread"
    settings.connectors = {}
    settings.files.max_bytes = int((mib + 1) * 2**20)
    app = create_app(settings, base_dir=folder)
    server = TestServer(app, port=0)
    await server.start_server()
    try:
        await app[ADMIN_SEED].wait()
        source = folder / "big.pdf"
        source.write_bytes(b"%PDF-1.7\n" + os.urandom(int(mib * 2**20)))
        async with aiohttp.ClientSession(str(server.make_url("")), cookie_jar=aiohttp.CookieJar(unsafe=True)) as http:
            login = await http.post("/api/login", json={"username": "admin", "password": PASSWORD})
            assert login.status == 200
            cookie = "; ".join(f"{c.key}={c.value}" for c in http.cookie_jar)
        for run in range(runs + 1):
            status, took, peak = await upload(str(server.make_url("/api/files")), cookie, source)
            label = "warm-up" if run == 0 else f"run {run}"
            print(f"{label}: HTTP {status}, {mib:g} MiB in {took:.2f} s, the server's traced peak {peak:.2f} MiB")
    finally:
        await server.close()
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mib", type=float, default=19.0)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    asyncio.run(main(args.mib, args.runs))
