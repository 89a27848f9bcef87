"""Customers in the console API: the profile with its identities and claims,
merge and unmerge by an agent, replies to a chosen linked channel."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import pytest

from router.appkeys import ROUTER, STORE
from router.identity.customers import import_csv
from router.models import IdentityRef, InboundMessage
from tests.agents_ui.conftest import Client, error_of, login


async def writes(client: Client, kind: str, sender: str, external_id: str, text: str, **claims: str) -> str:
    accepted = await client.app[ROUTER].on_message(InboundMessage(
        channel=kind, external_id=external_id, sender=IdentityRef(kind=kind, value=sender), text=text, **claims,
    ))
    assert accepted.conversation_id is not None
    return accepted.conversation_id


async def customer_of(client: Client, conversation_id: str) -> dict[str, Any]:
    resp = await client.get(f"/api/conversations/{conversation_id}")
    cid = (await resp.json())["customer"]["id"]
    detail: dict[str, Any] = await (await client.get(f"/api/customers/{cid}")).json()
    return detail


async def test_profile_shows_identities_with_provenance_and_unverified_claims(client: Client) -> None:
    await login(client)
    conv = await writes(client, "webchat", "v-1", "1", "Мой телефон 8 (912) 345-67-89", claimed_email="Anna@Mail.RU")
    detail = await customer_of(client, conv)
    assert [(i["ref"]["kind"], i["verified"], i["source"]) for i in detail["identities"]] == [
        ("webchat", True, "channel")]
    claims = {(c["kind"], c["value"]): c for c in detail["claims"]}
    assert set(claims) == {("phone", "+79123456789"), ("email", "anna@mail.ru")}
    assert claims["phone", "+79123456789"]["source"] == "webchat:text"
    assert claims["phone", "+79123456789"]["raw"] == "8 (912) 345-67-89"
    assert claims["email", "anna@mail.ru"]["verified_at"] is None


async def test_agent_merges_and_unmerges_two_customers(client: Client, agent_http: aiohttp.ClientSession) -> None:
    web = await writes(client, "webchat", "v-1", "1", "С сайта")
    tg = await writes(client, "telegram", "555", "1", "Из телеграма")
    a, b = (await customer_of(client, web))["customer"]["id"], (await customer_of(client, tg))["customer"]["id"]

    resp = await agent_http.post(f"/api/customers/{a}/merge", json={"other_id": b, "reason": "same phone on a call"})
    assert resp.status == 201, await resp.text()
    merge = (await resp.json())["merge"]
    assert (merge["survivor_id"], merge["merged_id"], merge["actor"]) == (a, b, "ann")
    detail = await (await agent_http.get(f"/api/customers/{a}")).json()
    assert {i["ref"]["kind"] for i in detail["identities"]} == {"webchat", "telegram"}
    assert [c["id"] for c in detail["conversations"] if c["status"] != "resolved"] == [web]
    assert [m["text"] for m in (await (await agent_http.get(f"/api/conversations/{web}/messages")).json())["messages"]
            ] == ["С сайта", "Из телеграма"]

    assert await error_of(await agent_http.post(f"/api/customers/{a}/merge", json={"other_id": b, "reason": "again"})
                          ) == (409, "conflict", f"customer {b} was merged into {a}")
    resp = await agent_http.post(f"/api/merges/{merge['id']}/undo", json={"reason": "two different Annas"})
    assert resp.status == 200 and (await resp.json())["merge"]["undone_at"] is not None
    assert (await customer_of(client, tg))["customer"]["id"] == b
    audit = await (await agent_http.get(f"/api/customers/{a}/audit")).json()
    assert [(e["action"], e["actor"], e["reason"]) for e in audit["entries"]] == [
        ("unmerge", "ann", "two different Annas"), ("merge", "ann", "same phone on a call")]


@pytest.mark.parametrize("channel", ["sms", "whatsapp"])
async def test_an_undo_gives_each_side_its_own_conversation_and_channel_back(client: Client, channel: str) -> None:
    """The acceptance run's undo: the phone customer's conversation (older)
    took the webchat customer's messages while merged, and kept 'webchat'."""
    await login(client)
    phone_conv = await writes(client, channel, "+79123456789", f"{channel}-1", "По телефону")
    web_conv = await writes(client, "webchat", "v-1", "w-1", "С сайта")
    phone, web = (await customer_of(client, phone_conv))["customer"]["id"], (await customer_of(client, web_conv))[
        "customer"]["id"]
    before = {c: await (await client.get(f"/api/conversations/{c}")).json() for c in (phone_conv, web_conv)}
    resp = await client.post(f"/api/customers/{web}/merge", json={"other_id": phone, "reason": "same person?"})
    merge = (await resp.json())["merge"]
    assert await writes(client, "webchat", "v-1", "w-2", "Пока вместе") == phone_conv

    resp = await client.post(f"/api/merges/{merge['id']}/undo", json={"reason": "two people"})
    assert resp.status == 200, await resp.text()
    after = {c: await (await client.get(f"/api/conversations/{c}")).json() for c in (phone_conv, web_conv)}
    assert after[phone_conv]["conversation"]["channel"] == channel
    assert after[phone_conv]["conversation"]["last_message_text"] == "По телефону"
    assert after[phone_conv]["customer"] == before[phone_conv]["customer"]
    assert (after[web_conv]["conversation"]["channel"], after[web_conv]["conversation"]["last_message_text"]) == (
        "webchat", "Пока вместе")
    texts = {c: [m["text"] for m in (await (await client.get(f"/api/conversations/{c}/messages")).json())["messages"]]
             for c in (phone_conv, web_conv)}
    assert texts == {phone_conv: ["По телефону"], web_conv: ["С сайта", "Пока вместе"]}


