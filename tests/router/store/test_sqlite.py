"""What only the SQLite backend has: its schema versioning, pragmas and writer process."""

from __future__ import annotations

import asyncio
import multiprocessing.spawn
import os
import re
import signal
import sqlite3
import time
from datetime import UTC, datetime
from pathlib import Path

import pytest
import uvloop

import router.identity.sqlite as identity_sqlite
import router.store.sqlite as sqlite_backend
from router.config import Settings
from router.ingest.store import Ingested
from router.models import IdentityRef, InboundMessage
from router.server.app import make_store
from router.store import engine as store_engine
from router.store import writer_process
from router.store.errors import BackendError, StoreError, StoreUnavailable
from router.store.migrations import MIGRATIONS
from router.store.rows import fetch_one
from router.store.sqlite import SQLiteStore, WriterMode
from tests.conftest import HANG
from tests.writer_modules import cache_size, loaded

T0 = datetime(2026, 11, 24, 12, 0, tzinfo=UTC)


async def test_schema_is_migrated_and_wal_is_on(tmp_path: Path) -> None:
    path = tmp_path / "db" / "omnirouter.db"
    async with SQLiteStore(path):
        pass
    with sqlite3.connect(path) as conn:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(MIGRATIONS)
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"


async def test_a_visitors_unsent_replies_are_found_by_index_not_by_reading_the_outbox(tmp_path: Path) -> None:
    """What a returning site-chat visitor's reconnection asks (outbox._reached): by message, on
    the index of entries not sent yet, whatever the outbox's size."""
    path = tmp_path / "omnirouter.db"
    async with SQLiteStore(path):
        pass
    with sqlite3.connect(path) as conn:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT id, lease_owner FROM outbox WHERE status IN ('pending', 'waiting')"
            " AND message_id IN (?, ?) ORDER BY created_at, rowid", ("m1", "m2")).fetchall()
    assert any("outbox_unsent_message" in row[-1] for row in plan), plan


@pytest.mark.parametrize("writer", ["thread", "process"])
async def test_a_newer_schema_is_refused(tmp_path: Path, writer: WriterMode) -> None:
    path = tmp_path / "omnirouter.db"
    async with SQLiteStore(path):
        pass
    with sqlite3.connect(path) as conn:
        conn.execute(f"PRAGMA user_version={len(MIGRATIONS) + 1}")
    with pytest.raises(RuntimeError, match="newer than this omnirouter"):
        async with SQLiteStore(path, writer=writer):
            pass


@pytest.mark.parametrize("writer", ["thread", "process"])
async def test_a_database_that_cannot_be_opened_is_refused_with_sqlites_reason(
    tmp_path: Path, writer: WriterMode
) -> None:
    (tmp_path / "omnirouter.db").mkdir()  # a folder where the file should be
    # the store's own error type, with SQLite's words in it: no sqlite3 error crosses the Store contract
    with pytest.raises(StoreUnavailable, match="unable to open database file"):
        async with SQLiteStore(tmp_path / "omnirouter.db", writer=writer):
            pass


@pytest.mark.parametrize("writer", ["thread", "process"])
async def test_a_driver_error_of_any_kind_reaches_callers_as_a_store_error(tmp_path: Path, writer: WriterMode) -> None:
    """A statement SQLite refuses for no fault of the disk (here a table
    dropped behind the store's back) is the store's BackendError with
    SQLite's words, on the writer and on the reader: never a sqlite3 error,
    which callers of the Store contract cannot know about."""
    path = tmp_path / "omnirouter.db"
    async with SQLiteStore(path, writer=writer) as store:
        with sqlite3.connect(path) as conn:
            conn.execute("DROP TABLE sessions")
        for call in (lambda: store.create_session("t1", "agt_1", T0), lambda: store.session_agent("t1", T0)):
            with pytest.raises(BackendError, match="no such table: sessions") as caught:
                await call()
            assert not isinstance(caught.value, sqlite3.Error)
        assert not (await store.ingest(_inbound("m1"), T0)).duplicate  # the rest of the store works on


async def test_a_writer_process_that_dies_is_replaced_and_loses_nothing_committed(tmp_path: Path) -> None:
    """The writer runs in a process of its own; if it is killed, the calls
    in flight fail (their senders retry), and the next ones get a new process."""
    async with SQLiteStore(tmp_path / "omnirouter.db", writer="process") as store:
        first = await store.ingest(_inbound("m1"), T0)
        writer_pid = store._w.pid
        assert writer_pid is not None
        assert writer_pid != os.getpid()
        os.kill(writer_pid, signal.SIGKILL)
        # a call that meets the death fails (its sender retries); whether the
        # first one after the kill meets it, or the loop saw the pipe end
        # before and it goes to a new process at once, is the scheduler's race
        try:
            again = await store.ingest(_inbound("m2"), T0)
        except StoreError as exc:
            assert "writer process died" in str(exc)
            again = await store.ingest(_inbound("m2"), T0)
        assert not again.duplicate
        assert store._w.pid not in (None, writer_pid)
        assert (await store.ingest(_inbound("m1"), T0)).message.id == first.message.id  # still there, deduped


