"""Table-driven: messages and customers through the shipped rules and a test file."""

from __future__ import annotations

import json
import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from router.cli import main
from router.models import Attachment, ConversationStatus, Customer, CustomerHistory, Direction, Message
from router.routing.rules import RulesRouting, load_rules
from tests.router.routing.rules.conftest import write_config

REPO = Path(__file__).resolve().parents[4]
NOW = datetime(2026, 3, 2, 10, 0, tzinfo=UTC)  # a Monday


def message(text: str = "", channel: str = "webchat", attachments: tuple[str, ...] = ()) -> Message:
    return Message(
        id="msg_1", conversation_id=None, customer_id=None, direction=Direction.IN, author="customer",
        channel=channel, text=text, created_at=NOW, attachments=[Attachment(kind=k) for k in attachments],  # type: ignore[arg-type]
    )


def customer(**attributes: Any) -> Customer:
    return Customer(id="cus_1", attributes=attributes, created_at=NOW, updated_at=NOW)


SHIPPED = [
    # (case, message, customer attributes, rule, status, team, priority)
    ("gold tier skips the bot", message("hi"), {"tier": "gold"}, "valuable customers skip the bot",
     ConversationStatus.QUEUED, "senior", 80),
    ("high lifetime value skips the bot", message("hi"), {"lifetime_value": 12000}, "valuable customers skip the bot",
     ConversationStatus.QUEUED, "senior", 80),
    ("a short question goes to the bot", message("where is my parcel?"), {}, "simple questions go to the bot",
     ConversationStatus.BOT, "support", 20),
    ("asking for a person", message("operator please"), {}, "asked for a person",
     ConversationStatus.QUEUED, "support", 40),
    ("asking for a person, in Russian", message("Позовите оператора, пожалуйста. Оператор!"), {},
     "asked for a person", ConversationStatus.QUEUED, "support", 40),
    ("an attachment is no simple question", message("see photo", attachments=("image",)), {}, None,
     ConversationStatus.QUEUED, "support", 10),
    ("email is no chat", message("hi", channel="email"), {}, None, ConversationStatus.QUEUED, "support", 10),
    ("a long story goes to people", message("x" * 201), {"tier": "silver"}, None,
     ConversationStatus.QUEUED, "support", 10),
]


@pytest.mark.parametrize(("case", "msg", "attrs", "rule", "status", "team", "priority"), SHIPPED,
                         ids=[c[0] for c in SHIPPED])
def test_shipped_rules(
    case: str, msg: Message, attrs: dict[str, Any], rule: str | None, status: ConversationStatus, team: str,
    priority: int,
) -> None:
    routing = RulesRouting(load_rules(REPO / "config" / "rules.yaml"), clock=lambda: NOW)
    decision = routing.decide(msg, customer(**attrs))
    assert decision.trace is not None
    assert (decision.trace.matched_rule, decision.status, decision.team, decision.priority) == (
        rule, status, team, priority)
    assert decision.rules_version == routing.ruleset.version


FACTS_RULES = """\
timezone: Europe/Moscow
rules:
  - {name: tagged, when: "'vip' in customer_tags", queue: {team: senior}}
  - {name: plan, when: "attributes['plan'] == 'pro'", queue: {team: senior, priority: 1}}
  - {name: frequent, when: contacts_7d >= 3, queue: {team: senior, priority: 2}}
  - {name: returning, when: customer_returning and contacts_30d >= 1, queue: {team: senior, priority: 3}}
  - {name: russian, when: language == 'ru', queue: {team: senior, priority: 4}}
  - {name: morning, when: now.hour < 14 and now.weekday == 'Monday', queue: {team: senior, priority: 5}}
default: {queue: {team: support}}
"""

RECENT = (NOW - timedelta(days=1),) * 3

FACT_CASES = [
    ("tags", message("x"), {"tags": ["vip", "b2b"]}, CustomerHistory(), "tagged"),
    ("custom attribute", message("x"), {"plan": "pro"}, CustomerHistory(), "plan"),
    ("contacts in the last 7 days", message("x"), {}, CustomerHistory(total=3, recent=RECENT), "frequent"),
    ("returning", message("x"), {}, CustomerHistory(total=1, recent=(NOW - timedelta(days=20),)), "returning"),
    ("language from the customer", message("x"), {"language": "ru"}, CustomerHistory(), "russian"),
    # 10:00 UTC is 13:00 in Moscow on a Monday
    ("local time", message("x"), {}, CustomerHistory(), "morning"),
]


@pytest.mark.parametrize(("case", "msg", "attrs", "history", "rule"), FACT_CASES, ids=[c[0] for c in FACT_CASES])
def test_facts(
    tmp_path: Path, case: str, msg: Message, attrs: dict[str, Any], history: CustomerHistory, rule: str
) -> None:
    routing = RulesRouting(load_rules(write_config(tmp_path, FACTS_RULES)), clock=lambda: NOW)
    decision = routing.decide(msg, customer(**attrs), history)
    assert decision.trace is not None and decision.trace.matched_rule == rule


def test_a_customer_without_the_attribute_is_simply_not_matched(tmp_path: Path) -> None:
    routing = RulesRouting(load_rules(write_config(tmp_path, FACTS_RULES)), clock=lambda: NOW + timedelta(hours=5))
    decision = routing.decide(message("x"), customer())
    assert decision.trace is not None
    assert decision.trace.matched_rule is None and decision.team == "support"
    plan = decision.trace.rules[1].conditions[0]
    assert plan.value is False and plan.error is None  # an attribute the customer lacks is null, no error


