"""Real local mail servers for the email connector's tests and the bench.

- ``Dovecot``: Debian's dovecot IMAP server in the foreground, with a config
  generated into a temporary directory, a free port on 127.0.0.1, plaintext
  login allowed (localhost only) and the mail stored as Maildir under tmp.
  Mail reaches it the way it reaches a real mailbox: IMAP APPEND (or files
  written into the Maildir, for the bench's 10,000 messages).
- ``ImapTap``: a TCP relay between the connector and dovecot that records the
  commands the client sends and breaks the link the ways networks and servers
  do: a dropped connection, a connection lost at a given command (a crash
  between two steps), a server that stops answering.
- ``SmtpSink``: an aiosmtpd server that records every mail it accepts and can
  be told to answer 4xx or 5xx, or to go away.
"""

from __future__ import annotations

import asyncio
import contextlib
import imaplib
import logging
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import threading
import time
import warnings
from collections import deque
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session

logging.getLogger("mail.log").setLevel(logging.ERROR)

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], what: str, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"{what} did not listen on port {port} within {timeout:g}s")


class Dovecot:
    """One dovecot instance with the given users (``{login: password}``).

    With ``tls``: a self-signed certificate for 127.0.0.1 (made by openssl, which
    dovecot's package brings), STARTTLS on ``port`` and implicit TLS on ``tls_port``."""

    def __init__(self, users: dict[str, str], *, tls: bool = False) -> None:
        self.users = users
        self.tls = tls
        self.port = 0
        self.tls_port = 0
        self.root = Path()
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> Dovecot:
        if not os.path.exists(DOVECOT):
            raise RuntimeError("dovecot is not installed (apt-get install dovecot-imapd)")
        # dovecot refuses mail processes as root and its login processes must
        # reach the runtime directory: a world-traversable dir, owned by the mail user
        self.root = Path(tempfile.mkdtemp(prefix="omni-dovecot-"))
        self.root.chmod(0o755)
        if os.geteuid() == 0:
            mail_user, login_user, internal_user = "nobody", "dovenull", "dovecot"
        else:
            mail_user = login_user = internal_user = pwd.getpwuid(os.geteuid()).pw_name
        home = self.root / "home"
        home.mkdir()
        if os.geteuid() == 0:
            entry = pwd.getpwnam(mail_user)
            os.chown(home, entry.pw_uid, entry.pw_gid)
        (self.root / "users").write_text("".join(f"{u}:{{PLAIN}}{p}\n" for u, p in self.users.items()))
        self.port = free_port()
        ssl_conf, imaps = "ssl = no", ""
        if self.tls:
            cert, key = self._make_certificate()
            self.tls_port = free_port()
            ssl_conf = f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}"
            imaps = f"inet_listener imaps {{\n    port = {self.tls_port}\n    ssl = yes\n  }}"
        (self.root / "dovecot.conf").write_text(f"""
base_dir = {self.root}/run
state_dir = {self.root}/state
log_path = {self.root}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl_conf}
disable_plaintext_auth = no
auth_mechanisms = plain login
default_login_user = {login_user}
default_internal_user = {internal_user}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.root}/users
}}
userdb {{
  driver = static
  args = uid={mail_user} gid={pwd.getpwnam(mail_user).pw_gid} home={home}/%u
}}
mail_location = maildir:~/Maildir
service imap-login {{
  inet_listener imap {{
    port = {self.port}
  }}
  {imaps}
}}
service anvil {{
  chroot =
}}
""")
        self._process = subprocess.Popen([DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
                                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        _wait_for_port(self.port, self._process, "dovecot")
        if self.tls_port:
            _wait_for_port(self.tls_port, self._process, "dovecot (TLS)")
        return self

    def _make_certificate(self) -> tuple[Path, Path]:
        cert, key = self.root / "cert.pem", self.root / "key.pem"
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                        "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
                        "-keyout", str(key), "-out", str(cert)], check=True, capture_output=True)
        key.chmod(0o644)  # read by dovecot's unprivileged login process
        return cert, key

    def stop(self) -> None:
        if self._process is not None:
            self._process.terminate()
            try:
                self._process.wait(10)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
            self._process = None
        shutil.rmtree(self.root, ignore_errors=True)

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    # -- a mailbox, as the mail's senders and its human readers see it ----------------
    @contextlib.contextmanager
    def imap(self, user: str) -> Any:
        conn = imaplib.IMAP4("127.0.0.1", self.port)
        try:
            conn.login(user, self.users[user])
            conn.select("INBOX")
            yield conn
        finally:
            with contextlib.suppress(imaplib.IMAP4.error, OSError):
                conn.logout()

    def deliver(self, user: str, raw: bytes) -> None:
        """Put a mail in the user's INBOX, unseen, as an MTA's delivery would (blocking)."""
        with self.imap(user) as conn:
            status, data = conn.append("INBOX", "", None, raw)
            if status != "OK":
                raise RuntimeError(f"APPEND failed: {data!r}")

    def seen(self, user: str) -> dict[int, bool]:
        """uid -> whether the mail is flagged \\Seen (blocking)."""
        with self.imap(user) as conn:
            if not int(conn.select("INBOX")[1][0] or 0):
                return {}
            _status, data = conn.uid("FETCH", "1:*", "(FLAGS)")
            out: dict[int, bool] = {}
            for line in data:
                if isinstance(line, bytes) and b"UID" in line:
                    uid = int(line.split(b"UID ", 1)[1].split(b" ", 1)[0].rstrip(b")"))
                    out[uid] = b"\\Seen" in line
            return out

    def maildir_new(self, user: str) -> Path:
        """The user's Maildir ``new/`` (mail written there is delivered)."""
        with self.imap(user):
            pass  # the first login creates the Maildir
        return self.root / "home" / user / "Maildir" / "new"


