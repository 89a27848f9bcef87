"""The writer process outlives a call it cannot read (a unit of work whose
module fails to import there): that call fails with a clear error, and the
next one is served by the same process, not by a restart loop."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from router.store.engine import Connection
from router.store.errors import StoreError
from tests.conftest import HANG


class _Unreadable:
    """Pickles fine in the server, fails to unpickle in the writer."""

    def __reduce__(self) -> tuple[Any, ...]:
        return (_refuse, ())

    def __call__(self, conn: object) -> None:
        raise AssertionError("never run")


def _refuse() -> None:
    raise ImportError("no module named 'gone'")


def _answer(conn: object) -> int:
    return 42


async def test_a_call_the_writer_cannot_read_fails_alone(tmp_path: Path) -> None:
    conn = Connection(str(tmp_path / "w.db"), "normal", "writer", process=True)
    await conn.open()
    try:
        pid = conn.pid
        with pytest.raises(StoreError, match="could not read a call"):
            await asyncio.wait_for(conn.call(_Unreadable()), HANG)
        assert await asyncio.wait_for(conn.call(_answer), HANG) == 42
        assert conn.pid == pid  # the same process
    finally:
        await conn.close()


def test_the_server_and_its_writer_start_on_a_python_without_ctypes() -> None:
    code = "import sys; sys.modules['_ctypes'] = None; import router.store.engine, router.server.app, router.heap"
    done = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True,
                          timeout=HANG)
    assert done.returncode == 0, done.stderr