async def test_bad_merge_requests_change_nothing(client: Client) -> None:
    await login(client)
    web = await writes(client, "webchat", "v-1", "1", "hi")
    a = (await customer_of(client, web))["customer"]["id"]
    assert (await error_of(await client.post(f"/api/customers/{a}/merge", json={"other_id": a, "reason": "x"}))
            )[:2] == (409, "conflict")
    assert (await error_of(await client.post(f"/api/customers/{a}/merge", json={"other_id": "cus_nope",
                                                                                  "reason": "x"})))[0] == 404
    status, code, message = await error_of(await client.post(f"/api/customers/{a}/merge", json={"other_id": "x"}))
    assert (status, code) == (422, "invalid") and "reason" in message
    assert (await error_of(await client.post("/api/merges/mrg_nope/undo", json={"reason": "x"})))[0] == 404
    assert (await customer_of(client, web))["merges"] == []


async def test_reply_goes_to_the_last_channel_or_to_a_chosen_linked_one(client: Client) -> None:
    await login(client)
    conv = await writes(client, "whatsapp", "whatsapp:+79123456789", "wa-1", "WhatsApp")
    await writes(client, "sms", "8 912 345 67 89", "sms-1", "SMS")
    # the console offers the channels they wrote from, the one used last first
    assert (await customer_of(client, conv))["channels"] == ["sms", "whatsapp"]
    resp = await client.post(f"/api/conversations/{conv}/messages", json={"text": "Ответ"})
    assert (await resp.json())["message"]["channel"] == "sms"
    resp = await client.post(f"/api/conversations/{conv}/messages", json={"text": "Ответ", "channel": "whatsapp"})
    assert resp.status == 201 and (await resp.json())["message"]["channel"] == "whatsapp"
    status, code, message = await error_of(
        await client.post(f"/api/conversations/{conv}/messages", json={"text": "Ответ", "channel": "telegram"}))
    assert (status, code) == (409, "conflict") and "has not written from channel 'telegram'" in message


