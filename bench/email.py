"""Mailbox ingest: a real ``omnirouter run`` reads a mailbox of N mails (10,000
by default) from a real IMAP server (Debian's dovecot, from ``tests/fakes``)
through the whole pipeline: fetch, archive, parse (charsets, HTML, quote
stripping), dedupe, durable store, identity, conversation, routing, and the
``\\Seen`` flag set only after each batch is stored.

The mail is a realistic mix: plain UTF-8, KOI8-R and HTML-only mail, half of
it replies quoting an earlier mail, from ``--customers`` distinct senders.
Prints mails/s from the service's start until the mailbox has no unseen mail
left, and checks the service counted every one.

    python -m bench.email --mails 10000 --customers 1000
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import re
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

from bench.load import PASSWORD, free_port, peak_rss_mb, server
from tests.fakes.mail_servers import Dovecot

MAILBOX = "support@shop.example"
MAILBOX_PASSWORD = "bench-mailbox-secret"


def plain(i: int, customer: int) -> bytes:
    quote = (f"\n\nпн, 23 нояб. 2026 г. в 10:00, Shop Support <{MAILBOX}>:\n> Ваш заказ {i - 1} передан курьеру.\n"
             "> Трек-номер будет завтра.\n" if i % 2 else "")
    body = f"Здравствуйте! Где мой заказ {i}? Жду уже неделю.{quote}\n-- \nКлиент {customer}\n"
    subject = base64.b64encode(f"Заказ {i}".encode()).decode()
    return (f"From: =?utf-8?B?{base64.b64encode(f'Клиент {customer}'.encode()).decode()}?= "
            f"<customer{customer}@example.ru>\r\nTo: {MAILBOX}\r\nSubject: =?utf-8?B?{subject}?=\r\n"
            f"Date: Tue, 24 Nov 2026 10:00:00 +0300\r\nMessage-ID: <bench-{i}@example.ru>\r\n"
            "MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            ).encode() + body.replace("\n", "\r\n").encode()


def koi8(i: int, customer: int) -> bytes:
    body = f"Добрый день. Посылка {i} пришла мятой.\n\nС уважением,\nКлиент {customer}\n"
    return (f"From: customer{customer}@example.ru\r\nTo: {MAILBOX}\r\nSubject: =?koi8-r?B?"
            f"{base64.b64encode(f'Посылка {i}'.encode('koi8-r')).decode()}?=\r\n"
            f"Message-ID: <bench-{i}@example.ru>\r\nMIME-Version: 1.0\r\n"
            "Content-Type: text/plain; charset=koi8-r\r\nContent-Transfer-Encoding: 8bit\r\n\r\n"
            ).encode() + body.replace("\n", "\r\n").encode("koi8-r")


def html(i: int, customer: int) -> bytes:
    page = (f"<div dir='ltr'><p>Не могу оплатить заказ <b>{i}</b>:</p><ul><li>карта не проходит</li>"
            f"<li>СБП не открывается</li></ul></div><div class='gmail_quote'>вт, 24 нояб. 2026 г. в 09:00, "
            f"Shop &lt;{MAILBOX}&gt;:<blockquote>Попробуйте ещё раз</blockquote></div>")
    encoded = base64.encodebytes(page.encode()).decode().replace("\n", "\r\n")
    return (f"From: customer{customer}@example.ru\r\nTo: {MAILBOX}\r\nSubject: Payment {i}\r\n"
            f"Message-ID: <bench-{i}@example.ru>\r\nMIME-Version: 1.0\r\n"
            f"Content-Type: text/html; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n{encoded}").encode()


def fill(maildir_new: Path, mails: int, customers: int) -> None:
    """Deliver as a local MTA does into Maildir: one file per mail in new/."""
    makers = (plain, plain, koi8, html)
    for i in range(mails):
        raw = makers[i % len(makers)](i, i % customers)
        (maildir_new / f"1795000000.M{i}P1.bench").write_bytes(raw)


def write_config(folder: Path, port: int, imap_port: int) -> None:
    (folder / "omnirouter.yaml").write_text(
        f"server:\n  port: {port}\n"
        f"store:\n  path: {folder / 'bench.db'}\n"
        "connectors:\n"
        "  webchat:\n    type: webchat\n"
        f"  email:\n    type: email\n    address: {MAILBOX}\n    imap_host: 127.0.0.1\n    imap_port: {imap_port}\n"
        "    imap_security: none\n    smtp_host: 127.0.0.1\n    smtp_port: 1\n    smtp_security: none\n"
        f"    archive_dir: {folder / 'mail'}\n",
        encoding="utf-8",
    )


def unseen(dovecot: Dovecot) -> int:
    with dovecot.imap(MAILBOX) as conn:
        _, data = conn.status("INBOX", "(UNSEEN)")
        match = re.search(rb"UNSEEN (\d+)", data[0] or b"")
        return int(match.group(1)) if match else -1


async def drained(dovecot: Dovecot) -> int:
    """Wait until the service has read (and flagged) every mail; the unseen count left."""
    left = await asyncio.to_thread(unseen, dovecot)
    for _ in range(100_000):
        if left <= 0:
            break
        await asyncio.sleep(0.25)
        left = await asyncio.to_thread(unseen, dovecot)
    return left


async def counted(base: str) -> float:
    async with aiohttp.ClientSession() as http, http.get(f"{base}/metrics") as resp:
        text = await resp.text()
    # the labels in any order: every sample carries the node's too
    match = re.search(r'^omnirouter_messages_in_total\{[^}]*\bchannel="email"[^}]*\} (\S+)$', text, re.MULTILINE)
    return float(match.group(1)) if match else 0.0


async def main(args: argparse.Namespace) -> None:
    print(f"email: a mailbox of {args.mails} mails from {args.customers} customers over IMAP (dovecot); "
          f"{os.cpu_count()} CPUs", flush=True)
    dovecot = Dovecot({MAILBOX: MAILBOX_PASSWORD}).start()
    try:
        started = time.perf_counter()
        await asyncio.to_thread(fill, await asyncio.to_thread(dovecot.maildir_new, MAILBOX), args.mails,
                                args.customers)
        print(f"  delivered into the Maildir in {time.perf_counter() - started:.1f}s; "
              f"{await asyncio.to_thread(unseen, dovecot)} unseen", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            port = free_port()
            write_config(Path(tmp), port, dovecot.port)
            env = {"OMNIROUTER_ADMIN_PASSWORD": PASSWORD, "OMNIROUTER_EMAIL_PASSWORD": MAILBOX_PASSWORD}
            cmd = [sys.executable, "-m", "router.cli", "--log-level", "WARNING", "run", "--config", tmp]
            started = time.perf_counter()
            async with server(cmd, port, env) as pid:
                left = await drained(dovecot)
                elapsed = time.perf_counter() - started
                stored = await counted(f"http://127.0.0.1:{port}")
                rss = peak_rss_mb(pid)
        print(f"email     {args.mails:>7} mails     {args.mails / elapsed:>7.0f} mail/s  "
              f"all read and stored in {elapsed:.1f}s (service start included)  stored {stored:.0f}  "
              f"unseen left {left}  peak RSS {rss:.0f} MB", flush=True)
    finally:
        dovecot.stop()


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--mails", type=int, default=10_000, help="mails in the mailbox")
    parser.add_argument("--customers", type=int, default=1000, help="distinct senders")
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse_args()))
