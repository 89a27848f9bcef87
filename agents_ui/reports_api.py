"""Reports in the console API: the figures of a range by group, as JSON for
the Reports screen and as CSV for a spreadsheet. Supervisors and admins only
(``Permission.SUPERVISE``). Each figure is defined in the README ("Reports")
and in ``router.reports.figures``."""

from __future__ import annotations

import weakref
from datetime import UTC, datetime, tzinfo
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from aiohttp import web
from pydantic import AwareDatetime, BaseModel, Field, field_validator, model_validator

from agents_ui.endpoints import ApiError, endpoint
from agents_ui.instants import Instant, a_period
from agents_ui.reports_csv import Cell, Lang, csv_text
from agents_ui.schemas import Query
from router.agents.service import Permission
from router.appkeys import ASSIGNER, ROUTER, STORE
from router.reports.figures import COLUMNS, GroupBy, Report
from router.reports.service import MAX_RANGE, RangeRefused, ReportBusy, Reports
from router.texts import localized

RETRY_AFTER = 2  # seconds: a report of a month takes about that


class ReportQuery(Query):
    since: Instant = Field(description="the first instant counted (ISO 8601 with a zone)")
    until: Instant = Field(description="the first instant not counted")
    # a Literal, not the enum: a query parameter's schema is inline in the document
    group_by: Literal["day", "hour", "team", "channel", "agent", "tier"] = Field(
        "day", description="day or hour (in tz), team, channel, agent or customer tier")
    tz: str | None = Field(None, max_length=64, description="the IANA zone that cuts days and hours "
                           "(e.g. Europe/Moscow); default: rules.yaml's timezone")

    @field_validator("since", "until")
    @classmethod
    def _in_utc(cls, value: datetime) -> datetime:
        try:  # a date at the edge of the calendar (0001-01-01 with a positive offset) has no UTC time
            return value.astimezone(UTC)
        except OverflowError:
            raise ValueError("a time outside the years 1-9999 in UTC") from None

    @field_validator("tz")
    @classmethod
    def _a_zone(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                ZoneInfo(value)
            except (ZoneInfoNotFoundError, ValueError):
                raise ValueError(f"{value!r} is no known time zone (IANA name, e.g. Europe/Moscow)") from None
        return value

    @model_validator(mode="after")
    def _a_range(self) -> ReportQuery:
        a_period(self.since, self.until)
        return self


class CsvQuery(ReportQuery):
    table: Literal["figures", "handoff_reasons"] = Field("figures", description="which table of the report")
    lang: Literal["ru", "en"] | None = Field(
        None, description="for a spreadsheet in this language: its words for the header and reasons, a byte-order "
                          "mark, and in Russian ';' between columns and decimal commas; none: for a program, the "
                          "columns' codes, ',' and '.'")


class ReportOut(BaseModel):
    since: AwareDatetime
    until: AwareDatetime
    group_by: GroupBy
    columns: list[str] = Field(description="the figures of each row, in order (the CSV's header)")
    rows: list[dict[str, Cell]] = Field(description="one per group, in the group's order; null: nothing to count")
    handoff_reasons: dict[str, int] = Field(description="why the bot handed conversations to a person, how often: "
                                            "a HandoffReason code (asked_for_human, low_confidence, repeated, "
                                            "unclear, bot_failed), taken (by an agent) or rules")


# one per app (its lock lets one report be counted at a time on the node); beside the app, whose state is frozen
_BY_APP: weakref.WeakKeyDictionary[web.Application, Reports] = weakref.WeakKeyDictionary()


def reports_of(app: web.Application) -> Reports:
    if (found := _BY_APP.get(app)) is None:
        # lambdas, not the bound values: the rules reload, and tests swap ``router.clock``
        found = _BY_APP[app] = Reports(app[STORE], lambda: app[ASSIGNER].policy.ruleset,
                                       lambda: app[ROUTER].clock())  # noqa: PLW0108
    return found


def _zone(app: web.Application, query: ReportQuery) -> tzinfo:
    if query.tz is not None:
        return ZoneInfo(query.tz)
    ruleset = app[ASSIGNER].policy.ruleset
    return ruleset.zone if ruleset is not None else UTC


async def _report(app: web.Application, query: ReportQuery) -> Report:
    try:
        return await reports_of(app).figures(query.since, query.until, GroupBy(query.group_by), _zone(app, query))
    except RangeRefused as exc:
        raise ApiError(400, "report_range_too_long", str(exc), details={"days": MAX_RANGE.days}) from exc
    except ReportBusy as exc:
        raise ApiError(429, "report_busy", str(exc), details={"seconds": RETRY_AFTER},
                       headers={"Retry-After": str(RETRY_AFTER)}) from exc


@endpoint("GET", "/api/reports/figures", "The report's figures over a range, by day, hour, team, channel, agent or "
          "customer tier (supervisors, admins)", query=ReportQuery, response=ReportOut,
          permission=Permission.SUPERVISE,
          errors=((422, "since/until missing, without a zone, out of range or the wrong way round; an unknown tz"),
                  (400, "a range longer than 366 days"), (429, "another report is being counted on the node")))
async def report_figures(request: web.Request, query: ReportQuery) -> ReportOut:
    made = await _report(request.app, query)
    return ReportOut(since=made.since, until=made.until, group_by=made.group_by, columns=list(COLUMNS),
                     rows=made.rows, handoff_reasons=made.handoff_reasons)


async def _group_names(app: web.Application, group_by: GroupBy, lang: Lang) -> dict[str, str]:
    """The groups' names as people read them in ``lang``, for a spreadsheet (a program keeps the ids): an
    agent's name, a team's title, a channel's name."""
    if group_by is GroupBy.AGENT:
        return {a.id: a.display_name for a in await app[STORE].list_agents()}
    if group_by is GroupBy.TEAM:
        return {name: team.titles(name)[lang] for name, team in app[ASSIGNER].teams.teams.items()}
    if group_by is GroupBy.CHANNEL:
        return {name: localized(label.name, lang) for name, label in app[ROUTER].channel_labels.items()}
    return {}


@endpoint("GET", "/api/reports/figures.csv", "The same report as CSV (RFC 4180, UTF-8), for a spreadsheet "
          "(supervisors, admins)", query=CsvQuery, permission=Permission.SUPERVISE,
          response_description="text/csv: a header row, then one row per group (or per handoff reason)",
          errors=((422, "since/until missing, without a zone, out of range or the wrong way round; an unknown tz"),
                  (400, "a range longer than 366 days"), (429, "another report is being counted on the node")))
async def report_csv(request: web.Request, query: CsvQuery) -> web.Response:
    made = await _report(request.app, query)
    names = await _group_names(request.app, made.group_by, query.lang) if query.lang is not None else {}
    name = f"omnirouter-{query.table}-{made.since:%Y%m%d}-{made.until:%Y%m%d}-{made.group_by.value}.csv"
    return web.Response(text=csv_text(made, query.table, query.lang, names), content_type="text/csv", charset="utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{name}"'})


__all__ = ["ReportOut", "report_csv", "report_figures"]