async def test_a_crm_upserts_value_attributes_by_phone_and_the_channel_finds_them(
    client: Client, agent_http: aiohttp.ClientSession
) -> None:
    body = {"display_name": "Анна К.", "tier": "gold", "lifetime_value": 12500.5, "tags": ["vip", "loyal", "vip"],
            "attributes": {"city": "Пермь", "plan": "pro"}}
    resp = await client.put("/api/customers/by/phone/8 (912) 345-67-89", json=body)
    assert resp.status == 200, await resp.text()
    first = await resp.json()
    assert first["created"] and first["customer"]["attributes"] == {
        "tier": "gold", "lifetime_value": 12500.5, "tags": ["loyal", "vip"], "city": "Пермь", "plan": "pro"}
    # the same customer writes on WhatsApp: one profile, the attributes are there for routing
    conv = await writes(client, "whatsapp", "whatsapp:+79123456789", "wa-1", "Здравствуйте")
    assert (await customer_of(client, conv))["customer"]["id"] == first["customer"]["id"]
    # a partial update leaves the rest alone; null removes
    resp = await client.put("/api/customers/by/phone/+79123456789", json={"tier": "platinum", "attributes": {
        "plan": None}})
    again = await resp.json()
    assert not again["created"] and again["customer"]["attributes"]["tier"] == "platinum"
    assert "plan" not in again["customer"]["attributes"] and again["customer"]["attributes"]["city"] == "Пермь"
    # agents read, only admins (the CRM's account) write
    assert (await error_of(await agent_http.put("/api/customers/by/phone/+79123456789", json={"tier": "x"})))[0] == 403


async def test_bad_upserts_are_refused_with_the_reason(client: Client) -> None:
    await login(client)
    cases = [
        ("/api/customers/by/phone/12", {"tier": "gold"}, 422, "not a valid phone number"),
        ("/api/customers/by/email/anna@", {"tier": "gold"}, 422, "not an email address"),
        ("/api/customers/by/email/info@shop.ru", {"tier": "gold"}, 409, "a role or placeholder address"),
        ("/api/customers/by/fax/123", {"tier": "gold"}, 404, "found by id, external, phone or email"),
        ("/api/customers/by/external/crm-1", {"lifetime_value": -1}, 422, "lifetime_value"),
        ("/api/customers/by/external/crm-1", {"attributes": {"tier": "x"}}, 422, "not custom attributes"),
        ("/api/customers/by/external/crm-1", {"colour": "red"}, 422, "colour"),
        # a control character: chars 29-31 would split the records a report's cycles pack the tier into
        ("/api/customers/by/external/crm-1", {"tier": "gold\u001evip"}, 422, "control characters"),
        ("/api/customers/by/external/crm-1", {"tags": ["a\u001fb"]}, 422, "control characters"),
        ("/api/customers/by/external/crm-1", {"attributes": {"seg\u007fment": "x"}}, 422, "control characters"),
        ("/api/customers/by/id/cus_missing", {"tier": "gold"}, 404, "cus_missing"),
    ]
    for path, body, status, text in cases:
        got, _, message = await error_of(await client.put(path, json=body))
        assert (got, text in message) == (status, True), (path, message)
    resp = await client.put("/api/customers/by/external/crm-1", json={"tier": "gold"})
    assert (await resp.json())["created"]  # nothing above created it


async def key_refusal(client: Client, kind: str, value: str) -> dict[str, Any]:
    resp = await client.put(f"/api/customers/by/{kind}/{value}", json={"tier": "gold", "lifetime_value": 150000})
    assert resp.status == 409, await resp.text()
    error: dict[str, Any] = (await resp.json())["error"]
    assert error["code"] == "key_not_usable"
    assert error["address_by"] == ["PUT /api/customers/by/id/{id}", "PUT /api/customers/by/external/{external_id}"]
    assert "PUT /api/customers/by/id/{id}" in error["message"]
    return error