@pytest.mark.parametrize(("attrs", "team"), [
    ({"tier": "Gold"}, "senior"), ({"tier": "PLATINUM"}, "senior"), ({"tags": ["VIP"]}, "senior"),
    ({"tags": "Vip"}, "senior"), ({"tier": "silver", "tags": ["b2b"]}, "support"),
])
def test_a_tier_or_tag_is_matched_whatever_its_case(tmp_path: Path, attrs: dict[str, Any], team: str) -> None:
    """A CRM's or a spreadsheet's 'Gold' is the rules' 'gold': such a customer went by the bot."""
    rules = ("rules:\n  - {name: valuable, when: \"customer_tier in ['gold', 'platinum'] or 'vip' in customer_tags\","
             " queue: {team: senior}}\ndefault: {queue: {team: support}}\n")
    routing = RulesRouting(load_rules(write_config(tmp_path, rules)), clock=lambda: NOW)
    assert routing.decide(message("x"), customer(**attrs)).team == team


NEGATED = """\
rules:
  - {name: not b2b, when: "attributes['segment'] != 'b2b'", queue: {team: senior}}
default: {queue: {team: support}}
"""


@pytest.mark.parametrize(("attrs", "team"), [({}, "senior"), ({"segment": "retail"}, "senior"),
                                             ({"segment": "b2b"}, "support")])
def test_a_negated_attribute_holds_for_customers_without_it(tmp_path: Path, attrs: dict[str, Any], team: str) -> None:
    """"Everyone who is not b2b": the failed lookup of a missing attribute made the condition false for them."""
    routing = RulesRouting(load_rules(write_config(tmp_path, NEGATED)), clock=lambda: NOW)
    assert routing.decide(message("x"), customer(**attrs)).team == team


def test_trace_shows_every_condition_and_stops_at_the_first_false(tmp_path: Path) -> None:
    path = write_config(tmp_path)
    routing = RulesRouting(load_rules(path), clock=lambda: NOW)
    decision = routing.decide(message("x", attachments=("image",)), customer())
    trace = decision.trace
    assert trace is not None
    assert [(r.rule, r.matched) for r in trace.rules] == [("vip", False), ("simple", False)]
    assert [c.value for c in trace.rules[1].conditions] == [False, None]  # the second was not needed
    assert trace.step == "team support priority 10" and trace.facts["has_attachments"] is True


def test_explain_command(capsys: pytest.CaptureFixture[str]) -> None:
    rules = str(REPO / "config" / "rules.yaml")
    assert main(["rules", "explain", "--rules", rules, "--text", "hello", "--customer-json", '{"tier": "gold"}']) == 0
    out = capsys.readouterr().out
    assert "rule 'valuable customers skip the bot': team senior priority 80" in out
    assert "true     customer_tier in ['gold', 'platinum'] or customer_ltv >= 5000" in out
    assert main(["rules", "explain", "--rules", rules, "--customer-json", "[1]"]) == 2
    assert "JSON object" in capsys.readouterr().err


@pytest.mark.parametrize(("args", "said"), [
    (["--previous", "-3"], "argument --previous: -3 is below 0"),
    (["--contacts-7d", "-1"], "argument --contacts-7d: -1 is below 0"),
    (["--contacts-30d", "many"], "argument --contacts-30d: 'many' is no number"),
    (["--language", "12"], "argument --language: '12' names no language"),
])
def test_explain_refuses_what_no_message_or_customer_could_be(
    args: list[str], said: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """A negative count of earlier conversations was taken (a 'new' customer), and so
    was a language no message could carry."""
    with pytest.raises(SystemExit) as exited:
        main(["rules", "explain", "--config", str(REPO / "config"), "--text", "x", *args])
    assert exited.value.code == 2
    assert said in capsys.readouterr().err


def test_explain_warns_of_a_channel_the_folder_has_no_connector_for(capsys: pytest.CaptureFixture[str]) -> None:
    """A mistyped --channel was explained silently, as a chat channel nobody has."""
    assert main(["rules", "explain", "--config", str(REPO / "config"), "--channel", "telegarm", "--text", "x"]) == 0
    err = capsys.readouterr().err
    assert "warning: no connector is named 'telegarm'" in err and "telegram" in err
    assert main(["rules", "explain", "--config", str(REPO / "config"), "--channel", "telegram", "--text", "x"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_explain_decides_as_the_service_does(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """explain read ./config whatever --config said, left out bot.yaml's ways of
    asking for a person (the service takes them), and could not be asked about
    a time: office hours could not be tried."""
    folder = tmp_path / "mine"
    shutil.copytree(REPO / "config", folder)
    bot = folder / "bot.yaml"
    bot.write_text(bot.read_text(encoding="utf-8").replace("human_request: []", "human_request: [позовите старшего]"),
                   encoding="utf-8")
    assert main(["rules", "explain", "--config", str(folder), "--text", "позовите старшего"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"{folder / 'rules.yaml'}: rule 'asked for a person'"), out
    assert main(["rules", "explain", "--config", str(tmp_path / "nowhere"), "--text", "x"]) == 1
    assert "no such configuration folder" in capsys.readouterr().err
    at = "2026-03-07T23:00:00+03:00"  # a Saturday night
    assert main(["rules", "explain", "--config", str(folder), "--text", "x", "--at", at, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["trace"]["facts"]["now"].startswith("2026-03-07T23:00")
    assert main(["rules", "check", "--config", str(folder)]) == 0
    assert f"{folder / 'rules.yaml'}: ok" in capsys.readouterr().out
