"""Every moment the API is given (a page's cursor, the search's, the reports'
and the surveys' ranges, a snooze's end) may be well-formed and still beyond
what a store can hold: year 1 an hour east of UTC, year 9999 west of it. Each
is refused as bad input (400/422) and changes nothing, never a 500, on
SQLite and on PostgreSQL (OMNIROUTER_TEST_STORE=postgres)."""

from __future__ import annotations

import base64
import json
from urllib.parse import quote

from tests.agents_ui.conftest import Client, customer_writes, error_of, login

EXTREMES = [
    "0001-01-01T00:00:00+01:00",  # overflows when turned to UTC
    "9999-12-31T23:00:00-05:00",  # so does this one
    "0001-01-02T00:00:00+00:00",  # a real moment no store orders or holds as given
    "9999-12-31T00:00:00+00:00",
]


def cursor(at: str) -> str:
    raw = json.dumps([at, "conv_x"], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


async def test_a_cursor_with_an_extreme_time_is_refused(client: Client) -> None:
    await login(client)
    for at in EXTREMES:
        status, code, _ = await error_of(await client.get(f"/api/conversations?cursor={cursor(at)}"))
        assert (status, code) == (400, "bad_list_cursor"), at
        status, code, _ = await error_of(
            await client.get(f"/api/conversations?assignee=me&status=assigned&cursor={cursor(at)}"))
        assert (status, code) == (400, "bad_list_cursor"), at


async def test_every_range_with_an_extreme_time_is_refused(client: Client) -> None:
    await login(client)
    fine = quote("2026-01-01T00:00:00+00:00")
    for at in map(quote, EXTREMES):
        # search takes any moment of the years 1-9999 in UTC (an empty page), else 400 bad_date
        for path in (f"/api/search?q=hello&since={at}", f"/api/search?q=hello&until={at}",
                     f"/api/search?kind=conversations&since={at}"):
            resp = await client.get(path)
            assert resp.status in (200, 400), (path, resp.status)
            if resp.status == 400:
                assert (await resp.json())["error"]["code"] == "bad_date", path
        for path in (f"/api/reports/figures?since={at}&until={fine}", f"/api/reports/figures?since={fine}&until={at}",
                     f"/api/reports/figures.csv?since={at}&until={fine}",
                     f"/api/surveys?since={at}&until={fine}", f"/api/surveys?since={fine}&until={at}"):
            status, code, _ = await error_of(await client.get(path))
            assert status in (400, 422) and code, (path, status, code)


async def test_a_snooze_until_an_extreme_time_is_refused_and_changes_nothing(client: Client) -> None:
    await login(client)
    conv = await customer_writes(client, "hello")
    for at in EXTREMES:
        status, code, _ = await error_of(await client.post(f"/api/conversations/{conv}/snooze", json={"until": at}))
        assert status in (400, 422) and code, (at, status, code)
    view = (await (await client.get(f"/api/conversations/{conv}")).json())["conversation"]
    assert view["snoozed_until"] is None
