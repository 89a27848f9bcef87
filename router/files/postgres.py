"""The files' SQL on PostgreSQL. Mixed into ``PostgresStore``."""

from __future__ import annotations

from datetime import datetime

from router.files.sqlite import MAX_IDS, file_row
from router.files.store import FileStore
from router.files.types import StoredFile
from router.store.errors import ConflictError, IntegrityViolation, NotFound
from router.store.pg_engine import PgConn, PgConnections


async def _add(conn: PgConn, file: StoredFile) -> None:
    await conn.execute(
        "INSERT INTO files (id, name, content_type, size, sha256, uploaded_by, created_at)"
        " VALUES ($1, $2, $3, $4, $5, $6, $7)",
        file.id, file.name, file.content_type, file.size, file.sha256, file.uploaded_by, file.created_at,
    )


async def _delete(conn: PgConn, file_id: str) -> None:
    await conn.execute("DELETE FROM files WHERE id = $1", file_id)


async def _unreferenced(conn: PgConn, since: datetime, before: datetime, limit: int) -> list[StoredFile]:
    rows = await conn.fetch(
        "SELECT * FROM files WHERE created_at >= $1 AND created_at < $2 AND id NOT IN ("
        " SELECT a->>'file' FROM messages m, jsonb_array_elements(m.attachments) a"
        " WHERE m.attachments <> '[]'::jsonb AND m.created_at >= $1 AND a->>'file' IS NOT NULL)"
        " ORDER BY created_at LIMIT $3", since, before, limit)
    return [file_row(r) for r in rows]


async def _get(conn: PgConn, file_id: str) -> StoredFile:
    row = await conn.fetchrow("SELECT * FROM files WHERE id = $1", file_id)
    if row is None:
        raise NotFound(f"file {file_id}")
    return file_row(row)


async def _many(conn: PgConn, file_ids: list[str]) -> list[StoredFile]:
    return [file_row(r) for r in await conn.fetch("SELECT * FROM files WHERE id = ANY($1::text[])", file_ids)]


class PostgresFiles(FileStore, PgConnections):
    async def add_file(self, file: StoredFile) -> None:
        try:
            await self._pg.write(_add, file)
        except IntegrityViolation as exc:
            raise ConflictError(f"file {file.id} exists") from exc

    async def delete_file(self, file_id: str) -> None:
        await self._pg.write(_delete, file_id)

    async def unreferenced_files(self, since: datetime, before: datetime, limit: int) -> list[StoredFile]:
        return await self._pg.read(_unreferenced, since, before, limit)

    async def get_file(self, file_id: str) -> StoredFile:
        return await self._pg.read(_get, file_id)

    async def get_files(self, file_ids: list[str]) -> list[StoredFile]:
        wanted = list(dict.fromkeys(file_ids))[:MAX_IDS]
        return await self._pg.read(_many, wanted) if wanted else []
