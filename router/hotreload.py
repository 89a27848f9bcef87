"""The hot config files' one watcher: a simple poll of rules.yaml,
teams.yaml and csat.yaml (``router.routing.rules.reload``) and bot.yaml
(``router.bot.reload``). Each reloader reads and checks its changed files
off the event loop and swaps the result in on it; this loop only asks each
of them in turn, so a slow one (the bot's matcher embeds its examples)
delays the next look, never the loop. A file changed when its stat or its
bytes did (``file_stamp``)."""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

# seconds between two looks at the files
INTERVAL = 1.0


# what says a file changed (``file_stamp``): its mtime, ctime, size and inode, with a hash of its bytes when
# asked; None while it is absent; why it cannot be read, while it cannot
Stamp = tuple[int, int, int, int, bytes] | str | None


def file_stamp(path: Path, *, content: bool = True) -> Stamp:
    """Blocking (a stat, and with ``content`` a read). The mtime alone missed
    an edit of the same size that kept it: ``rsync -t``, ``cp -p``, ``touch
    -r``, or two edits within a file system's timestamp tick (1 s on ext3 and
    HFS+, 2 s on FAT, the server's on NFS). The ctime cannot be set back
    (``touch`` sets it to now) and a rename-replace changes the inode, but on
    such a file system the ctime is as coarse as the mtime: only the bytes
    tell two same-size edits in one second apart. The watched files are a few
    KB each (bot.yaml a few dozen), so reading them once a second off the
    event loop costs nothing that shows."""
    try:
        st = path.stat()
        digest = hashlib.blake2b(path.read_bytes(), digest_size=16).digest() if content else b""
    except (FileNotFoundError, NotADirectoryError):
        return None
    except OSError as exc:  # a folder that may not be searched, a file that may not be read: the load says why
        return f"cannot read: {exc.strerror or exc}"
    return st.st_mtime_ns, st.st_ctime_ns, st.st_size, st.st_ino, digest


def stamp(paths: Sequence[Path]) -> tuple[Stamp, ...]:
    """``file_stamp`` of each file, its bytes' hash included."""
    return tuple(file_stamp(path) for path in paths)


class Reloader(Protocol):
    async def reload(self) -> bool:
        """Load a changed file off the event loop and swap it in (or refuse
        it and say why); True when new config is active."""
        ...


async def watch(reloaders: Sequence[Reloader], interval: float = INTERVAL) -> None:
    """Ask every reloader, every ``interval`` seconds, until cancelled."""
    while True:
        await asyncio.sleep(interval)
        for reloader in reloaders:
            try:
                await reloader.reload()
            except asyncio.CancelledError:
                raise
            except Exception:  # a bug in one must not stop the others' reloads, nor this loop
                log.exception("reloading the config failed (%s)", type(reloader).__name__)
