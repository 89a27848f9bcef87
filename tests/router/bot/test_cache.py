"""The bot's examples are embedded once and read back from the cache folder
at the next start: a changed example is the only one embedded again, another
model is another file, and a damaged file is embedded again, never a crash."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from router.bot import FaqBot
from router.bot.cache import ExampleVectors
from router.bot.config import BotFile
from router.bot.e5 import E5Encoder, ModelFile, bundled_model
from router.bot.semantic import Vectors
from tests.router.bot.conftest import turn

TEXTS = ["Где мой заказ?", "how long does delivery take", "Можно оплатить картой?"]


class Counting:
    """The real model, counting the texts it embeds."""

    def __init__(self, inner: E5Encoder) -> None:
        self.inner = inner
        self.identity = inner.identity  # what its vectors depend on: the cache's key
        self.texts: list[str] = []

    def encode(self, texts: list[str]) -> Vectors:
        self.texts += texts
        return self.inner.encode(texts)


def cached(folder: Path, encoder: E5Encoder, texts: list[str], model: str | None = None) -> tuple[dict[str, Vectors],
                                                                                                   list[str]]:
    counting = Counting(encoder)
    found = ExampleVectors(folder, model or encoder.identity).vectors(texts, counting.encode)
    return found, counting.texts


def test_the_examples_are_embedded_once_and_read_back_alike(tmp_path: Path, encoder: E5Encoder) -> None:
    first, embedded = cached(tmp_path, encoder, TEXTS)
    assert embedded == TEXTS
    again, embedded = cached(tmp_path, encoder, TEXTS)
    assert embedded == []
    for text in TEXTS:
        np.testing.assert_array_equal(again[text], first[text])
        np.testing.assert_allclose(again[text], encoder.encode([text])[0], atol=1e-6)
    assert [p.name for p in tmp_path.iterdir()] == [ExampleVectors(tmp_path, encoder.identity).path.name]


def test_a_changed_example_is_the_only_one_embedded_again(tmp_path: Path, encoder: E5Encoder) -> None:
    cached(tmp_path, encoder, TEXTS)
    edited = [*TEXTS[:2], "Можно ли оплатить через СБП?"]
    found, embedded = cached(tmp_path, encoder, edited)
    assert embedded == ["Можно ли оплатить через СБП?"]
    assert set(found) == set(edited)
    _, embedded = cached(tmp_path, encoder, edited)
    assert embedded == []


def test_another_model_is_another_file(tmp_path: Path, encoder: E5Encoder) -> None:
    cached(tmp_path, encoder, TEXTS)
    _, embedded = cached(tmp_path, encoder, TEXTS, model=encoder.identity + ", another version")
    assert embedded == TEXTS
    assert len(list(tmp_path.iterdir())) == 2


@pytest.mark.parametrize("damage", ["truncated", "garbage", "empty", "wrong arrays"])
def test_a_damaged_cache_file_is_embedded_again(tmp_path: Path, encoder: E5Encoder, damage: str) -> None:
    first, _ = cached(tmp_path, encoder, TEXTS)
    path = ExampleVectors(tmp_path, encoder.identity).path
    whole = path.read_bytes()
    if damage == "truncated":
        path.write_bytes(whole[: len(whole) // 2])
    elif damage == "garbage":
        path.write_bytes(b"\x00not a numpy file" * 100)
    elif damage == "empty":
        path.write_bytes(b"")
    else:
        with path.open("wb") as out:
            np.savez(out, texts=np.array(TEXTS), vectors=np.zeros((2, 3), np.float32))
    found, embedded = cached(tmp_path, encoder, TEXTS)
    assert embedded == TEXTS
    for text in TEXTS:
        np.testing.assert_allclose(found[text], first[text], atol=1e-6)
    _, embedded = cached(tmp_path, encoder, TEXTS)
    assert embedded == []  # written whole again


def test_a_bot_from_the_cache_answers_as_one_that_embedded_its_examples(
    tmp_path: Path, shipped: BotFile, encoder: E5Encoder, faq: FaqBot
) -> None:
    FaqBot(shipped, encoder=encoder, cache=tmp_path).load()  # fills the cache
    counting = Counting(encoder)
    bot = FaqBot(shipped, encoder=counting, cache=tmp_path)
    bot.load()
    assert counting.texts == []  # every example from the cache
    for text in ["как можно оплатить?", "how fast can you deliver to Kazan", "хочу вернуть товар"]:
        assert bot.index.rank(text) == faq.index.rank(text)
        assert bot.decide(turn(text)) == faq.decide(turn(text))


@pytest.mark.parametrize("kind", ["tokenizer", "graph"])
@pytest.mark.parametrize("damage", [None, "truncated", "flipped"])
def test_the_tokenizer_and_the_graph_are_kept_and_a_damaged_one_made_again(
    tmp_path: Path, encoder: E5Encoder, damage: str | None, kind: str
) -> None:
    E5Encoder(cache=tmp_path)
    (kept,) = tmp_path.glob(f"{kind}-*")
    whole = kept.read_bytes()
    if damage == "truncated":
        kept.write_bytes(whole[: len(whole) // 3])
    elif damage == "flipped":
        kept.write_bytes(whole[:-10] + bytes(b ^ 0xFF for b in whole[-10:]))
    again = E5Encoder(cache=tmp_path)
    np.testing.assert_allclose(again.encode(TEXTS), encoder.encode(TEXTS), atol=1e-6)
    assert kept.read_bytes() == whole  # made again, whole


def test_a_start_from_the_cache_loads_neither_onnx_nor_the_vocabulary_tables(tmp_path: Path) -> None:
    """What the graph and the tokenizer are made with stays out of the
    server's memory once they are kept (bench/memory.py: ~15 MB of RSS)."""
    E5Encoder(cache=tmp_path)  # fills the cache
    probe = ("import sys; from pathlib import Path; from router.bot.e5 import E5Encoder; "
             f"E5Encoder(cache=Path({str(tmp_path)!r})).encode(['где мой заказ']); "
             "print(sorted(m for m in sys.modules if m == 'onnx' or m.endswith('_pb2') or m == 'router.bot.e5_build'))")
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300)
    assert found.stdout.strip() == "[]", found.stdout + found.stderr


