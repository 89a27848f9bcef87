"""Offline intent matching for Russian and English that holds up to
morphology, typos, word order and mixed Cyrillic/Latin.

A message becomes a bag of terms:
1. words, lower case, ``ё`` → ``е``; a word mixing scripts has its Latin
   look-alike letters read as Cyrillic (``дoставка`` with a Latin ``o``);
2. each word stemmed by Snowball (Russian or English by its script), so
   «доставки», «доставкой», «доставку» are one term;
3. a stem the examples never use is corrected to the closest one they do
   (rapidfuzz, edit-distance ratio), or read as transliterated Russian
   (``dostavka`` → «доставка``) when that is closer;
4. TF-IDF weights (a rare term says more), unknown terms weigh as the
   rarest: a question about something else scores low.

The score of an intent is the cosine similarity of the message with its
closest example, blended with the character 3-grams of the stems (partial
words, compounds); word order plays no part.

The examples' weights are kept by term (``_Postings``), so a message's
cosines with all examples are a few numpy calls over the examples that
share a term with it: the hybrid ranks in a worker thread, and a Python
loop over every example held the GIL (~1.4 ms a message) against the event
loop serving everyone else.
"""

from __future__ import annotations

import math
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

import numpy as np
import numpy.typing as npt
from rapidfuzz import fuzz, process

from router.words import script_of, stem, transliterate, words

# words that say nothing about the topic (after stemming they would still match everywhere)
_STOP_TEXT = """
a an the i me my we our you your he she it its they them is are was were be been am do does did to of in on at
for with and or but if so can could would should will shall may might have has had please hi hello hey there
this that these those what which who whom how when where why any some just about from by as up out into
не ни и а но или да нет я мне меня мой моя мое мои мы нас наш ваш ваша ваше ваши вы вас вам ты тебя тебе
он она оно они его ее их это этот эта эти то тот та те что как когда где куда почему зачем ли же бы
в во на с со к ко по о об от до из за у для при про над под без пожалуйста здравствуйте привет добрый день
можно есть быть был была были будет мочь могу можете подскажите скажите хочу хотел хотела
"""
STOP_WORDS = frozenset(_STOP_TEXT.split())

# unstressed Russian vowels are often written wrong («атменить», «виртуть»): compared as one sound
_VOWEL_SOUNDS = str.maketrans("оеёяэыю", "аииииiу")


def sound(term: str) -> str:
    return term.translate(_VOWEL_SOUNDS)


def _trigrams(term: str) -> list[str]:
    padded = f"<{term}>"
    return [padded[i:i + 3] for i in range(len(padded) - 2)]


@dataclass(frozen=True, slots=True)
class Match:
    intent: str
    score: float


class Matcher(Protocol):
    """Ranks every intent for a message, best first, with a score in 0-1."""

    intents: list[str]

    def rank(self, text: str) -> list[Match]: ...


class _Vector:
    __slots__ = ("norm", "weights")

    def __init__(self, weights: dict[str, float]) -> None:
        self.weights = weights
        self.norm = math.sqrt(sum(w * w for w in weights.values())) or 1.0


class _Postings:
    """Many vectors (the examples), by term: for each term the rows that
    have it and their weights; ``cosines`` gives a query's dot product with
    every row at once (each dot product the sum over the terms the two share)."""

    def __init__(self, vectors: list[_Vector]) -> None:
        rows: dict[str, list[int]] = {}
        weights: dict[str, list[float]] = {}
        for row, vector in enumerate(vectors):
            for term, weight in vector.weights.items():
                rows.setdefault(term, []).append(row)
                weights.setdefault(term, []).append(weight)
        self._rows = {t: np.array(r, dtype=np.intp) for t, r in rows.items()}
        self._weights = {t: np.array(w, dtype=np.float64) for t, w in weights.items()}
        self.norms = np.array([v.norm for v in vectors], dtype=np.float64)

    def cosines(self, query: _Vector) -> npt.NDArray[np.float64]:
        shared = [t for t in query.weights if t in self._rows]
        if not shared:
            return np.zeros(len(self.norms))
        rows = np.concatenate([self._rows[t] for t in shared])
        products = np.concatenate([self._weights[t] * query.weights[t] for t in shared])
        dots = np.bincount(rows, weights=products, minlength=len(self.norms))
        return dots / (query.norm * self.norms)