# -- a tap on the IMAP link ---------------------------------------------------------------


@dataclass
class _Link:
    client: asyncio.StreamWriter
    server: asyncio.StreamWriter

    def close(self) -> None:
        self.client.close()
        self.server.close()


class ImapTap:
    """A relay on 127.0.0.1 to ``upstream_port``; the connector is pointed at ``port``.

    A ``tls`` link is relayed as bytes (its commands are not readable, so not
    recorded, and ``drop_on`` does not apply); a plain one line by line."""

    def __init__(self, upstream_port: int, *, tls: bool = False) -> None:
        self.upstream_port = upstream_port
        self.tls = tls
        self.port = 0
        self.lines: list[bytes] = []  # every command line clients sent, in order
        self.relayed = b""  # every byte of the server's answers that reached the clients
        self.sessions = 0
        self._links: list[_Link] = []
        self._drop_on: list[bytes] = []
        self._answering = asyncio.Event()
        self._answering.set()
        self._server: asyncio.Server | None = None

    async def start(self) -> ImapTap:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = int(self._server.sockets[0].getsockname()[1])
        return self

    async def stop(self) -> None:
        self._answering.set()
        self.cut()
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def commands(self, name: str = "") -> list[str]:
        """The commands sent (tags dropped), those starting with ``name`` if given."""
        out = []
        for line in self.lines:
            text = line.decode(errors="replace")
            command = text if text.upper() == "DONE" else text.partition(" ")[2]
            if command.upper().startswith(name.upper()):
                out.append(command)
        return out

    def idling(self) -> bool:
        """Whether a client's IDLE was accepted: the server's continuation reached it, so the
        client waits in IDLE (until then it waits for that answer)."""
        return b"+ idling" in self.relayed

    def cut(self) -> None:
        """Close every open connection, as a server restart does."""
        for link in self._links:
            link.close()
        self._links.clear()

    def drop_on(self, command: str) -> None:
        """Close the connection when a client next sends ``command`` (not passed on)."""
        self._drop_on.append(command.upper().encode())

    def freeze(self) -> None:
        """The server stops answering: nothing more reaches the clients."""
        self._answering.clear()

    async def _relay(self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        try:
            server_r, server_w = await asyncio.open_connection("127.0.0.1", self.upstream_port)
        except OSError:
            client_w.close()
            return
        self.sessions += 1
        link = _Link(client_w, server_w)
        self._links.append(link)
        answers = asyncio.create_task(self._answers(server_r, client_w))
        try:
            while self.tls and (data := await client_r.read(65536)):
                server_w.write(data)
                await server_w.drain()
            while not self.tls and (line := await client_r.readline()):
                self.lines.append(line.rstrip(b"\r\n"))
                command = line.upper().partition(b" ")[2]
                if dropped := next((d for d in self._drop_on if command.startswith(d)), None):
                    self._drop_on.remove(dropped)
                    break
                server_w.write(line)
                await server_w.drain()
        except (ConnectionError, OSError):
            pass  # the client went away: so does the link
        finally:
            link.close()
            with contextlib.suppress(ValueError):
                self._links.remove(link)
            answers.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await answers

    async def _answers(self, server_r: asyncio.StreamReader, client_w: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError, OSError):
            while data := await server_r.read(65536):
                await self._answering.wait()
                client_w.write(data)
                self.relayed += data
                await client_w.drain()
        client_w.close()


# -- SMTP -------------------------------------------------------------------------------


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    data: bytes

    def message(self) -> EmailMessage:
        parsed = BytesParser(policy=policy.default).parsebytes(self.data)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, sink: SmtpSink) -> None:
        self.sink = sink

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if answer := self.sink.take_failure("RCPT"):
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(
        self, server: SMTP, session: Session, envelope: Envelope
    ) -> str:
        if answer := self.sink.take_failure("DATA"):
            return answer
        content = envelope.original_content or b""
        self.sink.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), content))
        self.sink.arrived.set()
        return "250 2.0.0 Ok: queued"


class SmtpSink:
    """A real SMTP server on 127.0.0.1 that keeps what it is sent."""

    def __init__(self, username: str | None = None, password: str | None = None) -> None:
        self.received: list[Received] = []
        self.failures: deque[tuple[str, str]] = deque()  # (stage, "451 4.3.0 try later")
        self.arrived = threading.Event()
        self.port = free_port()
        self._lock = threading.Lock()
        self._controller: Controller | None = None
        self._auth = (username, password)

    def fail_next(self, stage: str, answer: str, times: int = 1) -> None:
        with self._lock:
            self.failures.extend([(stage, answer)] * times)

    def take_failure(self, stage: str) -> str | None:
        with self._lock:
            if self.failures and self.failures[0][0] == stage:
                return self.failures.popleft()[1]
        return None

    def start(self) -> SmtpSink:
        username, password = self._auth
        kwargs: dict[str, Any] = {}
        if username is not None:
            def authenticate(server: SMTP, session: Session, envelope: Envelope, mechanism: str,
                             auth_data: Any) -> Any:
                from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: PLC0415
                ok = isinstance(auth_data, LoginPassword) and (
                    auth_data.login.decode(), auth_data.password.decode()) == (username, password)
                return AuthResult(success=ok)
            kwargs = {"authenticator": authenticate, "auth_require_tls": False, "auth_required": True}
        self._controller = Controller(_Handler(self), hostname="127.0.0.1", port=self.port, **kwargs)
        with warnings.catch_warnings():
            # listening on 127.0.0.1 only: AUTH without TLS is what a local relay does
            warnings.simplefilter("ignore", UserWarning)
            self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None
