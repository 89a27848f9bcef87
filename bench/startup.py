"""Start-up: ``omnirouter run`` on the shipped config/ to a healthy /healthz
and to the bot's first possible answer, and ``omnirouter --help``.

    python -m bench.startup [--runs 5] [--repo DIR]

Each run starts the service twice in a fresh folder: a first start (no
database, no cache: the admin account is made, the bot embeds its examples)
and a restart (both kept). Printed as p50/max over the runs, with the split
the service logs with its listening line (imports, config, store, other:
``router/server/startup.py``) and the bot's warm-up, which runs after the port
answers. ``--repo`` measures another checkout (say, an older commit) with
this interpreter; one without the split prints the totals only.
Targets (issue 17): healthy <= 2 s, --help <= 0.5 s, on 2 cores.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import socket
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

REPO = Path(__file__).resolve().parents[1]
CEILING = 180.0  # seconds: a start that takes longer is hung
SPLIT = re.compile(r"started in ([\d.]+) s \((.*)\)")
PHASE = re.compile(r"(\w+) ([\d.]+)")
BOT_READY = "bot matching:"


@dataclass
class Start:
    healthy: float  # seconds from the spawn to the first 200 of /healthz
    bot: float | None  # to the bot's "ready" line (None: no bot)
    phases: dict[str, float] = field(default_factory=dict)  # the service's own split


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


async def _read_log(stream: asyncio.StreamReader, began: float, seen: dict[str, float | str],
                    bot_or_end: asyncio.Event) -> None:
    while line := (await stream.readline()).decode(errors="replace"):
        if BOT_READY in line and "bot" not in seen:
            seen["bot"] = time.perf_counter() - began
            bot_or_end.set()
        if (split := SPLIT.search(line)) is not None:
            seen["split"] = split.group(0)
    bot_or_end.set()


async def _healthy(base: str, proc: asyncio.subprocess.Process, began: float) -> float:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as http:
        while time.perf_counter() - began < CEILING:
            if proc.returncode is not None:
                raise RuntimeError(f"omnirouter exited with {proc.returncode}")
            try:
                async with http.get(f"{base}/healthz") as resp:
                    if resp.status == 200:
                        return time.perf_counter() - began
            except (aiohttp.ClientError, TimeoutError):
                pass
            await asyncio.sleep(0.01)
    raise RuntimeError(f"not healthy within {CEILING:g} s")


def _phases(split: str) -> dict[str, float]:
    match = SPLIT.search(split)
    assert match is not None
    phases = {name: float(seconds) for name, seconds in PHASE.findall(match.group(2))}
    phases["total"] = float(match.group(1))
    return phases


async def start_once(repo: Path, folder: Path) -> Start:
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(repo), "OMNIROUTER_ADMIN_PASSWORD": "bench startup password"}
    began = time.perf_counter()
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "router.cli", "run", "--config", "config", "--port", str(port),
        cwd=folder, env=env, stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE)
    assert proc.stderr is not None
    seen: dict[str, float | str] = {}
    bot_or_end = asyncio.Event()
    reader = asyncio.create_task(_read_log(proc.stderr, began, seen, bot_or_end))
    try:
        healthy = await _healthy(f"http://127.0.0.1:{port}", proc, began)
        await asyncio.wait_for(bot_or_end.wait(), CEILING)
    finally:
        proc.terminate()
        await asyncio.wait_for(proc.wait(), 60)
        await reader
    bot = seen.get("bot")
    split = seen.get("split")
    return Start(healthy, bot if isinstance(bot, float) else None,
                 _phases(split) if isinstance(split, str) else {})


def help_once(repo: Path) -> float:
    began = time.perf_counter()
    import subprocess  # noqa: PLC0415

    subprocess.run([sys.executable, "-m", "router.cli", "--help"], cwd=repo, check=True,
                   stdout=subprocess.DEVNULL, env={**os.environ, "PYTHONPATH": str(repo)})
    return time.perf_counter() - began


def row(name: str, values: list[float]) -> str:
    if not values:
        return f"  {name:34} {'-':>7} {'-':>7}"
    return f"  {name:34} {statistics.median(values):7.2f} {max(values):7.2f}"


def report(title: str, starts: list[Start]) -> list[str]:
    lines = [f" {title}", row("healthy (spawn to /healthz ok)", [s.healthy for s in starts]),
             row("bot ready (spawn to its ready line)", [s.bot for s in starts if s.bot is not None])]
    names = list(dict.fromkeys(name for s in starts for name in s.phases))
    for name in names:
        label = "service's own clock, total" if name == "total" else f"  {name}"
        lines.append(row(label, [s.phases[name] for s in starts if name in s.phases]))
    if names:
        lines.append(row("  interpreter start, poll slack", [s.healthy - s.phases["total"] for s in starts
                                                             if "total" in s.phases]))
    return lines


@dataclass
class Runs:
    helps: list[float] = field(default_factory=list)
    first: list[Start] = field(default_factory=list)
    again: list[Start] = field(default_factory=list)


async def run_once(repo: Path, runs: Runs) -> None:
    runs.helps.append(help_once(repo))
    with tempfile.TemporaryDirectory(prefix="omnirouter-startup-") as tmp:
        folder = Path(tmp)
        shutil.copytree(repo / "config", folder / "config")
        runs.first.append(await start_once(repo, folder))
        runs.again.append(await start_once(repo, folder))


async def measure(repos: list[Path], count: int) -> None:
    """Several checkouts take turns, run by run: a machine that gets busier
    meanwhile weighs on each alike."""
    results = {repo: Runs() for repo in repos}
    loads = []
    for _ in range(count):
        for repo, runs in results.items():
            await run_once(repo, runs)
            loads.append(os.getloadavg()[0])
    print(f"omnirouter start-up: {count} run(s) each, {os.cpu_count()} CPU(s), load average "
          f"{min(loads):.1f}-{max(loads):.1f} meanwhile; seconds, p50 and max")
    for repo, runs in results.items():
        print(f"{repo}\n  {'':34} {'p50':>7} {'max':>7}")
        print(row("omnirouter --help", runs.helps))
        for line in [*report("first start (no database, no cache)", runs.first), *report("restart", runs.again)]:
            print(line)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--repo", type=Path, action="append",
                        help="a checkout to measure (default: this one); repeat to compare, run by run")
    args = parser.parse_args()
    asyncio.run(measure([repo.resolve() for repo in args.repo or [REPO]], args.runs))


if __name__ == "__main__":
    main()
