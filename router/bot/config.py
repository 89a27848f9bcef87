"""``config/bot.yaml``: which bot answers, what the built-in one knows, and
when it steps aside. Validated whole on start; every problem is reported as
``file:line: where: message`` and the service does not start."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated, Any, Literal, Self

import yaml
from pydantic import BaseModel, ConfigDict, Field, HttpUrl, model_validator

from router.bot.greetings import is_command
from router.routing.rules.schema import Duration
from router.texts import Language, Localized, LocalizedPiece, Text, ru_en
from router.words import words
from router.yamlconf import ConfigError, parse_yaml, place_at, problem_at, read_text, validate

BOT_FILE = "bot.yaml"

# {name} or {name|fallback}: a customer attribute, nothing else (no format-string access)
PLACEHOLDER = re.compile(r"\{(\w+)(?:\|([^{}]*))?\}")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Intent(_Strict):
    name: Annotated[str, Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_.-]+$")]
    title: Localized = Field(description="a few words naming the topic, for a clarifying question")
    examples: dict[Language, list[Text]] = Field(description="how customers ask, per language")
    answer: Localized = Field(description="the answer; {name} and other customer attributes, {name|fallback}")
    # what a returning customer is told they wrote about: «о сроках доставки», "about delivery times";
    # without it the title serves (messages.about_title)
    topic: Localized | None = None
    # asking the same thing again right after this answer means it did not help
    handoff_on_repeat: bool = True

    @model_validator(mode="after")
    def _has_examples(self) -> Self:
        if not any(self.examples.values()):
            raise ValueError("give at least one example phrasing")
        return self


class Messages(_Strict):
    clarify: LocalizedPiece = Field(default_factory=lambda: ru_en(
        "Уточните, пожалуйста, что вас интересует: {options}?",
        "Just to be sure, what would you like to know: {options}?",
    ))
    options_joiner: LocalizedPiece = Field(default_factory=lambda: ru_en(" или ", " or "))
    handoff: LocalizedPiece = Field(default_factory=lambda: ru_en(
        "Передаю ваш вопрос коллеге — он скоро ответит здесь же.",
        "I am passing your question to a colleague, who will answer here soon.",
    ))
    # a greeting or a bot command (/start) with no question: the bot greets back and invites one
    greeting: LocalizedPiece = Field(default_factory=lambda: ru_en(
        "Здравствуйте! Чем могу помочь? Напишите ваш вопрос.",
        "Hello! How can I help? Please type your question.",
    ))
    # a thanks that asks nothing more («Спасибо!», "thanks a lot"): the bot answers it and keeps the conversation
    thanks: LocalizedPiece = Field(default_factory=lambda: ru_en(
        "Пожалуйста! Если появятся вопросы, пишите.",
        "You're welcome! Write if you have any other questions.",
    ))
    # a goodbye with no thanks («Всё, пока», «До свидания», "bye"): the bot says goodbye and keeps the conversation
    goodbye: LocalizedPiece = Field(default_factory=lambda: ru_en(
        "Всего доброго! Если появятся вопросы, пишите.",
        "Goodbye! Write if you have any other questions.",
    ))
    # a recognised customer back after a pause (welcome_back); {name} is their name
    welcome_back: LocalizedPiece = Field(default_factory=lambda: ru_en("Здравствуйте, {name}!", "Hello, {name}!"))
    # the same without a real name on the profile
    welcome_back_anonymous: LocalizedPiece = Field(default_factory=lambda: ru_en("Здравствуйте!", "Hello!"))
    # where they left off, in their open conversation: {when} «1 день назад», {where} «в WhatsApp»,
    # {topic} «о сроках доставки»
    left_off: LocalizedPiece = Field(default_factory=lambda: ru_en(
        "Вы писали нам {when} {where} {topic} — продолжим?",
        "You wrote to us {when} {where} {topic}: shall we continue?",
    ))
    # the same when the bot did not answer what it was about
    left_off_no_topic: LocalizedPiece = Field(default_factory=lambda: ru_en(
        "Вы писали нам {when} {where} — продолжим?",
        "You wrote to us {when} {where}: shall we continue?",
    ))
    # the topic from an intent's title when it has no ``topic``
    about_title: LocalizedPiece = Field(default_factory=lambda: ru_en("на тему «{title}»", "about {title}"))


class WelcomeBack(_Strict):
    """A customer writing from a verified identity after ``pause`` since
    their previous message is greeted by name, and told where they left off
    when their conversation is still open."""

    enabled: bool = True
    pause: Duration = Field(4 * 3600.0, description="seconds (or 4h, 30m) since their previous message")

    @model_validator(mode="after")
    def _positive(self) -> Self:
        if self.pause <= 0:
            raise ValueError("pause must be more than 0 seconds")
        return self


class ExternalBot(_Strict):
    """A bot behind Rasa's REST channel (or anything speaking it)."""

    url: HttpUrl = Field(description="e.g. http://localhost:5005/webhooks/rest/webhook")
    timeout: Duration = Field(5.0, description="seconds to wait for its answer; then people take over")

    @model_validator(mode="after")
    def _positive(self) -> Self:
        if self.timeout <= 0:
            raise ValueError("timeout must be more than 0 seconds")
        return self


