"""SQLite store: WAL with synchronous=FULL, versioned migrations, one writer with group commit.

Every write job runs inside the writer task; jobs that arrive while a commit is under way are
committed together, so many acknowledged requests share one fsync.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import TracebackType

import aiosqlite

from client.merkle import leaf_hash
from server.domain.denials import DenialState
from server.domain.exchange_log import Event, encode_entry, utc_text
from server.domain.merkle import Frontier, NodeKey, Span, node_id, node_key, perfect_subtrees
from server.errors import EcxError, RequestIdReused, StoreUnavailable
from server.store.base import (
    DenialFilter,
    DenialRow,
    LogFilter,
    StoredCheckpoint,
    Transaction,
    WriteJob,
)

log = logging.getLogger(__name__)

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


def migrations() -> list[tuple[int, str]]:
    """(version, SQL) of every migration shipped with the hub, in order."""
    found = []
    for entry in resources.files("server.store").joinpath("migrations").iterdir():
        name = entry.name
        if name.endswith(".sql"):
            found.append((int(name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


@dataclass
class _Pending:
    job: WriteJob
    # (caller, request_id, method, request digest) for idempotent writes.
    idempotency: tuple[str, str, str, bytes] | None
    done: asyncio.Future[bytes] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class _LogBuffer:
    """Log rows of the current batch, written with one statement per table before COMMIT."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, bytes, str, str, str, str]] = []
        self.objects: list[tuple[str, int]] = []
        self.parties: list[tuple[str, int]] = []
        self.nodes: list[tuple[int, bytes]] = []

    def mark(self) -> tuple[int, int, int, int]:
        return len(self.entries), len(self.objects), len(self.parties), len(self.nodes)

    def truncate(self, mark: tuple[int, int, int, int]) -> None:
        del self.entries[mark[0] :], self.objects[mark[1] :]
        del self.parties[mark[2] :], self.nodes[mark[3] :]

    async def flush(self, conn: aiosqlite.Connection) -> None:
        if self.entries:
            await conn.executemany(
                "INSERT INTO log_entries (idx, entry, recorded_at, actor, action, outcome)"
                " VALUES (?, ?, ?, ?, ?, ?)",
                self.entries,
            )
        if self.objects:
            await conn.executemany(
                "INSERT OR IGNORE INTO log_objects (object_id, idx) VALUES (?, ?)", self.objects
            )
        if self.parties:
            await conn.executemany(
                "INSERT OR IGNORE INTO log_parties (party, idx) VALUES (?, ?)", self.parties
            )
        if self.nodes:
            await conn.executemany("INSERT INTO log_nodes (id, hash) VALUES (?, ?)", self.nodes)


class _SqliteTransaction:
    def __init__(self, conn: aiosqlite.Connection, frontier: Frontier, log: _LogBuffer) -> None:
        self._conn = conn
        self._frontier = frontier
        self._log = log

    def append_event(self, event: Event) -> tuple[int, bytes]:
        index = self._frontier.size
        entry = encode_entry(index, event)
        for key, h in self._frontier.append(leaf_hash(entry)):
            self._log.nodes.append((node_id(key), h))
        when = utc_text(event.time)
        self._log.entries.append((index, entry, when, event.actor, event.action, event.outcome))
        self._log.objects.extend((o, index) for o in event.object_ids)
        self._log.parties.extend((p, index) for p in event.parties)
        return index, entry

    async def save_checkpoint(self, checkpoint: StoredCheckpoint, signed_at: str) -> None:
        await self._conn.execute(
            "INSERT OR IGNORE INTO checkpoints (tree_size, root, note, signed_at)"
            " VALUES (?, ?, ?, ?)",
            (checkpoint.tree_size, checkpoint.root, checkpoint.note, signed_at),
        )

    async def denial_state(self, reference: str) -> DenialState | None:
        rows = await self._conn.execute_fetchall(
            "SELECT d.reference, d.issuer, d.regime, d.issuing_state, d.version, d.status,"
            " d.valid_until, v.record, d.renewed_on FROM denials d"
            " JOIN denial_versions v ON v.seq = d.latest_seq WHERE d.reference = ?",
            (reference,),
        )
        for r in rows:
            return DenialState(
                reference=r[0],
                issuer=r[1],
                regime=r[2],
                issuing_state=r[3],
                version=r[4],
                status=r[5],
                valid_until=r[6],
                latest_record=r[7],
                renewed_on=r[8],
            )
        return None

    async def save_version(self, row: DenialRow, record: bytes) -> int:
        """Upsert the denial's index row and append the version; returns the version's seq."""
        existing = await self._conn.execute_fetchall(
            "SELECT id FROM denials WHERE reference = ?", (row.reference,)
        )
        ids = [r[0] for r in existing]
        if ids:
            denial_id = ids[0]
        else:
            inserted = await self._conn.execute_fetchall(
                "INSERT INTO denials (reference, issuer, issuing_state, regime,"
                " destination_country, status, valid_until, renewed_on, version, latest_seq)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, -1) RETURNING id",
                (
                    row.reference,
                    row.issuer,
                    row.issuing_state,
                    row.regime,
                    row.destination_country,
                    row.status,
                    row.valid_until,
                    row.renewed_on,
                    row.version,
                ),
            )
            denial_id = next(iter(inserted))[0]
        seq_rows = await self._conn.execute_fetchall(
            "INSERT INTO denial_versions (denial_id, version, regime, record) VALUES (?, ?, ?, ?)"
            " RETURNING seq",
            (denial_id, row.version, row.regime, record),
        )
        seq = int(next(iter(seq_rows))[0])
        await self._conn.execute(
            "UPDATE denials SET destination_country = ?, status = ?, valid_until = ?,"
            " renewed_on = ?, version = ?, latest_seq = ? WHERE id = ?",
            (
                row.destination_country,
                row.status,
                row.valid_until,
                row.renewed_on,
                row.version,
                seq,
                denial_id,
            ),
        )
        return seq