async def test_a_result_the_writer_process_cannot_send_fails_alone(tmp_path: Path) -> None:
    async with SQLiteStore(tmp_path / "omnirouter.db", writer="process") as store:
        # a sqlite3.Row cannot be pickled; the ingest in the same batch must not suffer for it
        row, stored = await asyncio.gather(
            store._w.call(fetch_one, "SELECT 1"),
            store.ingest(_inbound("m1"), T0),
            return_exceptions=True,
        )
        assert isinstance(row, StoreError) and "could not be sent" in str(row)
        assert isinstance(stored, Ingested) and not stored.duplicate


async def test_the_writer_process_imports_the_store_not_the_whole_router(tmp_path: Path) -> None:
    """A process that only runs SQL keeps only what SQL needs: the bot's
    numpy, the server's aiohttp and their kin cost it ~35 MB (bench/memory.py)."""
    async with SQLiteStore(tmp_path / "omnirouter.db", writer="process") as store:
        await store.ingest(_inbound("m1"), T0)
        await store.save_cursor("poller", "42")
        assert await store.cursor("poller") == "42"
        await store.secret("files")
        await store.ping()
        modules = set(await store._w.call(loaded))
    assert "router.store.sqlite_db" in modules  # it is the writer's list
    heavy = {"numpy", "aiohttp", "onnxruntime", "router.bot", "router.server", "router.store.sqlite", "router.keyboard"}
    assert not heavy & modules


async def test_the_writer_process_leaves_ctrl_c_and_sigterm_to_the_server(tmp_path: Path) -> None:
    """A terminal's Ctrl-C reaches every process of the group: the writer
    must outlive it, so the server can finish the messages in flight."""
    async with SQLiteStore(tmp_path / "omnirouter.db", writer="process") as store:
        writer_pid = store._w.pid
        assert writer_pid is not None
        os.kill(writer_pid, signal.SIGINT)
        os.kill(writer_pid, signal.SIGTERM)
        await asyncio.sleep(0.2)
        assert not (await store.ingest(_inbound("m1"), T0)).duplicate


async def test_a_large_request_answered_before_its_sending_returns_is_not_lost(tmp_path: Path) -> None:
    """A request over the pipe's buffer is written from a thread. If the loop
    is busy while the child reads it and answers, the answer and the end of
    the sending are seen in the same turn of the loop: the answer must still
    reach the caller (it once met ``None`` and left the batch hanging)."""
    async with SQLiteStore(tmp_path / "omnirouter.db", writer="process") as store:
        big = _inbound("m1").model_copy(update={"text": "x" * (2 * writer_process._PIPE_BUFFER)})
        ingest = asyncio.ensure_future(store.ingest(big, T0))
        child = store._w._child
        assert child is not None
        while not child._replies:  # noqa: ASYNC110 - until the batch is on its way (no event to wait on)
            await asyncio.sleep(0)
        time.sleep(0.5)  # noqa: ASYNC251 - on purpose: the loop is busy while the child reads, stores, answers
        stored = await asyncio.wait_for(ingest, HANG)
        assert stored.message.text == big.text and not stored.duplicate


async def test_a_writer_process_that_cannot_start_is_not_restarted_on_every_call(tmp_path: Path) -> None:
    """Its database gone: the next call learns why, the calls after it fail
    at once (no interpreter spawned for each) until a pause has passed."""
    database = tmp_path / "omnirouter.db"
    async with SQLiteStore(database, writer="process") as store:
        first = await store.ingest(_inbound("m1"), T0)
        writer_pid = store._w.pid
        assert writer_pid is not None
        database.rename(tmp_path / "away.db")
        database.mkdir()
        os.kill(writer_pid, signal.SIGKILL)
        # a call that meets the death fails with it, and the next one learns
        # why no new process starts; when the loop saw the pipe end before the
        # first call (the scheduler's race), that first call already learns why
        with pytest.raises(StoreError) as failed:
            await store.ingest(_inbound("m2"), T0)
        if "writer process died" in str(failed.value):
            with pytest.raises(StoreUnavailable, match="unable to open database file"):
                await store.ingest(_inbound("m2"), T0)
        else:
            assert isinstance(failed.value, StoreUnavailable)
            assert "unable to open database file" in str(failed.value)
        for _ in range(3):
            with pytest.raises(StoreError, match=r"could not start \(.*unable to open database file.*\); next try in"):
                await store.ingest(_inbound("m2"), T0)
            assert store._w.pid is None  # nothing spawned
        database.rmdir()
        (tmp_path / "away.db").rename(database)
        await asyncio.sleep(writer_process._RESTART_PAUSE)
        assert not (await store.ingest(_inbound("m2"), T0)).duplicate
        assert (await store.ingest(_inbound("m1"), T0)).message.id == first.message.id


