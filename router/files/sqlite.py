"""The files' SQL on SQLite. Mixed into ``SQLiteStore``."""

from __future__ import annotations

from datetime import datetime

from router.files.store import FileStore
from router.files.types import StoredFile
from router.store.engine import Connections
from router.store.errors import ConflictError, IntegrityViolation, NotFound
from router.store.rows import RowLike, ts
from router.store.rows import execute as _execute
from router.store.rows import fetch_all as _all
from router.store.rows import fetch_one as _one
from router.store.rows import from_ts as _ts

MAX_IDS = 100
_UNREFERENCED = (
    "SELECT * FROM files WHERE created_at >= ? AND created_at < ? AND id NOT IN ("
    " SELECT json_extract(a.value, '$.file') FROM messages m, json_each(m.attachments) a"
    " WHERE m.attachments != '[]' AND m.created_at >= ? AND json_extract(a.value, '$.file') IS NOT NULL)"
    " ORDER BY created_at LIMIT ?")


def file_row(row: RowLike) -> StoredFile:
    """A file from its row, a ``sqlite3.Row`` or an asyncpg ``Record``."""
    return StoredFile(id=row["id"], name=row["name"], content_type=row["content_type"], size=row["size"],
                      sha256=row["sha256"], uploaded_by=row["uploaded_by"],
                      created_at=_ts(row["created_at"]))


class SQLiteFiles(FileStore, Connections):
    async def add_file(self, file: StoredFile) -> None:
        try:
            await self._w.call(
                _execute,
                "INSERT INTO files (id, name, content_type, size, sha256, uploaded_by, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?)",
                (file.id, file.name, file.content_type, file.size, file.sha256, file.uploaded_by, ts(file.created_at)),
            )
        except IntegrityViolation as exc:
            raise ConflictError(f"file {file.id} exists") from exc

    async def delete_file(self, file_id: str) -> None:
        await self._w.call(_execute, "DELETE FROM files WHERE id = ?", (file_id,))

    async def unreferenced_files(self, since: datetime, before: datetime, limit: int) -> list[StoredFile]:
        rows = await self._r.call(_all, _UNREFERENCED, (ts(since), ts(before), ts(since), limit))
        return [file_row(r) for r in rows]

    async def get_file(self, file_id: str) -> StoredFile:
        row = await self._r.call(_one, "SELECT * FROM files WHERE id = ?", (file_id,))
        if row is None:
            raise NotFound(f"file {file_id}")
        return file_row(row)

    async def get_files(self, file_ids: list[str]) -> list[StoredFile]:
        wanted = list(dict.fromkeys(file_ids))[:MAX_IDS]
        if not wanted:
            return []
        marks = ", ".join("?" * len(wanted))
        rows = await self._r.call(_all, f"SELECT * FROM files WHERE id IN ({marks})", tuple(wanted))
        return [file_row(r) for r in rows]