class SqliteStore:
    """The embedded store. Use as an async context manager."""

    def __init__(self, path: Path, *, batch_max: int = 256) -> None:
        self._path = path
        self._batch_max = batch_max
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._writer_conn: aiosqlite.Connection | None = None
        self._reader: aiosqlite.Connection | None = None
        self._writer_task: asyncio.Task[None] | None = None
        self._frontier = Frontier()
        self._head: tuple[int, bytes] = (0, self._frontier.root())
        self.commits = 0

    async def __aenter__(self) -> SqliteStore:
        await self.open()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._writer_conn = await aiosqlite.connect(self._path, isolation_level=None)
            for pragma in _PRAGMAS:
                await self._writer_conn.execute(pragma)
            await self._migrate(self._writer_conn)
            self._reader = await aiosqlite.connect(self._path, isolation_level=None)
            for pragma in _PRAGMAS[2:]:
                await self._reader.execute(pragma)
            await self._reader.execute("PRAGMA query_only=ON")
            await self._load_frontier()
        except sqlite3.Error as e:
            await self.close()
            raise StoreUnavailable(f"cannot open store {self._path}: {e}") from e
        self._writer_task = asyncio.create_task(self._run_writer(), name="store-writer")

    async def _load_frontier(self) -> None:
        rows = await self._read().execute_fetchall(
            "SELECT COALESCE(MAX(idx) + 1, 0) FROM log_entries"
        )
        size = int(next(iter(rows))[0])
        nodes = await self.log_nodes(perfect_subtrees(Span(0, size)))
        self._frontier = Frontier(size, nodes)
        self._head = (size, self._frontier.root())

    async def close(self) -> None:
        if self._writer_task is not None:
            await self._queue.put(None)
            await self._writer_task
            self._writer_task = None
        for conn in (self._reader, self._writer_conn):
            if conn is not None:
                await conn.close()
        self._reader = self._writer_conn = None

    async def _migrate(self, conn: aiosqlite.Connection) -> None:
        await conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
            " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
        )
        applied = {
            r[0] for r in await conn.execute_fetchall("SELECT version FROM schema_migrations")
        }
        for version, sql in migrations():
            if version in applied:
                continue
            await conn.execute("BEGIN IMMEDIATE")
            try:
                for statement in sql.split(";\n"):
                    if statement.strip():
                        await conn.execute(statement)
                await conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))
                await conn.execute("COMMIT")
            except sqlite3.Error:
                await conn.execute("ROLLBACK")
                raise
            log.info("applied store migration %d", version)

    async def _submit(self, pending: _Pending) -> bytes:
        if self._writer_task is None or self._writer_task.done():
            raise StoreUnavailable("store is not open")
        await self._queue.put(pending)
        return await pending.done

    async def write(
        self, caller: str, request_id: str, method: str, request_sha256: bytes, job: WriteJob
    ) -> bytes:
        return await self._submit(_Pending(job, (caller, request_id, method, request_sha256)))

    async def append(self, job: WriteJob) -> bytes:
        return await self._submit(_Pending(job, None))

    async def record(self, events: Iterable[Event]) -> list[int]:
        batch = list(events)

        async def job(tx: Transaction) -> bytes:
            indexes = [tx.append_event(event)[0] for event in batch]
            return b",".join(str(i).encode() for i in indexes)

        result = await self.append(job)
        return [int(i) for i in result.split(b",")] if result else []

    def tree_head(self) -> tuple[int, bytes]:
        return self._head

    async def _run_writer(self) -> None:
        conn = self._writer_conn
        assert conn is not None
        stopping = False
        while not stopping:
            first = await self._queue.get()
            if first is None:
                break
            batch = [first]
            while len(batch) < self._batch_max and not self._queue.empty():
                item = self._queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            await self._commit_batch(conn, batch)

    async def _commit_batch(self, conn: aiosqlite.Connection, batch: list[_Pending]) -> None:
        outcomes: list[tuple[_Pending, bytes | None, BaseException | None]] = []
        batch_mark = self._frontier.mark()
        buffer = _LogBuffer()
        tx = _SqliteTransaction(conn, self._frontier, buffer)
        try:
            await conn.execute("BEGIN IMMEDIATE")
            for pending in batch:
                job_mark = (self._frontier.mark(), buffer.mark())
                await conn.execute("SAVEPOINT job")
                try:
                    response = await self._run_job(conn, tx, pending)
                except sqlite3.Error:
                    raise
                except Exception as e:
                    if not isinstance(e, EcxError):
                        log.exception("write job failed")
                        e = StoreUnavailable("write failed")
                    await conn.execute("ROLLBACK TO job")
                    self._frontier.reset(job_mark[0])
                    buffer.truncate(job_mark[1])
                    outcomes.append((pending, None, e))
                else:
                    outcomes.append((pending, response, None))
                await conn.execute("RELEASE job")
            await buffer.flush(conn)
            await conn.execute("COMMIT")
            self.commits += 1
        except sqlite3.Error as e:
            log.error("store commit failed: %s", e)
            self._frontier.reset(batch_mark)
            with contextlib.suppress(sqlite3.Error):
                await conn.execute("ROLLBACK")
            failure = StoreUnavailable("store write failed; retry with the same request_id")
            for pending in batch:
                if not pending.done.done():
                    pending.done.set_exception(failure)
            return
        self._head = (self._frontier.size, self._frontier.root())
        for pending, result, error in outcomes:
            if pending.done.done():
                continue
            if error is not None:
                pending.done.set_exception(error)
            else:
                assert result is not None
                pending.done.set_result(result)

    async def _run_job(
        self, conn: aiosqlite.Connection, tx: _SqliteTransaction, pending: _Pending
    ) -> bytes:
        if pending.idempotency is None:
            return await pending.job(tx)
        caller, request_id, method, digest = pending.idempotency
        rows = await conn.execute_fetchall(
            "SELECT request_sha256, response FROM idempotency WHERE caller = ? AND request_id = ?",
            (caller, request_id),
        )
        for stored_digest, response in rows:
            if stored_digest != digest:
                raise RequestIdReused()
            return bytes(response)
        response = await pending.job(tx)
        await conn.execute(
            "INSERT INTO idempotency (caller, request_id, method, request_sha256, response,"
            " created_at) VALUES (?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            (caller, request_id, method, digest, response),
        )
        return response

    # Exchange log reads

    async def log_nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        ids = [node_id(k) for k in keys]
        found: dict[NodeKey, bytes] = {}
        for chunk in range(0, len(ids), 500):
            part = ids[chunk : chunk + 500]
            marks = ",".join("?" * len(part))
            rows = await self._read().execute_fetchall(
                f"SELECT id, hash FROM log_nodes WHERE id IN ({marks})",  # noqa: S608
                part,
            )
            found.update((node_key(int(r[0])), bytes(r[1])) for r in rows)
        return found

    async def log_entries(
        self, start: int, end: int, reader: str | None, batch: int
    ) -> AsyncIterator[list[tuple[int, bytes]]]:
        while start < end:
            sql, params = (
                (_ENTRIES_SQL, [start, end, batch])
                if reader is None
                else (_READER_ENTRIES_SQL, [start, end, reader, reader, batch])
            )
            rows = await self._read().execute_fetchall(sql, params)
            page = [(int(r[0]), bytes(r[1])) for r in rows]
            if not page:
                return
            yield page
            start = page[-1][0] + 1

    async def log_entry(self, index: int) -> tuple[bytes, str, list[str]] | None:
        rows = await self._read().execute_fetchall(
            "SELECT entry, actor, (SELECT group_concat(party, char(31)) FROM log_parties p"
            " WHERE p.idx = e.idx) FROM log_entries e WHERE idx = ?",
            (index,),
        )
        for entry, actor, parties in rows:
            return bytes(entry), actor, parties.split("\x1f") if parties else []
        return None

    async def query_log(self, flt: LogFilter, after: int, limit: int) -> list[tuple[int, bytes]]:
        where = ["e.idx > ?"]
        params: list[object] = [after]
        if flt.reader is not None:
            where.append("(e.actor = ? OR e.idx IN (SELECT idx FROM log_parties WHERE party = ?))")
            params += [flt.reader, flt.reader]
        for column, op, value in (
            ("e.recorded_at", ">=", flt.since),
            ("e.recorded_at", "<", flt.until),
            ("e.actor", "=", flt.actor),
            ("e.action", "=", flt.action),
            ("e.outcome", "=", flt.outcome),
        ):
            if value:
                where.append(f"{column} {op} ?")
                params.append(value)
        if flt.object_id:
            where.append("e.idx IN (SELECT idx FROM log_objects WHERE object_id = ?)")
            params.append(flt.object_id)
        params.append(limit)
        conditions = " AND ".join(where)
        rows = await self._read().execute_fetchall(
            f"SELECT e.idx, e.entry FROM log_entries e WHERE {conditions} ORDER BY e.idx LIMIT ?",  # noqa: S608
            params,
        )
        return [(int(r[0]), bytes(r[1])) for r in rows]

    async def latest_checkpoint(self) -> StoredCheckpoint | None:
        rows = await self._read().execute_fetchall(
            "SELECT tree_size, root, note FROM checkpoints ORDER BY tree_size DESC LIMIT 1"
        )
        for size, root, note in rows:
            return StoredCheckpoint(int(size), bytes(root), note)
        return None

    def _read(self) -> aiosqlite.Connection:
        if self._reader is None:
            raise StoreUnavailable("store is not open")
        return self._reader

    async def denial_versions(self, reference: str) -> list[tuple[int, bytes]]:
        rows = await self._read().execute_fetchall(
            "SELECT v.regime, v.record FROM denial_versions v JOIN denials d ON d.id = v.denial_id"
            " WHERE d.reference = ? ORDER BY v.version",
            (reference,),
        )
        return [(r[0], r[1]) for r in rows]

    async def list_denials(
        self, flt: DenialFilter, after_id: int, limit: int
    ) -> list[tuple[int, bytes]]:
        if not flt.regimes:
            return []
        where = [f"d.regime IN ({','.join('?' * len(flt.regimes))})", "d.id > ?"]
        params: list[object] = [*sorted(flt.regimes), after_id]
        for column, value in (
            ("d.issuing_state", flt.issuing_state),
            ("d.destination_country", flt.destination_country),
        ):
            if value:
                where.append(f"{column} = ?")
                params.append(value)
        if flt.regime:
            where.append("d.regime = ?")
            params.append(flt.regime)
        if flt.status:
            where.append(_STATUS_SQL[flt.status])
            if flt.status != _REVOKED:
                params.append(flt.today)
        # Only fixed column names and placeholders are interpolated; every value is bound.
        conditions = " AND ".join(where)
        sql = f"{_LIST_SQL} WHERE {conditions} ORDER BY d.id LIMIT ?"
        params.append(limit)
        rows = await self._read().execute_fetchall(sql, params)
        return [(r[0], r[1]) for r in rows]

    async def changes(
        self, regimes: frozenset[int], after_seq: int, batch: int
    ) -> AsyncIterator[list[tuple[int, bytes]]]:
        if not regimes:
            return
        marks = ",".join("?" * len(regimes))
        while True:
            rows = await self._read().execute_fetchall(
                f"{_CHANGES_SQL} AND regime IN ({marks}) ORDER BY seq LIMIT ?",
                (after_seq, *sorted(regimes), batch),
            )
            page = [(int(r[0]), bytes(r[1])) for r in rows]
            if not page:
                return
            yield page
            after_seq = page[-1][0]
            if len(page) < batch:
                return


# Stored status is ACTIVE or REVOKED; EXPIRED is ACTIVE past valid_until (see effective_status).
_ACTIVE, _REVOKED, _EXPIRED = 1, 2, 3
_STATUS_SQL = {
    _ACTIVE: "(d.status = 1 AND d.valid_until >= ?)",
    _EXPIRED: "(d.status = 1 AND d.valid_until < ?)",
    _REVOKED: "d.status = 2",
}
_LIST_SQL = "SELECT d.id, v.record FROM denials d JOIN denial_versions v ON v.seq = d.latest_seq"
_CHANGES_SQL = "SELECT seq, record FROM denial_versions WHERE seq > ?"
_ENTRIES_SQL = "SELECT idx, entry FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?"
_READER_ENTRIES_SQL = (
    "SELECT idx, entry FROM log_entries WHERE idx >= ? AND idx < ?"
    " AND (actor = ? OR idx IN (SELECT idx FROM log_parties WHERE party = ?)) ORDER BY idx LIMIT ?"
)
