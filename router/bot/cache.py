"""What the bot computes from its model and examples, kept on disk between
starts: the examples' embeddings, and the tokenizer built from the model's
vocabulary.

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
import io
import logging
import os
import tempfile
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import numpy as np

from router.bot.semantic import Vectors

log = logging.getLogger(__name__)
T = TypeVar("T")

# bump when the file's layout changes
FORMAT = 1


def _digest(key: str) -> str:
    return hashlib.sha256(f"{FORMAT}\n{key}".encode()).hexdigest()[:20]


class ExampleVectors:
    """The vectors of texts under one model, from the file when it has them."""

    def __init__(self, folder: Path, model: str) -> None:
        """``model``: what identifies the model and the way texts are embedded
        (its file, its version, the runtime): another value, another file."""
        self.path = folder / f"examples-{_digest(model)}.npz"
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
        buffer = io.BytesIO()
        np.savez(buffer, texts=texts, vectors=vectors)
        try:
            _replace(self.path, buffer.getvalue())
        except OSError as exc:  # a read-only disk: the bot works, the next start embeds again
            log.warning("the bot's cache %s cannot be written: %s", self.path, exc)


def cached_use(folder: Path | None, name: str, key: str, make: Callable[[], bytes], use: Callable[[bytes], T]) -> T:
    """``use`` of ``cached_bytes``. A kept file that is whole but that ``use``
    refuses (an onnxruntime that cannot load a graph kept under the same key)
    is made again and kept anew: otherwise every start would fail on it."""
    data = cached_bytes(folder, name, key, make)
    try:
        return use(data)
    except Exception as exc:
        if folder is None:
            raise
        path = _path(folder, name, key)
        log.warning("the bot's cache %s was refused (%s: %.200s): it is made again", path, type(exc).__name__, exc)
        made = make()
        _keep(path, made)
        return use(made)


def _path(folder: Path, name: str, key: str) -> Path:
    return folder / f"{name}-{_digest(key)}"


def cached_bytes(folder: Path | None, name: str, key: str, make: Callable[[], bytes]) -> bytes:
    """``make()``, kept in ``folder`` under ``name`` and ``key``; the file
    starts with the SHA-256 of the rest, so a damaged one is made again."""
    if folder is None:
        return make()
    path = _path(folder, name, key)
    try:
        kept = path.read_bytes()
        if hashlib.sha256(kept[32:]).digest() == kept[:32]:
            return kept[32:]
        log.warning("the bot's cache %s is damaged: it is made again", path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        log.warning("the bot's cache %s cannot be read (%s): it is made again", path, exc)
    made = make()
    _keep(path, made)
    return made


def _keep(path: Path, made: bytes) -> None:
    try:
        _replace(path, hashlib.sha256(made).digest() + made)
    except OSError as exc:
        log.warning("the bot's cache %s cannot be written: %s", path, exc)


def _replace(path: Path, data: bytes) -> None:
    """Write ``path`` whole or not at all (a crash leaves the old file or none)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}-")
    try:
        with os.fdopen(fd, "wb") as out:
            out.write(data)
            out.flush()
            os.fsync(out.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
