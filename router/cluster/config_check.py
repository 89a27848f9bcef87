"""The nodes of one cluster on one set of routing files.

Each node reads its own config folder, and what one node's files say is the
cluster's when that node leads a singleton: the assigner's leader holds every
agent to its own teams.yaml's capacities (a node started with capacity 5
against the others' 2 gave every agent 5, and nothing said so). So each
node tells the others, every ``EVERY`` seconds and through the cluster's
signals (``Peers.signal``: never stored), a fingerprint of the files that
decide routing and answers; a node that hears another's differ from its
own for ``GRACE`` seconds (a rollout that reaches the nodes a few seconds
apart is no difference) logs a warning once per difference and lists the
node under ``config_differs`` in ``/healthz``."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from router.connector import Peers

log = logging.getLogger(__name__)

# the files whose differences change what the cluster does (omnirouter.yaml holds each node's own: its port)
FILES = ("rules.yaml", "teams.yaml", "csat.yaml", "bot.yaml")
TOPIC = "config:fingerprint"
EVERY = 30.0  # seconds between a node's announcements
GRACE = 2 * EVERY  # a difference this old is one: shorter, it may be a rollout in progress
GONE = 3 * EVERY  # a node not heard from for this long is left out (stopped)


def fingerprint(folder: Path) -> str:
    """The routing files' contents (a missing one counts too), hashed: blocking, so off the loop."""
    digest = hashlib.sha256()
    for name in FILES:
        path = folder / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.is_file() else b"\0missing")
    return digest.hexdigest()[:16]


class ConfigCheck:
    """This node's fingerprint told to the others, and theirs compared with it."""

    def __init__(self, peers: Peers, node: str, folder: Path, clock: Callable[[], float] = time.monotonic) -> None:
        self.peers, self.node, self.folder, self.clock = peers, node, folder, clock
        self.mine = ""
        # node -> (its fingerprint, when last heard); node -> since when it has differed from this one's
        self._heard: dict[str, tuple[str, float]] = {}
        self._since: dict[str, float] = {}
        self._warned: set[tuple[str, str, str]] = set()
        peers.on(TOPIC, self._on_fingerprint)

    async def _on_fingerprint(self, data: dict[str, Any]) -> None:
        node, said = data.get("node"), data.get("fingerprint")
        if isinstance(node, str) and isinstance(said, str) and node != self.node:
            self._heard[node] = (said, self.clock())
            self._compare()

    def _compare(self) -> None:
        now = self.clock()
        for node, (said, _) in self._heard.items():
            if self.mine and said != self.mine:
                self._since.setdefault(node, now)
            else:
                self._since.pop(node, None)
        for node in self.differing():
            key = (node, self._heard[node][0], self.mine)
            if key not in self._warned:
                self._warned.add(key)
                log.warning("node %s runs other routing files than this node %s (%s): the nodes of a cluster need "
                            "the same ones, or capacity and routing depend on which node leads", node, self.node,
                            ", ".join(FILES))

    def differing(self) -> list[str]:
        """The live nodes whose routing files have differed from this node's for ``GRACE`` seconds."""
        now = self.clock()
        return sorted(node for node, since in self._since.items()
                      if now - since >= GRACE and now - self._heard[node][1] < GONE)

    async def announce(self) -> None:
        """This node's fingerprint read again (a file reloaded meanwhile) and told to the others."""
        self.mine = await asyncio.to_thread(fingerprint, self.folder)
        self.peers.signal(TOPIC, {"node": self.node, "fingerprint": self.mine})
        self._compare()

    async def run(self) -> None:
        while True:
            await self.announce()
            await asyncio.sleep(EVERY)