async def test_a_crm_write_never_lands_on_whoever_holds_a_generic_or_shared_key(client: Client, tmp_path: Path
                                                                                 ) -> None:
    """The acceptance run's cases: the shop's own 8 800 line, a role address,
    a placeholder, a family's phone, and two employees behind one office line."""
    await login(client)
    # someone wrote from each of these before (a channel linked them): a write by them must not land there
    holders = [await writes(client, kind, value, f"m-{n}", "Здравствуйте") for n, (kind, value) in enumerate([
        ("sms", "8 800 555-35-35"), ("email", "sales@shop.ru"), ("email", "test@test.com"),
        ("whatsapp", "whatsapp:+79999999999")])]
    before = [(await customer_of(client, conv))["customer"] for conv in holders]
    cases = [("phone", "8 800 555-35-35", "+78005553535", "generic", "toll-free"),
             ("email", "Sales@Shop.ru", "sales@shop.ru", "generic", "role or placeholder"),
             ("email", "test@test.com", "test@test.com", "generic", "role or placeholder"),
             ("phone", "+7 999 999-99-99", "+79999999999", "generic", "placeholder number"),
             ("phone", "+7 999 000-12-34", "+79990001234", "blocked", "blocked by config")]
    for kind, value, key, reason, words in cases:
        error = await key_refusal(client, kind, value)
        assert (error["key"], error["reason"], words in error["message"]) == (f"{kind}:{key}", reason, True), error
    assert [(await customer_of(client, conv))["customer"] for conv in holders] == before

    # a family: the CRM knows mother and son by their own ids, and both by one phone
    family = tmp_path / "family.csv"
    family.write_text("external_id,phone,name,tier\nf-1,+79161234567,Мама,silver\nf-2,8 916 123-45-67,Сын,gold\n",
                      encoding="utf-8")
    report = await import_csv(client.app[STORE], client.app[ROUTER].identity, family)
    assert (report.imported, report.rejected) == (2, [])
    error = await key_refusal(client, "phone", "+79161234567")
    assert (error["reason"], len(error["customers"])) == ("shared", 2)
    assert "held by 2 customers" in error["message"]
    # addressed by id as the answer says, the write lands where it is meant to
    for cid in error["customers"]:
        resp = await client.put(f"/api/customers/by/id/{cid}", json={"lifetime_value": 1})
        assert resp.status == 200
    son = await client.put("/api/customers/by/external/f-2", json={"lifetime_value": 99000})
    assert (await son.json())["customer"]["attributes"] == {"tier": "gold", "lifetime_value": 99000}

    # an office: the extension is part of the key, so 104's update never lands on 101
    office = "/api/customers/by/phone/"
    first = await (await client.put(office + "+7 495 123-45-67 доб. 101", json={"tier": "silver"})).json()
    other = await (await client.put(office + "8 (495) 123-45-67 доб. 104", json={"tier": "gold"})).json()
    assert first["created"] and other["created"] and first["customer"]["id"] != other["customer"]["id"]
    detail = await (await client.get(f"/api/customers/{other['customer']['id']}")).json()
    assert [i["ref"]["value"] for i in detail["identities"]] == ["+74951234567;ext=104"]
    again = await (await client.put("/api/customers/by/phone/+74951234567 ext. 101", json={"tier": "gold"})).json()
    assert (again["created"], again["customer"]["id"]) == (False, first["customer"]["id"])


async def test_a_code_for_a_claim_nobody_can_reach_is_refused_clearly(client: Client) -> None:
    await login(client)
    conv = await writes(client, "webchat", "v-1", "1", "Мой номер 8 912 345 67 89")
    detail = await customer_of(client, conv)
    claim = detail["claims"][0]
    status, code, message = await error_of(
        await client.post(f"/api/customers/{detail['customer']['id']}/claims/{claim['id']}/verify", json={}))
    assert (status, code) == (409, "conflict")
    assert "no connected channel can reach phone +79123456789" in message
    missing = await client.post(f"/api/customers/{detail['customer']['id']}/claims/clm_nope/verify", json={})
    assert (await error_of(missing))[0] == 404


async def test_the_customer_panel_script_never_writes_html(client: Client) -> None:
    """Names, claims and attributes are customer input: textContent only."""
    resp = await client.get("/console/customer.js")
    assert resp.status == 200 and "javascript" in resp.content_type
    js = await resp.text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in js, sink
