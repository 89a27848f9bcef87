"""``omnirouter rules …``: check, schema, facts, explain, replay."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, get_args

from router.kinds import RULES_FILE, TEAMS_FILE, AttachmentKind
from router.plurals import counted

# the command line is registered without importing what its commands need
# (pydantic models, rule-engine, the store): each handler imports its own
if TYPE_CHECKING:
    from router.models import ConversationView, Customer, CustomerHistory, Message, RouteTrace
    from router.routing.rules.engine import RuleSet
    from router.routing.rules.replay import ReplayReport
    from router.yamlconf import ConfigError

SCHEMA_KINDS = ("rules", "teams")


def json_schema(kind: str) -> str:
    """The published JSON Schema of a config file, generated from its models."""
    from router.routing.rules.schema import RulesFile, TeamsFile  # noqa: PLC0415

    schemas: dict[str, type[RulesFile] | type[TeamsFile]] = {"rules": RulesFile, "teams": TeamsFile}
    schema = schemas[kind].model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"omnirouter {kind}.yaml"
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def _load(path: str | None, config: str | None = None) -> RuleSet:
    """``path``, else the rules file of the ``config`` folder (``config/`` by default)."""
    from router.routing.rules.engine import load_rules  # noqa: PLC0415
    from router.yamlconf import ConfigError, is_folder  # noqa: PLC0415

    if path is None and config is not None and not is_folder(Path(config)):
        raise ConfigError([f"{config}: no such configuration folder"])
    return load_rules(Path(path or Path(config or "config") / RULES_FILE))


def _print_problems(exc: ConfigError) -> int:
    for problem in exc.problems:
        print(problem, file=sys.stderr)
    return 1


def _check(args: argparse.Namespace) -> int:
    from router.yamlconf import ConfigError  # noqa: PLC0415

    try:
        ruleset = _load(args.file, args.config)
    except ConfigError as exc:
        return _print_problems(exc)
    for warning in ruleset.warnings:  # likely mistakes that still load: the exit code stays 0
        print(warning, file=sys.stderr)
    warned = f", {counted(len(ruleset.warnings), 'warning', 'warnings')}" if ruleset.warnings else ""
    print(f"{ruleset.path}: ok, {counted(len(ruleset.rules), 'rule', 'rules')}{warned}, version {ruleset.version}")
    return 0


def _schema(args: argparse.Namespace) -> int:
    sys.stdout.write(json_schema(args.kind))
    return 0


def _facts(args: argparse.Namespace) -> int:
    from router.routing.rules.facts import FACTS  # noqa: PLC0415

    for name, fact in FACTS.items():
        print(f"{name:20} {fact.type.name.lower():10} {fact.description}")
    return 0


def _history(previous: int, last_7d: int, last_30d: int) -> CustomerHistory:
    from router.models import CustomerHistory, utcnow  # noqa: PLC0415

    now = utcnow()
    recent = [now - timedelta(days=1)] * last_7d + [now - timedelta(days=20)] * max(0, last_30d - last_7d)
    return CustomerHistory(total=max(previous, len(recent)), recent=recent)


def _sample(args: argparse.Namespace) -> tuple[Message, Customer]:
    from router.models import Attachment, CoreMeta, Customer, Direction, Message, new_ordered_id, utcnow  # noqa: PLC0415

    try:
        attributes: Any = json.loads(args.customer_json)
    except json.JSONDecodeError as exc:
        raise ValueError(f"--customer-json is not JSON: {exc}") from None
    if not isinstance(attributes, dict):
        raise ValueError("--customer-json must be a JSON object of customer attributes")
    now = utcnow()
    message = Message(
        id=new_ordered_id("msg"), conversation_id=None, customer_id=None, direction=Direction.IN, author="customer",
        channel=args.channel, text=args.text, created_at=now,
        attachments=[Attachment(kind=k) for k in args.attachment], core=CoreMeta(language=args.language or None),
    )
    return message, Customer(id="cus_explain", attributes=attributes, created_at=now, updated_at=now)


def _bot_phrases(folder: Path) -> tuple[str, ...]:
    """bot.yaml's own ways of asking for a person, which the service adds to the rules' (``asked_for_human``)."""
    from router.bot.config import BOT_FILE, load_bot_config  # noqa: PLC0415
    from router.yamlconf import present  # noqa: PLC0415

    path = folder / BOT_FILE
    return tuple(load_bot_config(path).human_request) if present(path) else ()


def _instant(text: str) -> datetime:
    """``--at``: ISO 8601, UTC unless it says otherwise."""
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is no time: write it 2026-12-31T19:00+03:00") from None
    return when if when.tzinfo is not None else when.replace(tzinfo=UTC)


def format_trace(trace: RouteTrace) -> str:
    lines = [f"rules version {trace.rules_version}"]
    for rule in trace.rules:
        lines.append(f"  {'✓' if rule.matched else '✗'} {rule.rule}")
        for cond in rule.conditions:
            value = "skipped" if cond.value is None else str(cond.value).lower()
            error = f"  ({cond.error})" if cond.error else ""
            lines.append(f"      {value:8} {cond.expression}{error}")
    lines.append(f"→ {trace.step}" + ("" if trace.matched_rule else "  (default: no rule matched)"))
    lines.append("facts: " + json.dumps(trace.facts, ensure_ascii=False, sort_keys=True))
    return "\n".join(lines)


async def _stored_route(config_dir: Path, conversation_id: str) -> tuple[ConversationView, RouteTrace | None]:
    from router.server.app import make_store  # noqa: PLC0415
    from router.server.settings import load_settings  # noqa: PLC0415

    async with make_store(load_settings(config_dir), Path.cwd()) as store:
        conversation = await store.get_conversation(conversation_id)
        return conversation, await store.conversation_route(conversation_id)


def _explain_stored(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    from router.store.errors import NotFound  # noqa: PLC0415
    from router.yamlconf import ConfigError  # noqa: PLC0415

    try:
        conversation, trace = asyncio.run(_stored_route(Path(args.config), args.conversation))
    except ConfigError as exc:
        return _print_problems(exc)
    except NotFound:
        print(f"omnirouter rules explain: no conversation {args.conversation}", file=sys.stderr)
        return 1
    print(f"{conversation.id}: {conversation.status.value}, team {conversation.team}, "
          f"priority {conversation.priority}: {conversation.route_reason}")
    if trace is None:
        print("no rules trace: routed without a rules file")
    else:
        print(trace.model_dump_json(indent=2) if args.json else format_trace(trace))
    return 0


def _explain(args: argparse.Namespace) -> int:
    if args.conversation:
        return _explain_stored(args)
    from router.models import utcnow  # noqa: PLC0415
    from router.routing.rules.engine import RulesRouting  # noqa: PLC0415
    from router.yamlconf import ConfigError  # noqa: PLC0415

    try:
        ruleset = _load(args.rules, args.config)
        message, customer = _sample(args)
        folder = Path(args.rules).parent if args.rules else Path(args.config)
        extra = _bot_phrases(folder)
        warning = _unknown_channel(folder, args.channel)
    except ConfigError as exc:
        return _print_problems(exc)
    except ValueError as exc:
        print(f"omnirouter rules explain: {exc}", file=sys.stderr)
        return 2
    if warning is not None:
        print(warning, file=sys.stderr)
    now = args.at or utcnow()
    history = _history(args.previous, args.contacts_7d, args.contacts_30d)
    # decided as the running service decides: bot.yaml's phrases for a person too, at the time asked
    decision = RulesRouting(ruleset, clock=lambda: now, extra_human_request=extra).decide(message, customer, history)
    assert decision.trace is not None
    if args.json:
        print(decision.model_dump_json(indent=2))
    else:
        print(f"{ruleset.path}: {decision.reason}")
        print(format_trace(decision.trace))
    return 0


async def _replay_store(config_dir: Path, ruleset: RuleSet, since: datetime | None) -> ReplayReport:
    from router.routing.rules.replay import replay  # noqa: PLC0415
    from router.server.app import make_store  # noqa: PLC0415
    from router.server.settings import load_settings  # noqa: PLC0415

    async with make_store(load_settings(config_dir), Path.cwd()) as store:
        return await replay(store, ruleset, since)


def _since(text: str | None) -> datetime | None:
    if text is None:
        return None
    try:
        value = datetime.fromisoformat(text)
    except ValueError:
        raise ValueError(f"--since {text!r} is no date (use 2026-11-01 or 2026-11-01T09:00+03:00)") from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def _replay(args: argparse.Namespace) -> int:
    import asyncio  # noqa: PLC0415

    from router.routing.rules.engine import load_rules  # noqa: PLC0415
    from router.yamlconf import ConfigError  # noqa: PLC0415

    try:
        ruleset = load_rules(Path(args.file))
        since = _since(args.since)
        report = asyncio.run(_replay_store(Path(args.config), ruleset, since))
    except ConfigError as exc:
        return _print_problems(exc)
    except ValueError as exc:
        print(f"omnirouter rules replay: {exc}", file=sys.stderr)
        return 2
    print(f"{ruleset.path} (version {ruleset.version}) against the stored history"
          + (f" since {since.isoformat()}" if since else ""))
    print("\n".join(report.lines(args.limit)))
    return 0


def add_commands(sub: Any) -> None:
    """Register ``rules`` and its subcommands on the main parser's subparsers."""
    rules = sub.add_parser("rules", help="check, explain and replay the routing rules; print their schema and facts")
    cmds = rules.add_subparsers(dest="rules_command", required=True)
    check = cmds.add_parser("check", help="validate a rules file (and the teams.yaml beside it)")
    check.add_argument("file", nargs="?", help=f"default: {RULES_FILE} of --config")
    check.add_argument("--config", help="configuration folder whose rules to check (default: config/)")
    check.set_defaults(func=_check)
    schema = cmds.add_parser("schema", help="print the JSON Schema of rules.yaml (or teams.yaml)")
    schema.add_argument("kind", nargs="?", choices=SCHEMA_KINDS, default="rules")
    schema.set_defaults(func=_schema)
    facts = cmds.add_parser("facts", help="list the facts conditions can test, with their types")
    facts.set_defaults(func=_facts)
    _add_explain(cmds)
    rep = cmds.add_parser("replay", help="run the stored history through a candidate rules file (changes nothing)")
    rep.add_argument("file", help="the candidate rules.yaml (teams from the teams.yaml beside it)")
    rep.add_argument("--since", help="only conversations opened since this date (ISO 8601; UTC unless given)")
    rep.add_argument("--config", default="config", help="configuration folder of the store (default: config/)")
    rep.add_argument("--limit", type=_count, default=50, help="conversations that would move to list (default 50)")
    rep.set_defaults(func=_replay)