Method = Literal["hybrid", "embedding", "lexical"]


class Thresholds(_Strict):
    """When a matcher answers; each matcher scores on its own scale, so each
    has its own (the defaults are the measured ones, bench/bot.py)."""

    threshold: float = Field(gt=0, lt=1, description="the least confidence (0-1) to answer")
    clarify_margin: float = Field(ge=0, lt=1, description="two intents closer than this: one clarifying question")
    off_topic_margin: float = Field(ge=0, lt=1, description="an intent must score this much above the off_topic "
                                    "examples to be answered; closer, people take over")


class HybridThresholds(Thresholds):
    threshold: float = Field(0.50, gt=0, lt=1)
    clarify_margin: float = Field(0.08, ge=0, lt=1)
    off_topic_margin: float = Field(0.10, ge=0, lt=1)


class EmbeddingThresholds(Thresholds):
    threshold: float = Field(0.64, gt=0, lt=1)
    clarify_margin: float = Field(0.02, ge=0, lt=1)
    off_topic_margin: float = Field(0.10, ge=0, lt=1)


class LexicalThresholds(Thresholds):
    threshold: float = Field(0.28, gt=0, lt=1)
    clarify_margin: float = Field(0.08, ge=0, lt=1)
    off_topic_margin: float = Field(0.10, ge=0, lt=1)


class Matching(_Strict):
    """How the builtin bot reads a message: ``hybrid`` (meaning and words),
    ``embedding`` (meaning only) or ``lexical`` (words only, no model)."""

    method: Method = "hybrid"
    hybrid: HybridThresholds = Field(default_factory=HybridThresholds)
    embedding: EmbeddingThresholds = Field(default_factory=EmbeddingThresholds)
    lexical: LexicalThresholds = Field(default_factory=LexicalThresholds)

    @property
    def chosen(self) -> Thresholds:
        thresholds: Thresholds = getattr(self, self.method)
        return thresholds


class BotFile(_Strict):
    engine: Literal["builtin", "external"] = "builtin"
    matching: Matching = Field(default_factory=Matching)
    human_request: list[Text] = Field(
        default_factory=list, description="phrases added to the built-in vocabulary of asking for a person "
                                          "(router/human_request.py), which the rules read too; any word form, "
                                          "order, typos"
    )
    messages: Messages = Field(default_factory=Messages)
    welcome_back: WelcomeBack = Field(default_factory=WelcomeBack)
    intents: list[Intent] = Field(default_factory=list)
    off_topic: dict[Language, list[Text]] = Field(
        default_factory=dict,
        description="what customers ask that the bot leaves to people; a message closer to these than to any "
                    "intent is handed off (questions that share words with an intent but mean something else)",
    )
    external: ExternalBot | None = None

    @model_validator(mode="after")
    def _engine_needs(self) -> Self:
        if self.engine == "external" and self.external is None:
            raise ValueError("engine: external needs an 'external:' section with the bot's url")
        if self.engine == "builtin" and not self.intents:
            raise ValueError("the builtin bot needs at least one intent")
        return self