async def test_a_writer_process_that_keeps_dying_young_is_restarted_after_a_pause(tmp_path: Path) -> None:
    """One death is a mishap: the next call gets a new process at once. A
    second in a row, soon after its start, is a crash loop: calls fail at
    once (no interpreter spawned for each) until a pause has passed."""
    async with SQLiteStore(tmp_path / "omnirouter.db", writer="process") as store:
        first = await store.ingest(_inbound("m1"), T0)
        pids = []
        for text in ("m2", "m3"):
            pids.append(store._w.pid)
            assert pids[-1] is not None
            os.kill(pids[-1], signal.SIGKILL)
            # a call that meets the death fails with it; when the loop saw the
            # pipe end before the call (the scheduler's race), the call already
            # gets what follows the death: a new process, or the crash-loop refusal
            try:
                stored = await store.ingest(_inbound(text), T0)
            except StoreError as exc:
                assert "writer process died" in str(exc) or (text == "m3" and "keeps dying" in str(exc)), exc
                if text == "m2":  # the first death: a new process at once
                    assert not (await store.ingest(_inbound(text), T0)).duplicate
            else:
                assert text == "m2" and not stored.duplicate, "a write went through a crash loop"
        assert pids[0] != pids[1]
        for _ in range(3):
            with pytest.raises(StoreError, match=r"keeps dying \(2 in a row within 10 s of starting\); next try in"):
                await store.ingest(_inbound("m3"), T0)
        assert store._w.pid == pids[1]  # the dead one, not replaced yet
        await asyncio.sleep(writer_process._RESTART_PAUSE)
        assert not (await store.ingest(_inbound("m3"), T0)).duplicate
        assert (await store.ingest(_inbound("m1"), T0)).message.id == first.message.id


async def test_a_writer_process_that_dies_while_starting_died_young(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """An interpreter that cannot start (here one that exits at once) dies
    before it answers: its death is told with its own short life, not the
    time since the process before it started, and calls meanwhile are
    refused until a pause has passed."""
    async with SQLiteStore(tmp_path / "omnirouter.db", writer="process") as store:
        await store.ingest(_inbound("m1"), T0)
        writer_pid = store._w.pid
        assert writer_pid is not None
        await asyncio.sleep(writer_process._YOUNG / 2)  # the first lived a while
        monkeypatch.setattr(multiprocessing.spawn, "get_executable", lambda: os.fsencode("/bin/false"))
        os.kill(writer_pid, signal.SIGKILL)
        failures = []
        for _ in range(6):
            with pytest.raises(StoreError) as failed:
                await store.ingest(_inbound("m2"), T0)
            failures.append(str(failed.value))
        assert "next try in" in failures[-1], failures  # refused during a pause: no interpreter spawned per call
        lives = [float(m.group(1)) for r in caplog.records
                 if (m := re.search(r"process died \(exit code \S+\) after (\S+) s", r.getMessage()))]
        assert len(lives) >= 2
        # the ones that died starting lived milliseconds (/bin/false), not the first one's seconds
        assert all(life < writer_process._YOUNG / 4 for life in lives[1:]), lives


async def test_a_start_that_dies_is_one_trouble_and_holds_off_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture) -> None:
    """A process that dies while starting is told once, by the start that failed: not also
    as a crash loop, which held off twice and made every pause after it four times as long."""
    async with SQLiteStore(tmp_path / "omnirouter.db", writer="process") as store:
        await store.ingest(_inbound("m1"), T0)
        writer_pid = store._w.pid
        assert writer_pid is not None
        monkeypatch.setattr(multiprocessing.spawn, "get_executable", lambda: os.fsencode("/bin/false"))
        monkeypatch.setattr(writer_process, "_RESTART_PAUSE", 3600.0)  # no second start within the test
        os.kill(writer_pid, signal.SIGKILL)
        for _ in range(3):  # the death, the start that dies, a call refused during the pause
            with pytest.raises(StoreError):
                await store.ingest(_inbound("m2"), T0)
        holds = [r.getMessage() for r in caplog.records if "next try in" in r.getMessage()]
        assert len(holds) == 1, holds
        assert store._w._child is not None and store._w._child._troubles == 1