def _count(text: str) -> int:
    """0 or more: -1 listed all but the last one without a word."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is no number") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"{value} is below 0")
    return value


def _language(text: str) -> str:
    from router.language import language_named  # noqa: PLC0415

    if language_named(text) is None:
        raise argparse.ArgumentTypeError(f"{text!r} names no language: write it as ru, en or a tag such as en-US")
    return text


def _unknown_channel(folder: Path, channel: str) -> str | None:
    """A warning when ``channel`` is not one of the folder's connectors: a typo was decided
    as a chat channel nobody has, and explained rules that never see such a message."""
    from router.server.settings import load_settings  # noqa: PLC0415

    names = sorted(load_settings(folder).connectors)
    if channel in names:
        return None
    return (f"omnirouter rules explain: warning: no connector is named {channel!r} in {folder} (its connectors: "
            f"{', '.join(names) or 'none'}); decided as such a channel's message would be")


def _add_explain(cmds: Any) -> None:
    explain = cmds.add_parser("explain", help="which rule a message and customer would hit, and why")
    explain.add_argument("--rules", help=f"rules file (default config/{RULES_FILE}; teams from {TEAMS_FILE} beside it)")
    explain.add_argument("--channel", default="webchat")
    explain.add_argument("--text", default="")
    explain.add_argument("--language", type=_language, help="the channel's hint (ru, en, en-US…); the words "
                                                             "and the customer's profile come first, as in the service")
    kinds = get_args(AttachmentKind)
    explain.add_argument("--attachment", action="append", default=[], choices=kinds, help="repeat for several")
    explain.add_argument("--customer-json", default="{}", help="""customer attributes: '{"tier": "gold"}'""")
    explain.add_argument("--previous", type=_count, default=0, help="earlier conversations of this customer")
    explain.add_argument("--contacts-7d", type=_count, default=0)
    explain.add_argument("--contacts-30d", type=_count, default=0)
    explain.add_argument("--json", action="store_true", help="print the decision and trace as JSON")
    explain.add_argument("--conversation", help="show the stored trace of this conversation instead")
    explain.add_argument("--config", default="config", help="configuration folder: its rules.yaml (unless --rules), "
                                                             "bot.yaml's phrases and, with --conversation, its store")
    explain.add_argument("--at", type=_instant, help="the time to decide at (ISO 8601, e.g. 2026-12-31T19:00+03:00): "
                                                     "office hours, now.hour; default: now")
    explain.set_defaults(func=_explain)