def test_a_model_file_replaced_with_the_same_size_and_date_is_not_served_the_old_graph(tmp_path: Path) -> None:
    """A release of the model of the same shape has the same size, and an image built with fixed
    dates (or a venv copied with its dates) keeps the date: the cache is keyed by the content."""
    model = tmp_path / "e5-small-q4.bin"
    shutil.copyfile(bundled_model(), model)
    cache = tmp_path / "cache"
    E5Encoder(model, cache)  # the old release fills the cache
    was = model.stat()
    count, offset = ModelFile(model)._tensor("l0.q.w", 1)  # the new release: one layer re-quantised
    blocks = np.memmap(model, dtype=[("scale", "<f2"), ("nibbles", "u1", (16,))], mode="r+",
                       offset=offset, shape=(count // 32,))
    blocks["nibbles"] = np.random.default_rng(1).integers(0, 256, blocks["nibbles"].shape, dtype=np.uint8)
    blocks.flush()
    del blocks
    os.utime(model, ns=(was.st_atime_ns, was.st_mtime_ns))
    assert model.stat().st_size == was.st_size
    fresh = E5Encoder(model).encode(TEXTS)
    assert np.abs(E5Encoder(model, cache).encode(TEXTS) - fresh).max() < 1e-5


def test_a_whole_cached_graph_that_onnxruntime_refuses_is_made_again(
    tmp_path: Path, encoder: E5Encoder, caplog: pytest.LogCaptureFixture
) -> None:
    E5Encoder(cache=tmp_path)
    (graph,) = tmp_path.glob("graph-*")
    half = graph.read_bytes()[32:][:1000]
    graph.write_bytes(hashlib.sha256(half).digest() + half)  # whole by its header, no graph to onnxruntime
    with caplog.at_level(logging.WARNING, logger="router.bot.cache"):
        again = E5Encoder(cache=tmp_path)
    assert "was refused" in caplog.text
    assert np.abs(again.encode(TEXTS) - encoder.encode(TEXTS)).max() < 1e-5
    caplog.clear()
    E5Encoder(cache=tmp_path)  # kept anew: the next start reads it
    assert "refused" not in caplog.text
