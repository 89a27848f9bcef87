"""Claims that match someone, in the console API: a site-chat visitor types
the phone of a customer known on WhatsApp; both customers' panels carry the
hint, a code goes to WhatsApp, and an agent can dismiss the hint."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import aiohttp
import pytest

from router.appkeys import ROUTER
from router.identity.service import IdentityConfig, IdentityRules
from tests.agents_ui.conftest import Client, error_of, login
from tests.agents_ui.test_customers import customer_of, writes
from tests.conftest import HANG

PHONE = "+79123456789"


async def holder_and_visitor(client: Client) -> tuple[dict[str, Any], dict[str, Any]]:
    """Anna writes on WhatsApp; a site-chat visitor types her number."""
    anna = await customer_of(client, await writes(client, "whatsapp", f"whatsapp:{PHONE}", "wa-1", "Здравствуйте"))
    visitor = await customer_of(client, await writes(client, "webchat", "v-1", "w-1", "Мой номер 8 (912) 345-67-89"))
    return anna, visitor


def dismiss_url(customer_id: str, claim_id: str) -> str:
    return f"/api/customers/{customer_id}/claims/{claim_id}/dismiss"


async def test_both_panels_show_the_match_and_the_code_goes_to_the_holders_channel(client: Client) -> None:
    await login(client)
    anna, visitor = await holder_and_visitor(client)
    # a claim of a number nobody is known by matches nobody
    await writes(client, "webchat", "v-2", "w-2", "Позвоните на 8 (912) 111-22-33")
    anna_id, visitor_id = anna["customer"]["id"], visitor["customer"]["id"]
    [claim] = visitor["claims"]

    anna, visitor = [await (await client.get(f"/api/customers/{cid}")).json() for cid in (anna_id, visitor_id)]
    assert anna["matches"] == visitor["matches"]
    [match] = anna["matches"]
    assert match["claim"] == claim and match["claim"]["source"] == "webchat:text"
    assert (match["holder_id"], match["holder_channels"]) == (anna_id, ["whatsapp"])

    # "Send code" on the holder's panel: the claimant's claim, proven on the holder's channel
    # (these tests run no connector; tests/e2e/test_claim_matches.py sends through the WhatsApp fake)
    client.app[ROUTER].verifier.channels = frozenset({"whatsapp", "webchat"})
    resp = await client.post(f"/api/customers/{visitor_id}/claims/{claim['id']}/verify", json={})
    assert resp.status == 201, await resp.text()
    verification = (await resp.json())["verification"]
    assert (verification["customer_id"], verification["value"], verification["channel"]) == (
        visitor_id, PHONE, "whatsapp")


async def test_an_agent_dismisses_the_hint_from_both_panels_and_the_audit_keeps_who(
    client: Client, agent_http: aiohttp.ClientSession
) -> None:
    anna, visitor = await holder_and_visitor(client)
    anna_id, visitor_id = anna["customer"]["id"], visitor["customer"]["id"]
    [claim] = visitor["claims"]
    live = await agent_http.ws_connect("/api/ws")

    resp = await agent_http.post(dismiss_url(visitor_id, claim["id"]), json={"reason": "a prank"})
    assert resp.status == 200, await resp.text()
    [hidden] = (await resp.json())["dismissed"]
    assert (hidden["claim"]["id"], hidden["holder_id"]) == (claim["id"], anna_id)
    for cid in (anna_id, visitor_id):
        detail = await (await agent_http.get(f"/api/customers/{cid}")).json()
        assert detail["matches"] == []
        [entry] = [e for e in (await (await agent_http.get(f"/api/customers/{cid}/audit")).json())["entries"]
                   if e["action"] == "claim_dismissed"]
        assert (entry["actor"], entry["reason"], entry["other_customer_id"]) == ("ann", "a prank", anna_id)
    # the claim stays, with its own "Send code"
    assert (await customer_of(client, visitor["conversations"][0]["id"]))["claims"] == [claim]

    async def dismissed_event() -> dict[str, Any]:
        while True:
            frame: dict[str, Any] = await live.receive_json()
            if frame["type"] == "claim.dismissed":
                return frame

    frame = await asyncio.wait_for(dismissed_event(), HANG)
    assert frame["data"] == {"claim_id": claim["id"], "customers": sorted([anna_id, visitor_id])}
    await live.close()


async def test_dismissals_that_cannot_apply_get_clear_errors_and_change_nothing(
    client: Client, agent_http: aiohttp.ClientSession
) -> None:
    anna, visitor = await holder_and_visitor(client)
    anna_id, visitor_id = anna["customer"]["id"], visitor["customer"]["id"]
    [claim] = visitor["claims"]
    lonely = await customer_of(client, await writes(client, "webchat", "v-2", "w-2", "Мой 8 (912) 111-22-33"))

    assert (await error_of(await agent_http.post(dismiss_url(visitor_id, "clm_nope"), json={})))[:2] == (
        404, "not_found")
    assert (await error_of(await agent_http.post(dismiss_url("cus_nope", claim["id"]), json={})))[0] == 404
    # the holder's id with the claimant's claim: the claim is the visitor's
    assert (await error_of(await agent_http.post(dismiss_url(anna_id, claim["id"]), json={})))[0] == 404
    status, code, message = await error_of(
        await agent_http.post(dismiss_url(lonely["customer"]["id"], lonely["claims"][0]["id"]), json={}))
    assert (status, code) == (409, "conflict") and "matches no other customer" in message
    status, code, message = await error_of(
        await agent_http.post(dismiss_url(visitor_id, claim["id"]), json={"reason": " "}))
    assert (status, code) == (422, "invalid") and "reason" in message
    assert (await error_of(await agent_http.post(dismiss_url(visitor_id, claim["id"]), json={"why": "x"})))[0] == 422
    assert len((await (await agent_http.get(f"/api/customers/{anna_id}")).json())["matches"]) == 1

    assert (await agent_http.post(dismiss_url(visitor_id, claim["id"]), json={})).status == 200
    status, code, message = await error_of(await agent_http.post(dismiss_url(visitor_id, claim["id"]), json={}))
    assert (status, code) == (409, "conflict") and "dismissed already (by ann)" in message


async def test_a_number_config_says_is_nobodys_never_shows_as_a_match(client: Client) -> None:
    await login(client)
    anna, visitor = await holder_and_visitor(client)
    [claim] = visitor["claims"]
    # the number turns out to be a test line, blocked after the claim was made
    config = IdentityConfig()
    config.phone.blocked.append(PHONE)
    client.app[ROUTER].identity = IdentityRules(config)
    for detail in (anna, visitor):
        assert (await (await client.get(f"/api/customers/{detail['customer']['id']}")).json())["matches"] == []
    status, code, message = await error_of(
        await client.post(dismiss_url(visitor["customer"]["id"], claim["id"]), json={}))
    assert (status, code) == (409, "conflict") and "nobody's" in message


async def test_logged_out_nobody_sees_or_dismisses(client: Client) -> None:
    await login(client)
    anna, visitor = await holder_and_visitor(client)
    assert (await client.post("/api/logout", json={})).status == 204
    assert (await client.get(f"/api/customers/{anna['customer']['id']}")).status == 401
    resp = await client.post(dismiss_url(visitor["customer"]["id"], visitor["claims"][0]["id"]), json={})
    assert (await error_of(resp))[:2] == (401, "unauthenticated")


async def test_the_openapi_document_describes_the_matches_and_the_dismissal(client: Client) -> None:
    doc = await (await client.get("/api/openapi.json")).json()
    op = doc["paths"]["/api/customers/{id}/claims/{claim}/dismiss"]["post"]
    assert {"200", "401", "404", "409", "422"} <= set(op["responses"])
    assert [p["name"] for p in op["parameters"]] == ["id", "claim"]
    schemas = doc["components"]["schemas"]
    detail = schemas["CustomerDetail"]["properties"]["matches"]
    assert detail["items"]["$ref"].endswith("/ClaimMatch")
    assert {"claim", "claimant_name", "holder_id", "holder_name", "holder_channels"} == set(
        schemas["ClaimMatch"]["properties"])


async def test_the_match_script_never_writes_html(client: Client) -> None:
    """Claims and names are customer input: textContent only."""
    resp = await client.get("/console/claim_matches.js")
    assert resp.status == 200 and "javascript" in resp.content_type
    js = await resp.text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in js, sink
    assert "/console/claim_matches.js" in await (await client.get("/")).text()


async def test_a_code_sent_is_logged_by_ids_never_the_customers_number(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    """The log said `admin sent a verification code for phone +79123456789`: a customer's number
    in every log line of a code an agent sent. It names the verification and the customer."""
    await login(client)
    _, visitor = await holder_and_visitor(client)
    [claim] = visitor["claims"]
    client.app[ROUTER].verifier.channels = frozenset({"whatsapp", "webchat"})
    with caplog.at_level(logging.DEBUG):
        resp = await client.post(f"/api/customers/{visitor['customer']['id']}/claims/{claim['id']}/verify", json={})
        assert resp.status == 201, await resp.text()
    verification = (await resp.json())["verification"]
    [line] = [r.getMessage() for r in caplog.records if "sent verification" in r.getMessage()]
    assert verification["id"] in line and visitor["customer"]["id"] in line and "(phone)" in line
    assert PHONE not in caplog.text and "345-67-89" not in caplog.text


async def test_an_agents_merge_is_logged_by_ids_never_its_reason(
    client: Client, caplog: pytest.LogCaptureFixture
) -> None:
    await login(client)
    anna, visitor = await holder_and_visitor(client)
    survivor, other = anna["customer"]["id"], visitor["customer"]["id"]
    with caplog.at_level(logging.DEBUG):
        resp = await client.post(f"/api/customers/{survivor}/merge",
                                 json={"other_id": other, "reason": "сказала по телефону 8 912 345-67-89"})
        assert resp.status == 201, await resp.text()
        merge_id = (await resp.json())["merge"]["id"]
        undo = await client.post(f"/api/merges/{merge_id}/undo", json={"reason": "муж Анны, не она"})
        assert undo.status == 200, await undo.text()
    assert f"admin merged customer {other} into {survivor} (merge {merge_id})" in caplog.text
    assert f"admin undid merge {merge_id}" in caplog.text
    assert "по телефону" not in caplog.text and "345-67-89" not in caplog.text and "Анны" not in caplog.text
