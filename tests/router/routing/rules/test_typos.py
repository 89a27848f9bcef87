"""The typos an admin makes in a condition, at every door a rules file comes
through: ``omnirouter rules check``, the service's start, and hot reload.

A rules file that type-checks runs as written: every part of a condition is
checked (an ``or`` whose right side is a bit shift is refused, not silently
false), with ``file:line`` and the offending part quoted; conditions that are
always true or always false load with a warning (exit code 0)."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient

from router.appkeys import ROUTER, RULES_RELOADER, STORE
from router.cli import main
from router.config import Settings
from router.models import IdentityRef, InboundMessage
from router.server.app import create_app
from router.yamlconf import ConfigError
from tests.conftest import ADMIN_PASSWORD
from tests.router.routing.rules.conftest import edit, write_config

Client = TestClient[web.Request, web.Application]

VIP = "customer_tier in ['gold', 'platinum'] or customer_ltv > 100000"


def rules_with(when: str) -> str:
    """A rules file whose first rule (line 3) has the condition ``when``."""
    return (
        "rules:\n"
        "  - name: vip\n"
        f"    when: \"{when}\"\n"
        "    queue: {team: senior, priority: 80}\n"
        "default:\n"
        "  bot: {then: {team: support, priority: 10}}\n"
        # after the rules, so that the condition stays on line 3
        "calendars:\n"
        "  office: {timezone: Europe/Moscow, hours: {mon-fri: ['09:00-18:00']}}\n"
    )


# (case, condition, quoted words the message must hold)
ERRORS = [
    # operators of other languages
    ("shift for >", "customer_tier in ['gold', 'platinum'] or customer_ltv >> 100000",
     ["`customer_ltv >> 100000` is a bit shift", "did you mean `customer_ltv > 100000`?"]),
    ("shift for <", "customer_ltv << 10", ["bit shift", "did you mean `customer_ltv < 10`?"]),
    ("=> for >=", "customer_ltv => 5000", ["`=>`", "did you mean `>=`?"]),
    ("=< for <=", "customer_ltv =< 5000", ["`=<`", "did you mean `<=`?"]),
    ("= for ==", "customer_tier = 'gold'", ["`=`", "did you mean `==`?"]),
    ("<> for !=", "customer_tier <> 'gold'", ["`<>`", "did you mean `!=`?"]),
    ("&& for and", "customer_new && asked_for_human", ["`&&`", "did you mean `and`?"]),
    ("|| for or", "customer_new || asked_for_human", ["`||`", "did you mean `or`?"]),
    ("! for not", "!has_attachments", ["`!`", "did you mean `not`?"]),
    ("& for and", "customer_new & asked_for_human",
     ["bitwise `&`", "did you mean `customer_new and asked_for_human`?"]),
    ("bitwise on a number", "customer_ltv & 4 == 4", ["`customer_ltv & 4` is the bitwise `&`"]),
    # names
    ("misspelt fact", "customer_teir == 'gold'", ["unknown fact 'customer_teir' (did you mean 'customer_tier'?)"]),
    ("misspelt fact inside or", "customer_tier == 'gold' or custmer_ltv > 5000",
     ["unknown fact 'custmer_ltv' (did you mean 'customer_ltv'?)"]),
    ("misspelt attribute", "text.lenght > 5", ["`text.lenght`", "did you mean 'length'?"]),
    # types
    ("a number as the condition", "customer_ltv", ["`customer_ltv` is a number, not a yes/no condition"]),
    ("a number inside or", "customer_tier == 'gold' or customer_ltv",
     ["`customer_ltv` is a number, not a yes/no condition", "operand of `or`"]),
    ("a string inside and", "customer_tier and asked_for_human", ["`customer_tier` is a string, not a yes/no"]),
    ("a number under not", "not contacts_7d", ["`contacts_7d` is a number", "operand of `not`"]),
    ("string == number", "customer_tier == 5", ["`customer_tier == 5` compares a string with a number"]),
    ("number == string", "customer_ltv == 'gold'", ["`customer_ltv == 'gold'` compares a number with a string"]),
    ("number > string", "customer_ltv > 'gold'", ["`customer_ltv > 'gold'` compares a number with a string"]),
    ("string > number deep inside", "asked_for_human or (customer_new and customer_tier > 3)",
     ["`customer_tier > 3` compares a string with a number"]),
    ("number among strings", "customer_ltv in ['gold', 'platinum']", ["looks for a number among strings"]),
]

# (case, condition, words of the warning)
WARNINGS = [
    ("literal true", "true", ["`true` is always true"]),
    ("constant comparison", "1 == 2", ["always false"]),
    ("or true", "customer_ltv > 5 or true", ["`customer_ltv > 5 or true` is always true"]),
    ("and false", "asked_for_human and false", ["always false"]),
    ("compared with itself", "customer_ltv == customer_ltv", ["compares a value with itself: always true"]),
    ("contradictory range", "customer_ltv > 5 and customer_ltv < 3",
     ["can never be true", "`customer_ltv > 5` and `customer_ltv < 3`"]),
    ("two different values", "customer_tier == 'gold' and customer_tier == 'silver'", ["can never be true"]),
    ("covering ranges", "customer_ltv >= 5000 or customer_ltv < 5000", ["is always true"]),
    # a value the fact never takes: the rule loaded without a word and never matched
    ("a language in capitals", "language == 'RU'", ["always false", "language is one of 'ru', 'en'"]),
    ("a weekday in Russian", "now.weekday == 'Суббота'", ["always false", "'Saturday'"]),
    ("a kind of attachment of another name", "'photo' in attachment_kinds", ["always false", "'image'"]),
    ("not a language we speak", "language != 'english'", ["always true"]),
    # tiers and tags are compared in lower case: a capital letter never matched
    ("a tier with a capital", "customer_tier == 'Gold'", ["customer_tier is in lower case", "write 'gold'"]),
    ("tiers with a capital", "customer_tier in ['Gold', 'platinum']", ["'Gold' never matches: write 'gold'"]),
    ("a tag with capitals", "'VIP' in customer_tags", ["customer_tags is in lower case", "write 'vip'"]),
]


@pytest.mark.parametrize(("case", "when", "words"), ERRORS, ids=[c[0] for c in ERRORS])
def test_check_refuses_each_typo_with_its_line_and_part(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, when: str, words: list[str]
) -> None:
    path = write_config(tmp_path, rules_with(when))
    assert main(["rules", "check", str(path)]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert any(line.startswith(f"{path}:3: rules.0.when: ") and all(w in line for w in words) for line in err), err


@pytest.mark.parametrize(("case", "when", "words"), WARNINGS, ids=[c[0] for c in WARNINGS])
def test_check_warns_of_always_true_or_false_and_still_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], case: str, when: str, words: list[str]
) -> None:
    path = write_config(tmp_path, rules_with(when))
    assert main(["rules", "check", str(path)]) == 0
    captured = capsys.readouterr()
    assert "ok, 1 rule, 1 warning," in captured.out
    warning = captured.err.strip().splitlines()
    assert len(warning) == 1 and warning[0].startswith(f"{path}:3: warning: rules.0.when: "), warning
    assert all(w in warning[0] for w in words), warning


def test_check_passes_good_conditions_silently(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for when in (VIP, "now.hour >= 9 and open['office'] != false",
                 "'vip' in customer_tags or attributes['plan'] == 'pro'",
                 "[t for t in customer_tags if t =~ 'vip.*'].length > 0", "customer_ltv >= 10 and customer_ltv <= 10"):
        path = write_config(tmp_path, rules_with(when))
        assert main(["rules", "check", str(path)]) == 0, when
        assert capsys.readouterr().err == "", when


def test_contradicting_items_of_a_when_list_are_warned_about(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = ("rules:\n  - name: never\n    when:\n      - customer_ltv > 5000\n      - customer_ltv < 100\n"
            "    queue: {team: senior}\ndefault: {queue: {team: support}}\n")
    path = write_config(tmp_path, text)
    assert main(["rules", "check", str(path)]) == 0
    err = capsys.readouterr().err
    assert f"{path}:4: warning: rules.0.when: these conditions can never be true" in err


def test_the_handoff_condition_is_checked_as_deeply(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = ("rules: []\ndefault:\n  bot:\n    handoff: bot_failed or contacts_7d\n"
            "    then: {team: support}\n")
    path = write_config(tmp_path, text)
    assert main(["rules", "check", str(path)]) == 1
    assert f"{path}:4: default.bot.handoff: `contacts_7d` is a number" in capsys.readouterr().err


# -- at start ----------------------------------------------------------------------------


@pytest.mark.parametrize(("case", "when", "words"), ERRORS, ids=[c[0] for c in ERRORS])
def test_start_refuses_each_typo(
    tmp_path: Path, settings: Settings, case: str, when: str, words: list[str]
) -> None:
    settings.connectors = {}
    path = write_config(tmp_path / "config", rules_with(when))
    with pytest.raises(ConfigError) as caught:
        create_app(settings, path.parent, base_dir=tmp_path)
    assert any(p.startswith(f"{path}:3: rules.0.when: ") and all(w in p for w in words)
               for p in caught.value.problems), caught.value.problems


@pytest.mark.parametrize(("case", "when", "words"), WARNINGS, ids=[c[0] for c in WARNINGS])
def test_start_logs_each_warning_and_runs(
    tmp_path: Path, settings: Settings, caplog: pytest.LogCaptureFixture, case: str, when: str, words: list[str]
) -> None:
    settings.connectors = {}
    path = write_config(tmp_path / "config", rules_with(when))
    with caplog.at_level(logging.WARNING, logger="router.routing.decide"):
        app = create_app(settings, path.parent, base_dir=tmp_path)
    assert RULES_RELOADER in app
    logged = [r.getMessage() for r in caplog.records if r.name == "router.routing.decide"]
    assert any(m.startswith(f"{path}:3: warning: rules.0.when: ") and all(w in m for w in words)
               for m in logged), logged


# -- at hot reload -----------------------------------------------------------------------


@pytest.fixture
async def client(
    aiohttp_client: Callable[..., Awaitable[Client]], settings: Settings, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> Client:
    monkeypatch.setenv("OMNIROUTER_ADMIN_PASSWORD", ADMIN_PASSWORD)
    settings.connectors = {}
    config = write_config(tmp_path / "config", rules_with(VIP)).parent
    c = await aiohttp_client(create_app(settings, config, base_dir=tmp_path))
    await c.post("/api/login", json={"username": "admin", "password": ADMIN_PASSWORD})
    return c


async def team_of(client: Client, phone: str, ltv: float) -> str | None:
    """The team a customer worth ``ltv`` (as the CRM put it) is routed to when
    they write by SMS; None while the bot has them."""
    resp = await client.put(f"/api/customers/by/phone/{phone}", json={"lifetime_value": ltv})
    assert resp.status == 200, await resp.text()
    accepted = await client.app[ROUTER].on_message(InboundMessage(
        channel="sms", external_id=f"sms-{phone}", sender=IdentityRef(kind="sms", value=phone), text="hello"))
    assert accepted.conversation_id is not None
    conversation = await client.app[STORE].get_conversation(accepted.conversation_id)
    return conversation.team if conversation.status.value == "queued" else None


async def test_the_vip_rule_with_a_shift_typo_never_replaces_the_running_one(client: Client, tmp_path: Path) -> None:
    """The acceptance case: `>>` typed for `>` used to load and send a 150000
    customer to the bot. The edit is refused and the running rule keeps working."""
    assert await team_of(client, "+79120000001", 150000) == "senior"
    edit(tmp_path / "config" / "rules.yaml", rules_with(VIP.replace("> 100000", ">> 100000")))
    assert client.app[RULES_RELOADER].check() is False
    assert await team_of(client, "+79120000002", 150000) == "senior"
    assert await team_of(client, "+79120000003", 10) is None


@pytest.mark.parametrize(("case", "when", "words"), ERRORS, ids=[c[0] for c in ERRORS])
async def test_reload_refuses_each_typo_and_keeps_the_running_rules(
    client: Client, tmp_path: Path, case: str, when: str, words: list[str]
) -> None:
    reloader = client.app[RULES_RELOADER]
    running = reloader.status.version
    path = tmp_path / "config" / "rules.yaml"
    edit(path, rules_with(when))
    assert reloader.check() is False
    assert reloader.status.version == running
    status = await (await client.get("/api/rules/status")).json()
    assert status["version"] == running
    assert any(p.startswith(f"{path}:3: rules.0.when: ") and all(w in p for w in words)
               for p in status["problems"]), status["problems"]


async def test_reload_applies_a_warned_file_and_shows_the_warning(client: Client, tmp_path: Path) -> None:
    reloader = client.app[RULES_RELOADER]
    path = tmp_path / "config" / "rules.yaml"
    edit(path, rules_with("customer_ltv > 5 or true"))
    assert reloader.check() is True
    status = await (await client.get("/api/rules/status")).json()
    assert status["problems"] == []
    assert [w.split(": warning: ")[0] for w in status["warnings"]] == [f"{path}:3"]