async def test_a_call_to_a_writer_that_died_unseen_fails_as_the_writer_gone(tmp_path: Path) -> None:
    """The writer died (killed, out of memory) and the event loop has not read its pipe's end yet:
    the call that writes to the pipe meets EPIPE, and gets ``WriterGone`` (a ``StoreUnavailable``
    the platforms' retries and the widget's re-send answer), not a raw BrokenPipeError."""
    async with SQLiteStore(tmp_path / "omnirouter.db", writer="process") as store:
        await store.ingest(_inbound("m1"), T0)
        writer = store._w._child
        assert writer is not None and writer._process is not None and writer.pid is not None
        os.kill(writer.pid, signal.SIGKILL)
        writer._process.join()  # blocking on purpose: dead, and the loop has not run since
        with pytest.raises(StoreUnavailable, match="writer process died"):
            await writer.request("run_each", [])
        assert not (await store.ingest(_inbound("m2"), T0)).duplicate  # the next call: a new process


def test_the_writer_process_works_under_uvloop(tmp_path: Path) -> None:
    """An app run on uvloop (gunicorn's uvloop worker, say): libuv makes the
    pipe it watches non-blocking, and a reply read half-way read as a dead
    writer. A batch of 300 long messages is megabytes each way."""

    async def ingest_many() -> list[bool]:
        long = [_inbound(f"m{i}").model_copy(update={"text": f"{i} " + "x" * 8000}) for i in range(300)]
        # it hung for ever without the fix: a failure, never a stuck suite
        async with asyncio.timeout(HANG), SQLiteStore(tmp_path / "omnirouter.db", writer="process") as store:
            done = await asyncio.gather(*(store.ingest(message, T0) for message in long))
            again = await store.ingest(long[0], T0)
        return [step.duplicate for step in done] + [again.duplicate]

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(ingest_many()) == [False] * 300 + [True]


async def test_a_fault_in_handling_a_batch_reaches_its_callers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(outcomes: object) -> object:
        raise RuntimeError("unreadable answer")

    async with SQLiteStore(tmp_path / "omnirouter.db", writer="process") as store:
        monkeypatch.setattr(store_engine, "_received", broken)
        with pytest.raises(RuntimeError, match="unreadable answer"):
            await asyncio.wait_for(store.ingest(_inbound("m1"), T0), HANG)
        monkeypatch.undo()
        assert (await store.ingest(_inbound("m1"), T0)).duplicate  # it was stored: a retry finds it


@pytest.mark.parametrize("writer", ["process", "thread"])
async def test_the_writer_mode_is_chosen_in_config(tmp_path: Path, writer: WriterMode) -> None:
    async with SQLiteStore(tmp_path / "omnirouter.db", writer=writer) as store:
        await store.ingest(_inbound("m1"), T0)
        assert (store._w.pid is not None) is (writer == "process")


@pytest.mark.parametrize("writer", ["process", "thread"])
async def test_the_page_cache_of_each_connection_is_sized_by_config(tmp_path: Path, writer: WriterMode) -> None:
    settings = Settings.model_validate({"store": {"path": str(tmp_path / "omnirouter.db"), "writer": writer,
                                                  "cache_mb": 3}})
    async with make_store(settings, tmp_path) as store:
        assert isinstance(store, SQLiteStore)
        assert await store._w.call(cache_size) == -3 * 1024  # KiB
        assert await store._r.call(cache_size) == -3 * 1024


@pytest.mark.parametrize("writer", ["process", "thread"])
async def test_bulk_load_takes_rows_from_generators_in_chunks(
    tmp_path: Path, writer: WriterMode, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(identity_sqlite, "BULK_CHUNK", 2)  # five customers: three transactions
    stamp = sqlite_backend.ts(T0)
    customers = ((f"cus_{n}", f"Customer {n}", stamp) for n in range(5))
    identities = (("telegram", str(n), f"cus_{n}", None, None, stamp) for n in range(5))
    async with SQLiteStore(tmp_path / "omnirouter.db", writer=writer) as store:
        await store.bulk_load(customers, identities)
        found = await store.find_identity(IdentityRef(kind="telegram", value="4"))
        assert found is not None and found.id == "cus_4" and found.display_name == "Customer 4"


def _inbound(external_id: str) -> InboundMessage:
    return InboundMessage(channel="webchat", external_id=external_id,
                          sender=IdentityRef(kind="webchat", value="visitor-1"), text="hello")
