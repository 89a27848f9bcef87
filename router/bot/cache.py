"""The embeddings of the bot's examples, kept on disk between starts.

Embedding the few hundred examples of bot.yaml costs seconds of CPU at every
start; a text's vector depends only on the text and the model, so they are
kept in one file per model (``examples-<model key>.npz`` in the cache
folder: the texts and their vectors), and only texts the file lacks (a new
or edited example) are embedded. A file that cannot be read (truncated,
corrupt, another format) is ignored and written again; the file is replaced
atomically, so a crash mid-write leaves the old one or none.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from router.bot.semantic import Vectors

log = logging.getLogger(__name__)

# bump when the file's layout changes
FORMAT = 1


class ExampleVectors:
    """The vectors of texts under one model, from the file when it has them."""

    def __init__(self, folder: Path, model: str) -> None:
        """``model``: what identifies the model and the way texts are embedded
        (its file, its version, the runtime): another value, another file."""
        key = hashlib.sha256(f"{FORMAT}\n{model}".encode()).hexdigest()[:20]
        self.path = folder / f"examples-{key}.npz"
        self.hits = 0
        self.misses = 0

    def vectors(self, texts: list[str], encode: Callable[[list[str]], Vectors]) -> dict[str, Vectors]:
        """Each of ``texts`` with its vector: the file's, else ``encode``'s
        (and then the file is written again with exactly these texts)."""
        wanted = list(dict.fromkeys(texts))
        known = self._read()
        missing = [text for text in wanted if text not in known]
        self.hits, self.misses = len(wanted) - len(missing), len(missing)
        if missing:
            known.update(zip(missing, encode(missing), strict=True))
        found = {text: known[text] for text in wanted}
        if missing or len(known) != len(wanted):  # new texts, or texts no example has any more
            self._write(found)
        return found

    def _read(self) -> dict[str, Vectors]:
        try:
            with np.load(self.path, allow_pickle=False) as data:
                texts, vectors = data["texts"], data["vectors"]
                if texts.ndim != 1 or vectors.ndim != 2 or len(texts) != len(vectors) or \
                        vectors.dtype != np.float32 or not np.isfinite(vectors).all():
                    raise ValueError("not texts with a vector each")
                return {str(text): vectors[i] for i, text in enumerate(texts)}
        except FileNotFoundError:
            return {}
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile) as exc:
            log.warning("the bot's cache %s cannot be read (%s): the examples are embedded again", self.path, exc)
            return {}

    def _write(self, found: dict[str, Vectors]) -> None:
        texts = np.array(list(found), dtype=str)
        vectors = np.stack(list(found.values())).astype(np.float32) if found else np.empty((0, 0), np.float32)
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, temporary = tempfile.mkstemp(dir=self.path.parent, prefix=".examples-", suffix=".npz")
            try:
                with os.fdopen(fd, "wb") as out:
                    np.savez(out, texts=texts, vectors=vectors)
                    out.flush()
                    os.fsync(out.fileno())
                os.replace(temporary, self.path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:  # a read-only disk: the bot works, the next start embeds again
            log.warning("the bot's cache %s cannot be written: %s", self.path, exc)
