"""``omnirouter customers import``: messy CSV in, every good field kept, a report of what was left out."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from router.bus import EventBus
from router.cli import main
from router.core import Router
from router.identity.customers import ImportReport, RowError, parse_row
from router.identity.service import IdentityConfig, IdentityRules, load_identity_config
from router.metrics import Metrics
from router.models import Customer, IdentityRef, InboundMessage
from router.routing.rules import RulesRouting, load_rules
from router.server.app import DATABASE_URL, make_store
from router.server.settings import load_settings
from router.store.base import Store
from tests.conftest import TEST_STORE

CSV = """\
external_id,phone,email,name,tier,lifetime_value,tags,city
crm-1,8 (912) 345-67-89,Anna@Mail.RU,Анна,gold,12500.50,vip;loyal,Пермь
crm-2,not a phone,,Борис,silver,10,,
crm-3,,,Вера,,abc,,
,,,,gold,,,
crm-4,+7 913 000 00 01,,Глеб,bronze,0,,Казань,extra
crm-5,+7 913 000 00 02,anna@mail.ru,Дина,gold,1,,
crm-1,,,,platinum,,,
"""


@pytest.fixture
def config_dir(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    config = tmp_path / "config"
    config.mkdir()
    backend = ""
    if TEST_STORE == "postgres":  # the import's store as the app's tests have it (tests/conftest.py)
        backend = "  backend: postgres\n"
        monkeypatch.setenv(DATABASE_URL, request.getfixturevalue("pg_database"))
    (config / "omnirouter.yaml").write_text(f"store:\n{backend}  path: {tmp_path / 'crm.db'}\n", encoding="utf-8")
    return config


def crm_store(path: Path) -> Store:
    """The store the import wrote to (``path``, or the test's PostgreSQL database), not opened yet."""
    return make_store(load_settings(path.parent / "config"), path.parent)


def run_import(tmp_path: Path, config_dir: Path, text: str) -> int:
    path = tmp_path / "customers.csv"
    path.write_text(text, encoding="utf-8")
    return main(["customers", "import", str(path), "--config", str(config_dir), "--quiet"])


def report_of(err: str) -> dict[str, list[str]]:
    """What the import said about each line: ``FILE:LINE: text`` on stderr."""
    found: dict[str, list[str]] = {}
    for line in err.strip().splitlines():
        if "customers.csv:" in line:
            loc, text = line.split(": ", 1)
            found.setdefault(loc.rsplit(":", 1)[1], []).append(text)
    return found


def test_import_creates_and_updates_and_reports_each_bad_field_by_line(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_import(tmp_path, config_dir, CSV) == 1
    out, err = capsys.readouterr()
    assert "5 rows imported (4 new customers), 2 rejected, 3 fields left out" in out
    where = report_of(err)
    assert where["3"] == ["phone: 'not a phone' is not a phone number: no phone number in it"]
    assert where["4"] == ["lifetime_value: 'abc' is no amount: write it as 12500.50 or «12 500,50»"]
    assert where["5"] == ["no usable external_id, phone or email to find the customer by; not applied: tier='gold'"]
    assert "9 fields where the header has 8" in where["6"][0]
    # row 7's email is Анна's: set aside (and noted as shared), the rest of the row is Дина's
    assert where["7"] == ["email: email anna@mail.ru not linked: customer {anna} has external id 'crm-1' already, "
                          "not 'crm-5': the email is theirs".format(anna=asyncio.run(find(tmp_path, "crm-1")))]
    asyncio.run(check_store(tmp_path / "crm.db"))


async def find(tmp_path: Path, external_id: str) -> str:
    async with crm_store(tmp_path / "crm.db") as store:
        found = await store.find_identity(IdentityRef(kind="external", value=external_id))
        assert found is not None
        return found.id


async def check_store(path: Path) -> None:
    async with crm_store(path) as store:
        anna = await store.find_identity(IdentityRef(kind="phone", value="+79123456789"))
        assert anna is not None and anna.display_name == "Анна"
        assert anna.attributes == {"tier": "platinum", "lifetime_value": 12500.5, "tags": ["loyal", "vip"],
                                   "city": "Пермь"}
        assert await store.find_identity(IdentityRef(kind="email", value="anna@mail.ru")) == anna
        expected = {"crm-2": ("Борис", {"tier": "silver", "lifetime_value": 10}), "crm-3": ("Вера", {}),
                    "crm-5": ("Дина", {"tier": "gold", "lifetime_value": 1})}
        for external_id, (name, attributes) in expected.items():
            found = await store.find_identity(IdentityRef(kind="external", value=external_id))
            assert found is not None and (found.display_name, found.attributes) == (name, attributes)
        dina = await store.find_identity(IdentityRef(kind="phone", value="+79130000002"))
        assert dina is not None and dina.display_name == "Дина"
        assert await store.find_identity(IdentityRef(kind="external", value="crm-4")) is None


# the acceptance run's messy rows, with what each customer must end up as
MESSY = """external_id,phone,email,name,tier,lifetime_value
c-01,+7 912 000-00-01,info@shop.ru,Пётр,gold,150000
c-02,+7 912 000-00-02,test@test.com,Ольга,platinum,90000
c-03,+7 912 000-00-03,test@test.com,Иван,silver,5000
c-04,0000000000,ira@mail.ru,Ира,gold,120000
f-1,+7 916 555-00-00,,Мама,silver,2000
f-2,8 916 555-00-00,,Сын,gold,30000
e-101,+7 495 123-45-67 доб. 101,,Сотрудник 101,bronze,100
e-104,+7 495 123-45-67 доб. 104,,Сотрудник 104,gold,200000
c-05,8 800 555-35-35,sales@shop.ru,Магазин?,gold,1
c-01,,ira@mail.ru,,vip,999999
"""

# external id: (name, tier, lifetime value, its keys as linked)
TRUTH = {
    "c-01": ("Пётр", "gold", 150000, {"phone:+79120000001"}),
    "c-02": ("Ольга", "platinum", 90000, {"phone:+79120000002"}),
    "c-03": ("Иван", "silver", 5000, {"phone:+79120000003"}),
    "c-04": ("Ира", "gold", 120000, {"email:ira@mail.ru"}),
    "f-1": ("Мама", "silver", 2000, {"phone:+79165550000"}),
    "f-2": ("Сын", "gold", 30000, set()),
    "e-101": ("Сотрудник 101", "bronze", 100, {"phone:+74951234567;ext=101"}),
    "e-104": ("Сотрудник 104", "gold", 200000, {"phone:+74951234567;ext=104"}),
    "c-05": ("Магазин?", "gold", 1, set()),
}


def test_a_messy_file_keeps_every_good_field_and_says_what_it_left_out(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_import(tmp_path, config_dir, MESSY) == 1
    out, err = capsys.readouterr()
    assert "9 rows imported (9 new customers), 1 rejected" in out
    where = report_of(err)
    assert [w.split(": ", 1)[0] for w in where["2"]] == ["email"] and "role or placeholder" in where["2"][0]
    assert [w.split(": ", 1)[0] for w in where["3"] + where["4"]] == ["email", "email"]
    assert where["5"][0].startswith("phone: '0000000000' is not a valid phone number")
    assert where["7"][0].startswith("phone: phone +79165550000 not linked: customer ")
    assert "has external id 'f-1' already, not 'f-2'" in where["7"][0]
    assert sorted(w.split(": ", 1)[0] for w in where["10"]) == ["email", "phone"]
    assert "toll-free" in " ".join(where["10"])
    # two customers named by one row: neither changes, and the report says what was not applied
    assert len(where["11"]) == 1 and "belong to different customers" in where["11"][0]
    assert "not applied: email='ira@mail.ru', external_id='c-01', lifetime_value='999999', tier='vip'" in where["11"][0]
    assert set(where) == {"2", "3", "4", "5", "7", "10", "11"}
    asyncio.run(check_truth(tmp_path / "crm.db"))
    assert asyncio.run(routed_team(tmp_path / "crm.db", "+79120000001")) == "senior"  # LTV 150000, row had info@
    assert asyncio.run(routed_team(tmp_path / "crm.db", "+79120000002")) == "senior"  # platinum, had test@test.com
    assert asyncio.run(routed_team(tmp_path / "crm.db", "+79120000077")) != "senior"  # nobody the CRM knows


async def routed_team(path: Path, phone: str) -> str | None:
    """The team the shipped rules give a WhatsApp message from ``phone``: the
    imported tier and lifetime value are what the rules read."""
    config = Path(__file__).parents[3] / "config"
    async with crm_store(path) as store:
        router = Router(store, EventBus(), RulesRouting(load_rules(config / "rules.yaml")), Metrics(),
                        identity=IdentityRules(load_identity_config(config)))
        accepted = await router.on_message(InboundMessage(
            channel="whatsapp", external_id=f"wa-{phone}", sender=IdentityRef(kind="whatsapp", value=phone),
            text="Где мой заказ?"))
        assert accepted.conversation_id is not None
        return (await store.get_conversation(accepted.conversation_id)).team


async def check_truth(path: Path) -> None:
    async with crm_store(path) as store:
        for external_id, (name, tier, ltv, keys) in TRUTH.items():
            found = await store.find_identity(IdentityRef(kind="external", value=external_id))
            assert found is not None, external_id
            # what routing reads: the rules see tier and lifetime value in Customer.attributes
            assert (found.display_name, found.attributes) == (name, {"tier": tier, "lifetime_value": ltv})
            linked = {i.key for i in await store.customer_identities(found.id) if i.ref.kind != "external"}
            assert linked == keys, external_id
        for key in ("email:info@shop.ru", "email:test@test.com", "phone:+78005553535", "email:sales@shop.ru"):
            kind, value = key.split(":", 1)
            assert await store.find_identity(IdentityRef(kind=kind, value=value)) is None


def test_a_file_without_a_key_column_imports_nothing(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_import(tmp_path, config_dir, "name,tier\nАнна,gold\n") == 1
    assert "customers.csv:1: the header names no external_id, phone or email column" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["", "\n", "\nphone,name\n+79120000001,Анна\n"])
def test_an_empty_file_or_a_blank_first_line_is_said_to_be_so(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str], text: str
) -> None:
    assert run_import(tmp_path, config_dir, text) == 1
    assert "customers.csv:1: the file is empty or its first line is blank" in capsys.readouterr().err


def test_a_missing_file_is_a_clear_error(tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["customers", "import", str(tmp_path / "nope.csv"), "--config", str(config_dir)]) == 1
    assert "nope.csv: cannot read" in capsys.readouterr().err


@pytest.mark.parametrize("where", ["under a file", "a folder"])
def test_a_store_that_cannot_be_opened_is_named_not_the_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    """The store's folder is a file, or the store's path a folder: the
    import says the store failed, in one line, and never blames the CSV."""
    (tmp_path / "blocker").write_text("", encoding="utf-8")
    store = tmp_path / "blocker" / "crm.db" if where == "under a file" else tmp_path
    config = tmp_path / "config"
    config.mkdir()
    (config / "omnirouter.yaml").write_text(f"store:\n  path: {store}\n", encoding="utf-8")
    assert run_import(tmp_path, config, "phone,name\n+79123456789,Анна\n") == 1
    err = capsys.readouterr().err
    assert "customers.csv: the store failed after 0 of 1 row:" in err
    assert "cannot read" not in err and "Traceback" not in err


def test_a_row_whose_only_key_is_blocked_is_rejected_with_what_it_would_have_set() -> None:
    rules = IdentityRules(IdentityConfig.model_validate({"email": {"kinds": ["email"], "blocked": ["info@*"]}}))
    with pytest.raises(RowError, match=r"blocked by config.*not applied: email='info@shop\.ru', tier='gold'"):
        parse_row(rules, {"email": "info@shop.ru", "tier": "gold"}, 2, 2, ImportReport())


def test_a_control_character_in_a_row_is_left_out_and_reported_by_line() -> None:
    """Chars 29-31 would split the records a report's cycles pack a tier into; any control character is no
    part of a tier, a tag or an attribute's name."""
    report = ImportReport()
    row = parse_row(IdentityRules(IdentityConfig()),
                    {"external_id": "c-1", "tier": "gold\x1evip", "tags": "a;b\x1fc", "seg\x7fment": "x",
                     "name": "Anna"}, 5, 7, report)
    assert (row.attrs.tier, row.attrs.tags, row.attrs.attributes, row.attrs.display_name) == (None, None, {}, "Anna")
    assert sorted(name for _, name, _ in report.dropped) == ["seg\x7fment", "tags", "tier"]
    assert all(line == 7 and "control characters" in why for line, _, why in report.dropped)


def test_a_column_named_twice_is_refused_before_any_row(tmp_path: Path, config_dir: Path,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    """The row's last value of such a column silently won (crm-16 imported, crm-15 gone)."""
    assert run_import(tmp_path, config_dir, "external_id,external_id,phone\ncrm-15,crm-16,\n") == 1
    assert report_of(capsys.readouterr().err) == {"1": ["the header names external_id more than once: keep one "
                                                        "of each"]}
    assert asyncio.run(_found(tmp_path, "crm-16")) is None


def test_a_field_past_the_csv_limit_ends_the_import_in_words(tmp_path: Path, config_dir: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """Was a traceback (_csv.Error); the rows before it are imported."""
    text = "external_id,name\ncrm-1,Анна\ncrm-2," + "x" * 300_000 + "\ncrm-3,Вера\n"
    assert run_import(tmp_path, config_dir, text) == 1
    said = report_of(capsys.readouterr().err)
    assert list(said) == ["3"] and said["3"][0].startswith("the file is no CSV from here (field larger than")
    assert asyncio.run(_found(tmp_path, "crm-1")) is not None
    assert asyncio.run(_found(tmp_path, "crm-3")) is None


async def _found(tmp_path: Path, external_id: str) -> object:
    async with crm_store(tmp_path / "crm.db") as store:
        return await store.find_identity(IdentityRef(kind="external", value=external_id))


def test_a_file_in_windows_1251_is_refused_whole_with_its_line(tmp_path: Path, config_dir: Path,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    """Excel's «CSV» in a Russian locale: the rows before the first bad byte
    were imported, the rest lost, and no summary said which (the byte named
    was the decoder's, not the file's)."""
    rows = "".join(f"crm-{i},Клиент {i}\n" if i == 60 else f"crm-{i},Client {i}\n" for i in range(100))
    path = tmp_path / "customers.csv"
    path.write_bytes(("external_id,name\n" + rows).encode("cp1251"))
    assert main(["customers", "import", str(path), "--config", str(config_dir), "--quiet"]) == 1
    said = capsys.readouterr().err
    assert f"{path}:62: not UTF-8 text" in said and "Windows-1251" in said and "nothing was imported" in said
    assert asyncio.run(_found(tmp_path, "crm-0")) is None


@pytest.mark.parametrize(("header", "row"), [
    ("External_ID, Phone ,EMAIL,Name", "crm-21,+7 912 345 67 89,anna@mail.ru,Анна"),  # case and spaces
    ("external_id;phone;email;name", "crm-21;+7 912 345 67 89;anna@mail.ru;Анна"),  # Excel's «CSV», ru locale
    ("external_id\tphone\temail\tname", "crm-21\t+7 912 345 67 89\tanna@mail.ru\tАнна"),
    # inner spaces and hyphens, as CRMs name them: the external id was a custom attribute, and
    # every row lost it (and with it the protection of families' phones)
    ("External ID;Phone;E-mail;Name", "crm-21;+7 912 345 67 89;anna@mail.ru;Анна"),
])
def test_our_columns_are_read_whatever_their_case_spaces_or_separator(
        tmp_path: Path, config_dir: Path, header: str, row: str) -> None:
    """"Phone" and " email" were custom attributes (the customer got no key, and the
    import said nothing); a file separated by ';' had no key column at all."""
    assert run_import(tmp_path, config_dir, f"{header}\n{row}\n") == 0
    assert asyncio.run(_found(tmp_path, "crm-21")) is not None

    async def keys() -> set[tuple[str, str]]:
        async with crm_store(tmp_path / "crm.db") as store:
            found = await store.find_identity(IdentityRef(kind="external", value="crm-21"))
            assert found is not None and found.display_name == "Анна" and "Phone" not in found.attributes
            return {(i.ref.kind, i.ref.value) for i in await store.customer_identities(found.id)}

    assert {("phone", "+79123456789"), ("email", "anna@mail.ru")} <= asyncio.run(keys())


def test_a_family_phone_a_channel_wrote_from_first_joins_none_of_the_family(
        tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """The father wrote on WhatsApp, then the CRM file gave the phone to the son
    and to him: the son's row landed on the father's WhatsApp customer (his
    name and tier on the father's messages), because the store learnt the
    phone was shared only at the second row."""
    async def father_writes() -> str:
        async with crm_store(tmp_path / "crm.db") as store:
            router = Router(store, EventBus(), RulesRouting(load_rules(Path(__file__).parents[3] / "config"
                                                                      / "rules.yaml")), Metrics(),
                            identity=IdentityRules(IdentityConfig()))
            await router.on_message(InboundMessage(channel="whatsapp", external_id="wa-1", text="Здравствуйте",
                                                   sender=IdentityRef(kind="whatsapp", value="+79161234567")))
            found = await store.find_identity(IdentityRef(kind="whatsapp", value="+79161234567"))
            assert found is not None
            return found.id

    father = asyncio.run(father_writes())
    text = "external_id,phone,name\nC-1,8 916 123-45-67,Сын Петров\nC-2,+7 916 123 45 67,Папа Петров\n"
    run_import(tmp_path, config_dir, text)
    said = capsys.readouterr().err
    assert "the file gives it to 2 customers (C-1, C-2)" in said

    async def after() -> tuple[Customer | None, Customer | None, Customer]:
        async with crm_store(tmp_path / "crm.db") as store:
            son = await store.find_identity(IdentityRef(kind="external", value="C-1"))
            dad = await store.find_identity(IdentityRef(kind="external", value="C-2"))
            return son, dad, await store.get_customer(father)

    son, dad, whatsapp = asyncio.run(after())
    assert son is not None and dad is not None
    assert father not in (son.id, dad.id)
    assert whatsapp.display_name != "Сын Петров"


@pytest.mark.parametrize(("written", "read"), [("1 200,50", 1200.5), ("1\u00a0200,50", 1200.5), ("1.200,50", 1200.5),
                                               ("1,200.50", 1200.5), ("12500,5", 12500.5), ("990", 990.0)])
def test_an_amount_as_a_russian_spreadsheet_writes_it_is_read(written: str, read: float) -> None:
    """«1 200,50» is how Excel writes an amount in a Russian locale, in the very
    ';'-separated files the import reads: the lifetime value was left out."""
    report = ImportReport()
    row = parse_row(IdentityRules(IdentityConfig()), {"external_id": "crm-1", "lifetime_value": written}, 2, 2, report)
    assert row.attrs.lifetime_value == read and report.dropped == []


@pytest.mark.parametrize(("written", "read"), [("5 000 ₽", 5000.0), ("$1,200.50", 1200.5), ("1200 руб.", 1200.0),
                                               ("1 200,50 руб", 1200.5), ("RUB 300", 300.0), ("€15", 15.0),
                                               ("5000р.", 5000.0), ("100 рублей", 100.0)])
def test_an_amount_with_its_currency_is_read(written: str, read: float) -> None:
    """CRMs export an amount with its currency («5 000 ₽», "$1,200.50"): it was left out as no number."""
    report = ImportReport()
    row = parse_row(IdentityRules(IdentityConfig()), {"external_id": "crm-1", "lifetime_value": written}, 2, 2, report)
    assert row.attrs.lifetime_value == read and report.dropped == []


@pytest.mark.parametrize("written", ["lots", "₽", "5 000 ₽ и ещё"])
def test_an_amount_that_is_none_is_said_in_words_with_what_the_file_has(written: str) -> None:
    """pydantic's 'Input should be a valid number, unable to parse string as a number' was the reason."""
    report = ImportReport()
    parse_row(IdentityRules(IdentityConfig()), {"external_id": "crm-1", "lifetime_value": written}, 2, 2, report)
    assert [d[1:] for d in report.dropped] == [
        ("lifetime_value", f"{written!r} is no amount: write it as 12500.50 or «12 500,50»")]


def test_an_amount_that_reads_two_ways_is_left_out_and_said() -> None:
    report = ImportReport()
    row = parse_row(IdentityRules(IdentityConfig()), {"external_id": "crm-1", "lifetime_value": "1,200"}, 2, 2, report)
    assert row.attrs.lifetime_value is None and [d[1] for d in report.dropped] == ["lifetime_value"]


FAMILY = """external_id,email,name,tier
p-son,petrovy@mail.ru,Пётр Петров-младший,silver
p-dad,petrovy@mail.ru,Пётр Петров,gold
"""


async def mail_from(path: Path, sender: str, external_id: str) -> tuple[str, dict[str, str]]:
    """The customer a mail from ``sender`` lands on, and how each imported customer now holds the address."""
    config = Path(__file__).parents[3] / "config"
    async with crm_store(path) as store:
        router = Router(store, EventBus(), RulesRouting(load_rules(config / "rules.yaml")), Metrics(),
                        identity=IdentityRules(load_identity_config(config)))
        accepted = await router.on_message(InboundMessage(
            channel="mail", external_id=external_id, sender=IdentityRef(kind="email", value=sender),
            text="Здравствуйте, где заказ?"))
        assert accepted.conversation_id is not None
        customer = (await store.get_conversation(accepted.conversation_id)).customer_id
        held: dict[str, str] = {}
        for external in ("p-son", "p-dad"):
            found = await store.find_identity(IdentityRef(kind="external", value=external))
            if found is None:
                continue
            linked = {i.key for i in await store.customer_identities(found.id)}
            claims = {f"{c.kind}:{c.value}": c.source for c in await store.customer_claims(found.id)}
            held[external] = "linked" if "email:petrovy@mail.ru" in linked else claims.get("email:petrovy@mail.ru", "")
            held[f"{external} id"] = found.id
        return customer, held


def test_a_family_email_the_file_gives_twice_brings_its_mail_to_neither(
    tmp_path: Path, config_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The son's row came first and kept the address linked (for his profile): a
    mail's sender is an email key, so the family's mail landed on his record,
    his name and tier on the father's words."""
    assert run_import(tmp_path, config_dir, FAMILY) == 0
    assert "petrovy@mail.ru not linked: customer" in capsys.readouterr().err
    db = tmp_path / "crm.db"
    customer, held = asyncio.run(mail_from(db, "petrovy@mail.ru", "m1@mail.ru"))
    assert customer not in (held["p-son id"], held["p-dad id"])
    assert held["p-son"] == held["p-dad"] == "import:shared"
    # the next mail from the address goes where the first went; another address is untouched
    again, _ = asyncio.run(mail_from(db, "petrovy@mail.ru", "m2@mail.ru"))
    assert again == customer


def test_an_email_the_file_gives_once_still_brings_its_mail_to_its_customer(
    tmp_path: Path, config_dir: Path
) -> None:
    assert run_import(tmp_path, config_dir, FAMILY.splitlines()[0] + "\n" + FAMILY.splitlines()[1] + "\n") == 0
    customer, held = asyncio.run(mail_from(tmp_path / "crm.db", "petrovy@mail.ru", "m1@mail.ru"))
    assert customer == held["p-son id"] and held["p-son"] == "linked"


def test_names_are_imported_as_agents_read_them(tmp_path: Path, config_dir: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """A CRM's cell with a line break, or a U+202E that turns a name round, went in as it was."""
    text = 'external_id,name\nn-1,"Анна\nПетрова"\nn-2,\u202eвонаври\nn-3,\u202e\u200f\n'
    assert run_import(tmp_path, config_dir, text) == 0
    where = report_of(capsys.readouterr().err)
    assert [w.split(": ", 1)[0] for w in where["5"]] == ["name"] and "control or format" in where["5"][0]
    names = asyncio.run(names_of(tmp_path / "crm.db", ["n-1", "n-2", "n-3"]))
    assert names == ["Анна Петрова", "вонаври", None]


async def names_of(path: Path, externals: list[str]) -> list[str | None]:
    async with crm_store(path) as store:
        found = [await store.find_identity(IdentityRef(kind="external", value=e)) for e in externals]
        return [c.display_name if c is not None else "missing" for c in found]
