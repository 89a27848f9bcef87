"""Reports in the console API: the figures of what the router did, as JSON
and as CSV, to supervisors and admins only; bad ranges refused."""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import aiohttp
import pytest

from agents_ui.reports_api import reports_of
from agents_ui.reports_csv import csv_text
from router.appkeys import ROUTER
from router.config import Settings
from router.csat.config import CsatConfig
from router.reports.figures import GroupBy, Report
from tests.agents_ui.conftest import Client, admin_with_teams, customer_writes, error_of, login


def _range(group_by: str = "day") -> dict[str, str]:
    now = datetime.now(UTC)
    return {"since": (now - timedelta(days=1)).isoformat(), "until": (now + timedelta(days=1)).isoformat(),
            "group_by": group_by}


async def _day(client: Client) -> None:
    """Two conversations; the admin answers and resolves the first, which the customer rates 4."""
    client.app[ROUTER].surveys.config = CsatConfig(enabled=True)
    await login(client)
    first = await customer_writes(client, "Where is my order?")
    await customer_writes(client, "Hello", sender="visitor-2", external_id="v2-1")
    resp = await client.post(f"/api/conversations/{first}/messages", json={"text": "Looking now"})
    assert resp.status in (200, 201), await resp.text()
    resp = await client.post(f"/api/conversations/{first}/resolve", json={})
    assert resp.status == 200, await resp.text()
    await customer_writes(client, "4", external_id="2")


async def test_the_figures_count_what_happened(client: Client) -> None:
    await _day(client)
    resp = await client.get("/api/reports/figures", params=_range())
    assert resp.status == 200, await resp.text()
    body = await resp.json()
    [row] = body["rows"]
    assert (row["opened"], row["reopened"], row["resolved"]) == (2, 0, 1)
    assert row["first_response_p50"] is not None and row["first_response_p50"] >= 0
    assert (row["csat_count"], row["csat_average"]) == (1, 4.0)
    assert body["columns"][0] == "group" and set(body["columns"]) == set(row)
    resp = await client.get("/api/reports/figures", params=_range("channel"))
    assert [(r["group"], r["opened"]) for r in (await resp.json())["rows"]] == [("webchat", 2)]


async def test_the_csv_is_the_same_report_for_a_spreadsheet(client: Client) -> None:
    await _day(client)
    resp = await client.get("/api/reports/figures.csv", params=_range("channel"))
    assert resp.status == 200 and resp.content_type == "text/csv"
    assert "attachment" in resp.headers["Content-Disposition"]
    rows = list(csv.DictReader(io.StringIO(await resp.text())))
    got = [(r["channel"], r["opened"], r["resolved"], r["csat_average"]) for r in rows]
    assert got == [("webchat", "2", "1", "4.0")]
    resp = await client.get("/api/reports/figures.csv", params={**_range(), "table": "handoff_reasons"})
    assert (await resp.text()).splitlines() == ["reason,handoffs"]


async def test_the_csv_in_russian_opens_in_a_russian_spreadsheet(client: Client) -> None:
    """Russian Excel opened the file as one column (commas), its Cyrillic garbled
    (no byte-order mark), «4.0» as a date, under English snake_case headers."""
    await _day(client)
    resp = await client.get("/api/reports/figures.csv", params={**_range("channel"), "lang": "ru"})
    body = (await resp.read()).decode("utf-8")
    assert body.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(body[1:]), delimiter=";"))
    got = [(r["Канал"], r["Открыто"], r["Решено"], r["Средняя оценка"]) for r in rows]
    assert got == [("webchat", "2", "1", "4,0")]
    resp = await client.get("/api/reports/figures.csv", params={**_range(), "table": "handoff_reasons", "lang": "en"})
    assert (await resp.text()).lstrip("\ufeff").splitlines() == ["Reason,Handoffs"]



async def test_the_csv_by_agent_names_the_agents_as_the_screen_does(client: Client) -> None:
    """The console's table by agent showed names; its CSV download showed account ids (agt_…) and "-" for the
    conversations nobody answered, which a supervisor's spreadsheet could not tell apart."""
    await _day(client)
    resp = await client.get("/api/agents")
    admin = next(a for a in (await resp.json())["agents"] if a["username"] == "admin")
    resp = await client.get("/api/reports/figures.csv", params={**_range("agent"), "lang": "ru"})
    rows = list(csv.DictReader(io.StringIO((await resp.read()).decode("utf-8")[1:]), delimiter=";"))
    assert sorted((r["Оператор"], r["Открыто"]) for r in rows) == sorted([(admin["display_name"], "1"), ("нет", "1")])
    resp = await client.get("/api/reports/figures.csv", params={**_range("agent"), "lang": "en"})
    rows = list(csv.DictReader(io.StringIO((await resp.text()).lstrip("\ufeff"))))
    assert sorted(r["Agent"] for r in rows) == sorted([admin["display_name"], "none"])
    # for a program, the ids it can join on, as the JSON has them
    resp = await client.get("/api/reports/figures.csv", params=_range("agent"))
    assert sorted(r["agent"] for r in csv.DictReader(io.StringIO(await resp.text()))) == sorted([admin["id"], "-"])


