"""Email's link to the mailbox against the whole running service and a real IMAP
server (dovecot): polling and IDLE, a restart, a wrong password, the options, and
a tap that breaks the connection as networks do (dropped links, lost flags, IDLE
renewal, big mailboxes, shutdown, TLS and STARTTLS)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from connectors.email import EmailConnector
from router.config import Settings
from router.server.app import CONNECTORS, ROUTER
from tests.conftest import HANG, AppClient
from tests.connectors.email_helpers import (
    CUSTOMER,
    MAILBOX,
    Client,
    deliver,
    email_section,
    eventually,
    inbound_from,
    mail,
)
from tests.fakes.mail_servers import Dovecot, ImapTap, SmtpSink

# the SMTP sink listens on 127.0.0.1 only: AUTH without TLS is what a local relay does
pytestmark = pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning")


def connector(app: Client) -> EmailConnector:
    found = app.app[CONNECTORS]["mail"]
    assert isinstance(found, EmailConnector)
    return found


# -- the mailbox connection -------------------------------------------------------------------


async def test_polling_without_idle_and_nothing_lost_across_a_restart(
    make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink, tmp_path: Path
) -> None:
    mail_settings.connectors["mail"] = email_section(mailbox, smtp, tmp_path, idle=False)
    first = await make_client(mail_settings)
    raw, _ = mail("Первое", "Раз")
    await deliver(mailbox, raw)
    await inbound_from(first, CUSTOMER)
    await first.close()
    # mail arriving while the service is down is read on the next start
    raw2, _ = mail("Второе", "Два")
    await deliver(mailbox, raw2)
    second = await make_client(mail_settings)
    stored = await inbound_from(second, CUSTOMER, 2)
    assert [m.text for m in stored] == ["Раз", "Два"]


async def test_idle_wakes_the_connector_without_polling(
    make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink, tmp_path: Path
) -> None:
    # a poll interval far longer than the test: only IDLE can bring the mail in
    mail_settings.connectors["mail"] = email_section(mailbox, smtp, tmp_path, poll_interval=3600)
    app = await make_client(mail_settings)
    await eventually(lambda: _caught_up(connector(app)), "the first read of the mailbox")
    raw, _ = mail("Сейчас", "IDLE")
    await deliver(mailbox, raw)
    [stored] = await inbound_from(app, CUSTOMER)
    assert stored.text == "IDLE"


async def _caught_up(c: EmailConnector) -> bool:
    return c.caught_up.is_set()


async def test_a_wrong_password_is_retried_and_the_service_keeps_running(
    make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("OMNIROUTER_EMAIL_PASSWORD", "wrong-Pa55")
    app = await make_client(mail_settings)

    async def refused() -> list[str] | None:
        return [r.getMessage() for r in caplog.records if "refused the login" in r.getMessage()] or None

    [logged] = await eventually(refused, "the refused login to be logged")
    # what the admin needs: which server, which login, the server's words, where the password comes from
    assert logged == ("email mail: 127.0.0.1 refused the login of support@shop.example: "
                      "[AUTHENTICATIONFAILED] Authentication failed.; check the password in "
                      "OMNIROUTER_EMAIL_PASSWORD; trying again in 300s")
    assert not any("wrong-Pa55" in r.getMessage() for r in caplog.records)
    async with app.get("/healthz") as resp:
        assert resp.status == 200
    assert not connector(app).caught_up.is_set()


def test_the_connector_is_off_until_its_password_is_set(
    mail_settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OMNIROUTER_EMAIL_PASSWORD")
    options = EmailConnector.parse_options(mail_settings.connectors["mail"].options())
    assert options.disabled_reason() == "set OMNIROUTER_EMAIL_PASSWORD to the mailbox's password"
    bare = EmailConnector.parse_options({})
    assert bare.disabled_reason() == "set address, imap_host, smtp_host in its config section"


def test_bad_options_are_refused_with_a_clear_message() -> None:
    with pytest.raises(ValueError, match="no api_base"):
        EmailConnector.parse_options({"api_base": "http://x"})
    with pytest.raises(ValueError, match="imap_security"):
        EmailConnector.parse_options({"imap_security": "ssl"})
    with pytest.raises(ValueError, match="mailbox's email address"):
        EmailConnector.parse_options({"address": "support"})


# -- the link to the mailbox, through a tap that breaks it as networks do ----------------------


@pytest.fixture
async def tap(mailbox: Dovecot) -> AsyncIterator[ImapTap]:
    relay = await ImapTap(mailbox.port).start()
    yield relay
    await relay.stop()


async def tapped_client(make_client: AppClient, settings: Settings, tap: ImapTap, smtp: SmtpSink,
                        tmp_path: Path, **more: Any) -> Client:
    """The service, reading the mailbox through the tap."""
    settings.connectors["mail"] = email_section(None, smtp, tmp_path, imap_port=tap.port, **more)
    return await make_client(settings)


@pytest.fixture
async def tls_tap(mailbox: Dovecot) -> AsyncIterator[ImapTap]:
    relay = await ImapTap(mailbox.tls_port, tls=True).start()
    yield relay
    await relay.stop()


@pytest.mark.parametrize("security", ["none", "tls"])
async def test_a_connection_dropped_during_idle_is_reestablished_and_mail_still_arrives(
    security: str, tap: ImapTap, tls_tap: ImapTap, make_client: AppClient, mail_settings: Settings,
    mailbox: Dovecot, smtp: SmtpSink, tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    if security == "tls":
        tap = tls_tap  # the drop must be seen under TLS too, where EOF reaches IMAPClient differently
    app = await tapped_client(make_client, mail_settings, tap, smtp, tmp_path, poll_interval=3600,
                              imap_security=security, verify_certificates=False)
    await eventually(lambda: _caught_up(connector(app)), "the first read of the mailbox")
    if security == "none":
        await eventually(lambda: _sent(tap, "IDLE", 1), "the connector to wait in IDLE")
    connector(app).caught_up.clear()
    tap.cut()  # the server restarts

    async def reported() -> bool:
        return any("IMAP failed" in r.getMessage() for r in caplog.records)

    await eventually(reported, "the dropped connection to be logged")
    await eventually(lambda: _caught_up_again(connector(app)), "the mailbox read on a new connection")
    assert tap.sessions == 2
    raw, _ = mail("После обрыва", "Дошло?")
    await deliver(mailbox, raw)
    [stored] = await inbound_from(app, CUSTOMER)
    assert stored.text == "Дошло?"


async def _caught_up_again(c: EmailConnector) -> bool:
    return c.caught_up.is_set()


async def _sent(tap: ImapTap, command: str, count: int) -> bool:
    return len(tap.commands(command)) >= count


def _async(probe: Callable[[], bool]) -> Callable[[], Awaitable[bool]]:
    async def probed() -> bool:
        return probe()
    return probed


async def test_a_mail_stored_but_not_yet_flagged_comes_again_and_is_stored_once(
    tap: ImapTap, make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink,
    tmp_path: Path,
) -> None:
    # the link dies exactly between "stored" and "flagged \Seen" (a crash there is the same)
    tap.drop_on("UID STORE")
    raw, mid = mail("Один раз", "Только один раз")
    await deliver(mailbox, raw)
    app = await tapped_client(make_client, mail_settings, tap, smtp, tmp_path)
    await eventually(lambda: asyncio.to_thread(lambda: all(mailbox.seen(MAILBOX).values()) or None),
                     "the mail to be flagged on the second connection")
    assert tap.sessions == 2
    assert len(tap.commands("UID FETCH")) == 2  # read twice...
    [stored] = await inbound_from(app, CUSTOMER)  # ...stored once
    assert stored.external_id == mid
    assert app.app[ROUTER].metrics.duplicates.labels("mail")._value.get() == 1


async def test_idle_is_renewed_before_the_servers_limit_and_still_brings_mail(
    tap: ImapTap, make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink,
    tmp_path: Path,
) -> None:
    app = await tapped_client(make_client, mail_settings, tap, smtp, tmp_path, poll_interval=3600, idle_renew=0.3)
    await eventually(lambda: _sent(tap, "IDLE", 3), "IDLE to be issued three times")
    assert len(tap.commands("DONE")) >= 2  # each renewal ends the previous IDLE first
    assert tap.sessions == 1
    raw, _ = mail("Всё ещё здесь", "IDLE после обновлений")
    await deliver(mailbox, raw)
    [stored] = await inbound_from(app, CUSTOMER)
    assert stored.text == "IDLE после обновлений"


def test_idle_renewal_past_the_rfc_2177_limit_is_refused() -> None:
    with pytest.raises(ValueError, match="idle_renew"):
        EmailConnector.parse_options({"idle_renew": 30 * 60})
    assert EmailConnector.parse_options({"idle_renew": 29 * 60}).model_dump()["idle_renew"] == 29 * 60


async def test_a_big_mailbox_is_fetched_in_bounded_chunks_unmarked_and_each_senders_mail_in_order(
    tap: ImapTap, make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink,
    tmp_path: Path,
) -> None:
    senders = ["anna@example.ru", "boris@example.ru", "vera@example.ru"]
    for i in range(10):
        raw, _ = mail(f"Письмо {i}", f"Текст {i}", sender=senders[i % 3])
        await deliver(mailbox, raw)
    app = await tapped_client(make_client, mail_settings, tap, smtp, tmp_path, fetch_batch=3)
    await eventually(lambda: _caught_up(connector(app)), "the mailbox to be read through")
    fetches = tap.commands("UID FETCH")
    assert len(fetches) == 4
    for command in fetches:
        uid_set, _, items = command.removeprefix("UID FETCH ").partition(" ")
        assert len(uid_set.split(",")) <= 3 and ":" not in uid_set
        assert items == "(BODY.PEEK[])"  # read without marking: \Seen comes only after storing
    assert len(await asyncio.to_thread(mailbox.seen, MAILBOX)) == 10
    assert all((await asyncio.to_thread(mailbox.seen, MAILBOX)).values())
    for n, sender in enumerate(senders):
        stored = await inbound_from(app, sender, len(range(n, 10, 3)))
        assert [m.text for m in stored] == [f"Текст {i}" for i in range(n, 10, 3)]


async def test_shutdown_ends_idle_and_logs_out(
    tap: ImapTap, make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink,
    tmp_path: Path,
) -> None:
    app = await tapped_client(make_client, mail_settings, tap, smtp, tmp_path, poll_interval=3600)
    await eventually(lambda: _sent(tap, "IDLE", 1), "the connector to wait in IDLE")
    await app.close()
    assert tap.commands()[-3:] == ["IDLE", "DONE", "LOGOUT"]


async def test_shutdown_does_not_hang_on_a_server_that_stopped_answering(
    tap: ImapTap, make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink,
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    # a link that died silently (a NAT that forgot it): nothing comes back, and
    # the connection's own timeout is far longer than anyone waits at shutdown
    app = await tapped_client(make_client, mail_settings, tap, smtp, tmp_path, poll_interval=3600, timeout=3600)
    # in IDLE, not still waiting for the server to accept it (which a frozen server never does)
    await eventually(_async(tap.idling), "the connector to wait in IDLE")
    tap.freeze()
    async with asyncio.timeout(HANG):
        await app.close()
    assert "DONE" in tap.commands()
    assert any("did not answer" in r.getMessage() for r in caplog.records)


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_mail_is_read_over_tls_and_starttls(
    security: str, make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink,
    tmp_path: Path,
) -> None:
    port = mailbox.tls_port if security == "tls" else mailbox.port
    # the test server's certificate is self-signed: checking it is switched off here
    mail_settings.connectors["mail"] = email_section(mailbox, smtp, tmp_path, imap_port=port,
                                                     imap_security=security, verify_certificates=False)
    app = await make_client(mail_settings)
    raw, _ = mail("Шифрование", "По TLS")
    await deliver(mailbox, raw)
    [stored] = await inbound_from(app, CUSTOMER)
    assert stored.text == "По TLS"


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_an_untrusted_certificate_is_refused_with_the_reason(
    security: str, make_client: AppClient, mail_settings: Settings, mailbox: Dovecot, smtp: SmtpSink,
    tmp_path: Path, caplog: pytest.LogCaptureFixture,
) -> None:
    port = mailbox.tls_port if security == "tls" else mailbox.port
    mail_settings.connectors["mail"] = email_section(mailbox, smtp, tmp_path, imap_port=port,
                                                     imap_security=security)
    app = await make_client(mail_settings)

    async def refused() -> list[str] | None:
        return [r.getMessage() for r in caplog.records if "IMAP failed to connect" in r.getMessage()] or None

    [logged, *_] = await eventually(refused, "the certificate to be refused")
    assert f"to 127.0.0.1:{port}" in logged and "CERTIFICATE_VERIFY_FAILED" in logged
    assert "self-signed certificate" in logged
    assert not connector(app).caught_up.is_set()