def render(template: str, values: dict[str, Any]) -> str:
    """Fill ``{name}``/``{name|fallback}`` from ``values``; nothing else is
    interpreted, and a value's own braces stay as they are (one pass)."""

    def fill(match: re.Match[str]) -> str:
        value = values.get(match.group(1))
        if value is None or value == "":
            return match.group(2) or ""
        return str(value)

    return PLACEHOLDER.sub(fill, template)


_CYRILLIC = re.compile(r"[а-яё]", re.IGNORECASE)


def _latin_russian(lang: str, text: str) -> str | None:
    """A Russian example typed in Latin letters: refused, because its words
    would join the known *English* words, and a customer's translit made of
    them would no longer be read as Russian (measured: «gde moi zakaz» lost
    its intent once «zakaz» was a known word)."""
    if lang != "ru" or _CYRILLIC.search(text) or is_command(text):  # /start: no language's words
        return None
    return (f"Russian example {text!r} is in Latin letters: write it in Cyrillic (a customer's translit "
            "is read as Russian anyway)")


def phrasing(text: str) -> str:
    """What two examples written alike share: their words as the bot reads
    them (``router.words``: case, ``ё`` as ``е``, look-alike letters), without
    the spaces and punctuation around them."""
    return " ".join(words(text)) or text.strip()


def _problems(config: BotFile, node: yaml.Node | None, filename: str) -> list[str]:
    """What pydantic cannot see alone: duplicates across intents and off_topic
    (written alike: ``phrasing``), and Russian examples typed in Latin letters."""
    problems: list[str] = []
    names: dict[str, int] = {}
    # each phrasing: the intent it is first an example of, where, and as written there
    phrasings: dict[str, tuple[str, tuple[int | str, ...], str]] = {}

    def also(first: tuple[str, tuple[int | str, ...], str]) -> str:
        intent, loc, written = first
        return f"is also an example of intent {intent!r} ({place_at(filename, node, loc)}: {written!r})"

    for i, intent in enumerate(config.intents):
        if intent.name in names:
            first = f"intents.{names[intent.name]}"
            problems.append(problem_at(filename, node, ("intents", i, "name"),
                                       f"intent {intent.name!r} is defined twice (first as {first})"))
        names.setdefault(intent.name, i)
        for lang, texts in intent.examples.items():
            for j, text in enumerate(texts):
                loc: tuple[int | str, ...] = ("intents", i, "examples", lang, j)
                if (latin := _latin_russian(lang, text)) is not None:
                    problems.append(problem_at(filename, node, loc, latin))
                key = phrasing(text)
                other = phrasings.get(key)
                if other is not None and other[0] != intent.name:
                    problems.append(problem_at(filename, node, loc, f"example {text!r} {also(other)}"))
                phrasings.setdefault(key, (intent.name, loc, text))
    for lang, texts in config.off_topic.items():
        for j, text in enumerate(texts):
            if (latin := _latin_russian(lang, text)) is not None:
                problems.append(problem_at(filename, node, ("off_topic", lang, j), latin))
            other = phrasings.get(phrasing(text))
            if other is not None:
                problems.append(problem_at(filename, node, ("off_topic", lang, j), f"{text!r} {also(other)}"))
    return problems


def load_bot_config(path: Path) -> BotFile:
    data, node = parse_yaml(read_text(path), str(path))
    config = validate(BotFile, data, node, str(path))
    problems = _problems(config, node, str(path))
    if problems:
        raise ConfigError(problems)
    return config
