"""A real PostgreSQL server for the tests, started by them: Debian's binaries
(``apt-get install postgresql``, under ``/usr/lib/postgresql/*/bin``), ``initdb``
and ``pg_ctl`` on a free port in a temp folder, as the email tests start
dovecot. As root (``initdb`` refuses root) its programs run as the ``postgres``
user. Each test gets a database of its own (``fresh_database``), dropped after.

``OMNIROUTER_TEST_POSTGRES`` names a server to use instead (a libpq URL of a
role that may create databases), for a machine without the binaries."""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path

START_TIMEOUT = 120  # seconds: a hang detector for a loaded machine, never a speed assertion


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def binaries() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"))
    return Path(found[-1]).parent if found else None


class PostgresServer:
    """One server in a temp folder; ``dsn(db)`` for each database on it."""

    def __init__(self, durable: bool = False) -> None:
        self.durable = durable
        bin_dir = binaries()
        if bin_dir is None:
            raise RuntimeError(
                "the PostgreSQL tests start a real server: install Debian's postgresql"
                " (apt-get install postgresql), or name one in OMNIROUTER_TEST_POSTGRES"
            )
        self.bin = bin_dir
        self.folder = Path(tempfile.mkdtemp(prefix="omnirouter-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.as_user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        if self.as_user:
            shutil.chown(self.folder, "postgres")

    def dsn(self, database: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *argv: str) -> None:
        subprocess.run([*self.as_user, *argv], check=True, stdout=subprocess.DEVNULL, cwd=self.folder,
                       timeout=START_TIMEOUT)

    def start(self) -> None:
        self._run(str(self.bin / "initdb"), "-D", str(self.data), "-U", "postgres", "-A", "trust", "-E", "UTF8",
                  "--locale=C", "--no-sync")
        options = (f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c shared_buffers=128MB"
                   " -c max_connections=300")
        if not self.durable:  # a test server: no test pulls the power, and fsync costs a busy disk seconds
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-l", str(self.folder / "log"), "-o", options,
                  "-w", "-t", str(START_TIMEOUT), "start")

    def stop(self) -> None:
        with contextlib.suppress(subprocess.CalledProcessError, subprocess.TimeoutExpired):
            self._run(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.folder, ignore_errors=True)

    def cpu_seconds(self) -> float:
        """CPU time, so far, of the backends serving TCP clients (for benches).
        The server's background processes (WAL writer, autovacuum...) spend per
        second, not per transaction, and would charge a slower variant more."""
        postmaster = (self.data / "postmaster.pid").read_text().split()[0]
        tick, total = os.sysconf("SC_CLK_TCK"), 0
        for proc in glob.glob("/proc/[0-9]*"):
            with contextlib.suppress(OSError):
                fields = Path(proc, "stat").read_text().rsplit(")", 1)[1].split()
                # fields: state, ppid, ..., utime (11), stime (12); a backend's title names its client
                if fields[1] == postmaster and b"127.0.0.1(" in Path(proc, "cmdline").read_bytes():
                    total += int(fields[11]) + int(fields[12])
        return total / tick

    def psql(self, sql: str, database: str = "postgres") -> None:
        self._run(str(self.bin / "psql"), "-q", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p", str(self.port),
                  "-U", "postgres", "-d", database, "-c", sql)


class ExternalServer:
    """A server someone else runs (``OMNIROUTER_TEST_POSTGRES``)."""

    def __init__(self, dsn: str) -> None:
        self._dsn = dsn.rstrip("/")

    def dsn(self, database: str = "postgres") -> str:
        base = self._dsn.rsplit("/", 1)[0] if self._dsn.count("/") > 2 else self._dsn
        return f"{base}/{database}"

    def psql(self, sql: str, database: str = "postgres") -> None:
        subprocess.run(["psql", "-q", "-v", "ON_ERROR_STOP=1", self.dsn(database), "-c", sql], check=True,
                       stdout=subprocess.DEVNULL, timeout=START_TIMEOUT)

    def stop(self) -> None:
        return None


Server = PostgresServer | ExternalServer


def start_server() -> Server:
    if external := os.environ.get("OMNIROUTER_TEST_POSTGRES"):
        return ExternalServer(external)
    server = PostgresServer()
    try:
        server.start()
    except BaseException:
        server.stop()
        raise
    return server


@contextlib.contextmanager
def fresh_database(server: Server) -> Iterator[str]:
    """A new empty database's DSN, dropped (whoever is still connected) after."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    server.psql(f"CREATE DATABASE {name}")
    try:
        yield server.dsn(name)
    finally:
        server.psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