TITLED_TEAMS = ("teams:\n  support: {title: {ru: Поддержка, en: Support}}\n  senior: {}\n"
                "agents:\n  - {username: admin, teams: [support]}\n")
ROUTE_TO_SUPPORT = "rules: []\ndefault: {queue: {team: support}}\n"


async def test_the_csv_names_teams_as_people_read_them(
        settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        aiohttp_client: Callable[..., Awaitable[Client]]) -> None:
    """By team, a Russian supervisor's spreadsheet read "support": the id of the files, where the console names a
    team by its title in teams.yaml, in their language. (A channel is named the same way, by its connector's
    name for people; none runs here, so its id stands, as on the screen.)"""
    client = await admin_with_teams(settings, tmp_path, monkeypatch, aiohttp_client, TITLED_TEAMS, ROUTE_TO_SUPPORT)
    await _day(client)
    teams = {t["name"]: t["title"] for t in (await (await client.get("/api/teams")).json())["teams"]}
    assert teams == {"support": {"ru": "Поддержка", "en": "Support"}, "senior": {"ru": "senior", "en": "senior"}}
    resp = await client.get("/api/reports/figures.csv", params={**_range("team"), "lang": "ru"})
    rows = list(csv.DictReader(io.StringIO((await resp.read()).decode("utf-8")[1:]), delimiter=";"))
    assert [(r["Команда"], r["Открыто"]) for r in rows] == [("Поддержка", "2")]
    resp = await client.get("/api/reports/figures.csv", params={**_range("team"), "lang": "en"})
    assert [r["Team"] for r in csv.DictReader(io.StringIO((await resp.text()).lstrip("\ufeff")))] == ["Support"]
    # for a program, the ids it can join on
    resp = await client.get("/api/reports/figures.csv", params=_range("team"))
    assert [r["team"] for r in csv.DictReader(io.StringIO(await resp.text()))] == ["support"]


async def test_the_csv_for_a_spreadsheet_says_its_times_are_seconds(client: Client) -> None:
    """A Russian supervisor's spreadsheet read «Первый ответ p50» = «0,093417»: no unit, and microseconds. The
    header now names the unit and a time keeps a tenth of a second; a program's CSV keeps the JSON's values."""
    await _day(client)
    resp = await client.get("/api/reports/figures.csv", params={**_range("channel"), "lang": "ru"})
    [row] = list(csv.DictReader(io.StringIO((await resp.read()).decode("utf-8")[1:]), delimiter=";"))
    assert "Первый ответ p50" not in row
    assert re.fullmatch(r"\d+(,\d)?", row["Первый ответ p50, с"]), row
    assert re.fullmatch(r"\d+(,\d)?", row["Ожидание в очереди p50, с"]) and row["Решение p90, с"] != ""
    resp = await client.get("/api/reports/figures.csv", params={**_range("channel"), "lang": "en"})
    [row] = list(csv.DictReader(io.StringIO((await resp.text()).lstrip("\ufeff"))))
    assert re.fullmatch(r"\d+(\.\d)?", row["First response p50, s"]), row
    resp = await client.get("/api/reports/figures", params=_range("channel"))
    exact = (await resp.json())["rows"][0]["first_response_p50"]
    resp = await client.get("/api/reports/figures.csv", params=_range("channel"))
    [row] = list(csv.DictReader(io.StringIO(await resp.text())))
    assert float(row["first_response_p50"]) == exact

async def test_reports_are_for_supervisors_and_bad_ranges_are_refused(
        client: Client, agent_http: aiohttp.ClientSession) -> None:
    async with agent_http.get("/api/reports/figures", params=_range()) as resp:
        assert resp.status == 403
    async with agent_http.get("/api/reports/figures.csv", params=_range()) as resp:
        assert resp.status == 403
    resp = await client.get("/api/reports/figures", params={"since": "2020-01-01T00:00:00Z",
                                                           "until": "2022-01-01T00:00:00Z"})
    assert await error_of(resp) == (400, "report_range_too_long", "a report covers at most 366 days")
    backwards = await client.get("/api/reports/figures", params={"since": "2020-02-01T00:00:00Z",
                                                                 "until": "2020-01-01T00:00:00Z"})
    # a problem of the whole query is said to be the query's, not a body's (a GET has none)
    assert (await backwards.json())["error"]["field"] == "query"
    for bad in ({"since": "2020-02-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"},
                {"since": "2020-01-01T00:00:00", "until": "2020-02-01T00:00:00Z"},
                {**_range(), "group_by": "planet"}, {},
                {"since": "0001-01-01T00:00:00+05:00", "until": "2020-01-01T00:00:00Z"},  # before year 1 in UTC
                {"since": "2020-01-01T00:00:00Z", "until": "9999-12-31T23:00:00-05:00"},  # after year 9999
                {**_range(), "tz": "Mars/Olympus"}, {**_range(), "tz": "../etc/passwd"}):
        resp = await client.get("/api/reports/figures", params=bad)
        assert resp.status == 422, bad
        resp = await client.get("/api/reports/figures.csv", params={**bad, "table": "figures"})
        assert resp.status == 422, bad