class IntentIndex:
    """Examples of every intent, indexed once; ``rank`` a message in well under a millisecond."""

    # how much the character 3-grams count against whole terms
    CHAR_WEIGHT = 0.35
    # the closest example against all of an intent's examples together
    CENTROID_WEIGHT = 0.5
    # the least edit-distance ratio (0-100) at which an unknown stem is read as a known one
    FUZZY_CUTOFF = 85.0

    def __init__(self, examples: dict[str, list[str]]) -> None:
        self.intents = list(examples)
        tokenised = [(intent, self._stems(text, known=None)) for intent, texts in examples.items() for text in texts]
        self.vocabulary = {t for _, terms in tokenised for t in terms}
        self._sounds: dict[str, str] = {}
        for term in sorted(self.vocabulary):
            self._sounds.setdefault(sound(term), term)
        self._by_script = {
            lang: sorted(t for t in self.vocabulary if script_of(t) == lang) for lang in ("ru", "en")
        }
        documents = len(tokenised) or 1
        term_df = Counter(t for _, terms in tokenised for t in set(terms))
        gram_df = Counter(g for _, terms in tokenised for g in {g for t in terms for g in _trigrams(t)})
        self._idf = {t: math.log((1 + documents) / (1 + n)) + 1 for t, n in term_df.items()}
        self._gram_idf = {g: math.log((1 + documents) / (1 + n)) + 1 for g, n in gram_df.items()}
        self._unknown_idf = math.log(1 + documents) + 1
        vectors = [self._vectors(terms) for _, terms in tokenised]
        self._example_words = _Postings([words_vec for words_vec, _ in vectors])
        self._example_grams = _Postings([grams_vec for _, grams_vec in vectors])
        # each example's intent, as a position in ``intents``
        position = {intent: n for n, intent in enumerate(self.intents)}
        self._example_intent = np.array([position[intent] for intent, _ in tokenised], dtype=np.intp)
        # every example of an intent together: what it is about overall
        centroids = [self._vectors([t for i, terms in tokenised if i == intent for t in terms])
                     for intent in self.intents]
        self._centroid_words = _Postings([words_vec for words_vec, _ in centroids])
        self._centroid_grams = _Postings([grams_vec for _, grams_vec in centroids])

    def _stems(self, text: str, known: set[str] | None) -> list[str]:
        stems: list[str] = []
        for word in words(text):
            if word in STOP_WORDS:
                continue
            term = stem(word)
            if known is not None and term not in known:
                term = self._closest(word, term)
            if term in STOP_WORDS or not term:
                continue
            stems.append(term)
        return stems

    @lru_cache(maxsize=65536)  # noqa: B019 - the index lives as long as the bot config
    def _closest(self, word: str, term: str) -> str:
        """A stem the examples know for a stem they do not (a typo, translit), or the stem itself."""
        options: list[tuple[str, float]] = []
        if (same := self._sounds.get(sound(term))) is not None:
            options.append((same, 99.0))
        if len(term) >= 4:
            found = process.extractOne(term, self._by_script[script_of(term)], scorer=fuzz.ratio,
                                       score_cutoff=self.FUZZY_CUTOFF)
            if found is not None:
                options.append((found[0], found[1]))
        if script_of(word) == "en":
            russian = stem(transliterate(word))
            if russian in self.vocabulary:
                options.append((russian, 100.0))
            elif len(russian) >= 4:
                found = process.extractOne(russian, self._by_script["ru"], scorer=fuzz.ratio,
                                           score_cutoff=self.FUZZY_CUTOFF)
                if found is not None:
                    options.append((found[0], found[1] - 1))  # a true English word wins a tie
        return max(options, key=lambda o: o[1])[0] if options else term

    def _vectors(self, terms: list[str]) -> tuple[_Vector, _Vector]:
        counts = Counter(terms)
        words_vec = _Vector({t: (1 + math.log(n)) * self._idf.get(t, self._unknown_idf) for t, n in counts.items()})
        grams = Counter(g for t in terms for g in _trigrams(t))
        grams_vec = _Vector({
            g: (1 + math.log(n)) * self._gram_idf.get(g, self._unknown_idf) for g, n in grams.items()
        })
        return words_vec, grams_vec

    def readable(self, text: str) -> str:
        """The message's words as a reader of Russian and English would take
        them: look-alike letters fixed, Russian typed in Latin letters
        (``dostavka``) written in Cyrillic; for a matcher that cannot guess
        these (an embedding model)."""
        return " ".join(self._readable(word) for word in words(text))

    def _readable(self, word: str) -> str:
        if script_of(word) == "ru" or (term := stem(word)) in self.vocabulary:
            return word
        return transliterate(word) if script_of(self._closest(word, term)) == "ru" else word

    def terms(self, text: str) -> list[str]:
        return self._stems(text, known=self.vocabulary)

    def rank(self, text: str) -> list[Match]:
        """Every intent with its score (0-1), best first."""
        terms = self.terms(text)
        if not terms:
            return [Match(intent, 0.0) for intent in self.intents]
        query_words, query_grams = self._vectors(terms)
        # the closest example of each intent (0 for an intent without examples)
        best = np.zeros(len(self.intents))
        np.maximum.at(best, self._example_intent,
                      self._similarity(query_words, query_grams, self._example_words, self._example_grams))
        centroid = self._similarity(query_words, query_grams, self._centroid_words, self._centroid_grams)
        scores = (1 - self.CENTROID_WEIGHT) * best + self.CENTROID_WEIGHT * centroid
        return sorted((Match(i, float(s)) for i, s in zip(self.intents, scores, strict=True)),
                      key=lambda m: -m.score)

    def _similarity(self, words_vec: _Vector, grams_vec: _Vector, words: _Postings, grams: _Postings
                    ) -> npt.NDArray[np.float64]:
        return (1 - self.CHAR_WEIGHT) * words.cosines(words_vec) + self.CHAR_WEIGHT * grams.cosines(grams_vec)
