"""The grammar of a canned reply's variables, and filling them whole or not at all."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from router.canned.template import BadTemplate, MissingValue, UnknownVariable, fill, values_for, variables
from router.models import Agent, Conversation, ConversationStatus, Customer, Role

T0 = datetime(2026, 12, 5, 12, 0, tzinfo=UTC)


def customer(name: str | None = "Анна Петрова", **attributes: object) -> Customer:
    return Customer(id="cus_1", display_name=name, attributes=attributes, created_at=T0, updated_at=T0)


AGENT = Agent(id="agt_1", username="olga", display_name="Ольга", role=Role.AGENT, created_at=T0)
CONV = Conversation(id="cnv_1", customer_id="cus_1", status=ConversationStatus.ASSIGNED, channel="webchat",
                    created_at=T0, updated_at=T0, last_message_at=T0)


@pytest.mark.parametrize(("text", "found"), [
    ("Здравствуйте!", []),
    ("{customer.name}, {agent.name} — {customer.name}", ["customer.name", "agent.name"]),
    ("Заказ {customer.order_id}, обращение {conversation.id}", ["customer.order_id", "conversation.id"]),
    ("{{customer.name}} is shown as written; }} too", []),
    ("{customer.order-no}", ["customer.order-no"]),
])
def test_variables_are_found(text: str, found: list[str]) -> None:
    assert variables(text) == found


@pytest.mark.parametrize(("text", "variable"), [
    ("{name}", "name"), ("{agent.phone}", "agent.phone"), ("{conversation.team}", "conversation.team"),
    ("{customer.address.city}", "customer.address.city"), ("{order.id}", "order.id"),
])
def test_an_unknown_variable_is_refused_by_name(text: str, variable: str) -> None:
    with pytest.raises(UnknownVariable) as caught:
        variables(text)
    assert caught.value.details["variable"] == variable


@pytest.mark.parametrize(("text", "fragment", "position"), [
    ("Hi {customer name}", "{customer name}", 4),
    ("Hi {customer.name", "{customer.name", 4),
    ("a } b", "}", 3),
    ("{}", "{}", 1),
    ("{customer.{x}}", "{customer.{x}", 1),
    ("{{{customer.name", "{customer.name", 3),
])
def test_a_broken_brace_is_refused_with_where_it_is(text: str, fragment: str, position: int) -> None:
    with pytest.raises(BadTemplate) as caught:
        variables(text)
    assert caught.value.details == {"fragment": fragment, "position": position}


def test_filling_uses_the_profile_the_agent_and_the_conversation() -> None:
    values = values_for(customer(order_id="A-1042", total=1200.0, rate=4.5), AGENT, CONV)
    text = ("{customer.first_name} ({customer.name}), {customer.order_id}: {customer.total} ₽ / {customer.rate};"
            " {agent.first_name} ({agent.name}), {conversation.id}, {{literal}}")
    assert fill(text, values) == "Анна (Анна Петрова), A-1042: 1200 ₽ / 4.5; Ольга (Ольга), cnv_1, {literal}"


def test_a_value_is_filled_in_as_text_never_read_as_a_variable() -> None:
    values = values_for(customer(name="{agent.name}", note="}{"), AGENT, CONV)
    assert fill("{customer.name} {customer.note}", values) == "{agent.name} }{"


@pytest.mark.parametrize("value", [None, "", "   ", True, False, ["a"], {"a": 1}])
def test_nothing_printable_is_a_missing_value(value: object) -> None:
    values = values_for(customer(order_id=value), AGENT, CONV)
    with pytest.raises(MissingValue) as caught:
        fill("Заказ {customer.order_id}", values)
    assert caught.value.details["variables"] == ["customer.order_id"]


def test_every_missing_variable_is_named_and_nothing_is_filled() -> None:
    values = values_for(customer(name=None), AGENT, CONV)
    with pytest.raises(MissingValue) as caught:
        fill("{customer.name}, {agent.name}: {customer.order_id} {customer.name}", values)
    assert caught.value.details["variables"] == ["customer.name", "customer.order_id"]
    assert "{customer.name}" in str(caught.value) and "{customer.order_id}" in str(caught.value)