def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_quoted() -> None:
    """Team names and the bot's handoff reasons come from config and customers' words."""
    now = datetime(2026, 12, 5, tzinfo=UTC)
    made = Report(now, now + timedelta(days=1), GroupBy.TEAM, [{"group": "=1+2", "opened": 3}],
                  {"@SUM(A1)": 2, "-": 1, "asked for a person": 4})
    assert csv_text(made, "handoff_reasons").splitlines() == [
        "reason,handoffs", "'@SUM(A1),2", "-,1", "asked for a person,4"]
    assert csv_text(made, "figures").splitlines()[1].startswith("'=1+2,3,")


async def test_days_are_cut_in_the_zone_asked(client: Client) -> None:
    await _day(client)
    now = client.app[ROUTER].clock()
    params = {**_range(), "tz": "Pacific/Kiritimati"}  # UTC+14: its day is never UTC's day at the same hour
    resp = await client.get("/api/reports/figures", params=params)
    assert resp.status == 200, await resp.text()
    [row] = (await resp.json())["rows"]
    assert row["group"] == (now + timedelta(hours=14)).date().isoformat()


async def test_a_report_asked_while_another_is_counted_is_told_when_to_come_back(client: Client) -> None:
    await login(client)
    async with reports_of(client.app).lock:  # a report being counted on this node
        resp = await client.get("/api/reports/figures", params=_range())
        assert await error_of(resp) == (429, "report_busy", "another report is being counted: try again in a moment")
        assert resp.headers["Retry-After"] == "2"
    resp = await client.get("/api/reports/figures", params=_range())
    assert resp.status == 200, await resp.text()


CATALOGUES = Path(__file__).parents[2] / "agents_ui" / "i18n"


@pytest.mark.parametrize("path", ["/api/reports/figures", "/api/reports/figures.csv", "/api/surveys"])
@pytest.mark.parametrize(("params", "problem", "field"), [
    # the Reports screen with its "to" day before its "from" day: the console showed "query: not a valid value."
    ({"since": "2020-02-01T00:00:00Z", "until": "2020-01-01T00:00:00Z"}, "period_backwards", "query"),
    ({"since": "1899-12-31T00:00:00Z", "until": "2020-01-01T00:00:00Z"}, "time_out_of_range", "since"),
    ({"since": "2020-01-01T00:00:00Z", "until": "9999-12-31T23:00:00-05:00"}, "time_out_of_range", "until"),
])
async def test_a_period_refused_names_its_problem_which_the_console_says_in_both_languages(
        client: Client, path: str, params: dict[str, str], problem: str, field: str) -> None:
    await login(client)
    resp = await client.get(path, params=params)
    assert (resp.status, resp.content_type) == (422, "application/json")
    error = (await resp.json())["error"]
    assert (error["code"], error["problem"], error["field"]) == ("invalid", problem, field)
    for lang in ("ru", "en"):
        text = json.loads((CATALOGUES / f"{lang}.json").read_text(encoding="utf-8"))["invalid"][problem]
        named = set(re.findall(r"{{(\w+)}}", text))
        assert named <= set(error), f"{lang}: invalid.{problem} names {named - set(error)}, which the error lacks"


@pytest.mark.parametrize("lang", ["ru", "en"])
async def test_the_csv_by_hour_names_each_hour_as_a_spreadsheet_reads_a_time(client: Client, lang: str) -> None:
    """«2026-12-08 14:00», which a spreadsheet takes for a date and time; ISO's «2026-12-08T14:00» stayed text.
    For a program the group stays ISO."""
    await _day(client)
    resp = await client.get("/api/reports/figures.csv", params={**_range("hour"), "lang": lang})
    body = (await resp.read()).decode("utf-8").lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(body), delimiter=";" if lang == "ru" else ","))
    assert rows[1:] and all(re.fullmatch(r"\d{4}-\d{2}-\d{2} \d{2}:00", row[0]) for row in rows[1:]), rows
    resp = await client.get("/api/reports/figures.csv", params=_range("hour"))
    rows = list(csv.reader(io.StringIO(await resp.text())))
    assert all(re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:00", row[0]) for row in rows[1:]), rows
