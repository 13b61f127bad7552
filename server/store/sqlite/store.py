"""SQLite store: WAL with synchronous=FULL, versioned migrations, one writer with group commit.

Writes go through one writer: requests queue up while a batch commits, and the next batch runs
in a single hand-off to the writer's own SQLite thread and commits with one fsync. Reads use
aiosqlite connections that see committed snapshots (WAL) and never wait for the writer.

Several hub processes may share one store file (`[server] workers`). Their writers take turns
under an exclusive lock on a file beside the store, held from BEGIN to COMMIT, and a writer that
finds the file changed by another since its own last commit reloads the log's frontier first,
so every process appends to the one exchange log.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import TypeVar, cast

import aiosqlite

from server.domain.exchange_log import Event
from server.domain.merkle import Frontier, NodeKey, node_id, node_key
from server.errors import EcxError, RequestIdReused, StoreUnavailable
from server.store.base import (
    ChangePage,
    ConsultationFilter,
    DenialFilter,
    LogFilter,
    NoticeFilter,
    ScreeningRow,
    StoredCheckpoint,
    StoredNotice,
    Transaction,
    WriteJob,
)
from server.store.sqlite import notices
from server.store.sqlite.queries import (
    CHANGE_PAGE_SQL,
    CHANGES_SQL,
    ENTRIES_SQL,
    LIST_SQL,
    REVOKED_STATUS,
    STATUS_SQL,
    change_pages,
    committed_frontier,
    committed_head,
    denial_with_log,
    find_screening_candidates,
    prefetching,
    reader_entries_sql,
    scan_log,
)
from server.store.sqlite.schema import PRAGMAS, log, migrate, signed_regime, version_record
from server.store.sqlite.transaction import LogBuffer, SqliteTransaction


@dataclass
class _Pending:
    job: WriteJob
    # (caller, request_id, method, request digest) for idempotent writes.
    idempotency: tuple[str, str, str, bytes] | None
    done: asyncio.Future[bytes] = field(
        default_factory=lambda: asyncio.get_running_loop().create_future()
    )


class _JobFailed(Exception):
    """A job failed in a batch run without savepoints."""


def _idempotency_records(
    conn: sqlite3.Connection, batch: list[_Pending]
) -> dict[tuple[str, str], tuple[bytes, bytes]]:
    """(request digest, response) already recorded for the batch's idempotent requests."""
    keys = [p.idempotency[:2] for p in batch if p.idempotency is not None]
    if not keys:
        return {}
    rows = conn.execute(
        "SELECT i.caller, i.request_id, i.request_sha256, i.response FROM json_each(?) AS k"
        " JOIN idempotency AS i ON i.caller = json_extract(k.value, '$[0]')"
        " AND i.request_id = json_extract(k.value, '$[1]')",
        (json.dumps(keys),),
    ).fetchall()
    return {(r[0], r[1]): (bytes(r[2]), bytes(r[3])) for r in rows}


_Outcome = tuple[bytes | None, EcxError | None]


_T = TypeVar("_T")


class SqliteStore:
    """The embedded store. Use as an async context manager."""

    def __init__(self, path: Path, *, batch_max: int = 256) -> None:
        self._path = path
        self._batch_max = batch_max
        self._queue: asyncio.Queue[_Pending | None] = asyncio.Queue()
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-writer")
        self._conn: sqlite3.Connection | None = None  # used on the writer thread only
        self._reader: aiosqlite.Connection | None = None
        # Reads that take several statements run as one function on their own thread.
        self._lookup = ThreadPoolExecutor(max_workers=1, thread_name_prefix="store-lookup")
        self._lookup_conn: sqlite3.Connection | None = None  # used on the lookup thread only
        self._writer_task: asyncio.Task[None] | None = None
        self._frontier = Frontier()
        self._head: tuple[int, bytes] = (0, self._frontier.root())
        # The writers of all processes sharing the store take turns under a lock on this file.
        self._lock_path = path.with_name(path.name + ".writer-lock")
        self._lock_fd: int | None = None
        # PRAGMA data_version after the writer's last commit: another value means another
        # connection has committed since, and the frontier must be read again.
        self._data_version: int | None = None
        self.commits = 0
        # Set at open if stored entries do not match the stored tree.
        self.integrity_problem: str | None = None

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

    def _open_writer(self) -> None:
        self._lock_fd = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        conn = sqlite3.connect(self._path, isolation_level=None)
        for pragma in PRAGMAS:
            conn.execute(pragma)
        with self._writer_lock():
            migrate(conn)
        self._conn = conn
        unindexed = conn.execute(
            "SELECT COUNT(*) FROM denials d WHERE NOT EXISTS"
            " (SELECT 1 FROM denial_names n WHERE n.denial_id = d.id)"
        ).fetchone()[0]
        if unindexed:
            # Every denial names an end user, so a denial without names was never indexed (a
            # store from before screening existed): screening cannot find it.
            log.warning(
                "%d denials are not in the screening index; run `ecx-server reindex`", unindexed
            )
        self.integrity_problem = scan_log(conn)
        if self.integrity_problem:
            log.error(
                "exchange log integrity: %s; no checkpoint will be signed", self.integrity_problem
            )

    async def _on_writer(self, fn: Callable[..., _T], *args: object) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def _open_lookup(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None)
        for pragma in (*PRAGMAS[2:], "PRAGMA query_only=ON"):
            conn.execute(pragma)
        conn.create_function("signed_regime", 1, signed_regime, deterministic=True)
        self._lookup_conn = conn

    async def _on_lookup(self, fn: Callable[..., _T], *args: object) -> _T:
        """fn(connection, *args) on the lookup thread."""
        conn = self._lookup_conn
        if conn is None:
            raise StoreUnavailable("store is not open")
        return await asyncio.get_running_loop().run_in_executor(self._lookup, fn, conn, *args)

    async def open(self) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        try:
            await self._on_writer(self._open_writer)
            self._reader = await aiosqlite.connect(self._path, isolation_level=None)
            for pragma in PRAGMAS[2:]:
                await self._reader.execute(pragma)
            await self._reader.execute("PRAGMA query_only=ON")
            await asyncio.get_running_loop().run_in_executor(self._lookup, self._open_lookup)
            # (the writer reads the frontier itself before its first batch)
            self._head = await self._on_lookup(committed_head)
        except sqlite3.Error as e:
            await self.close()
            raise StoreUnavailable(f"cannot open store {self._path}: {e}") from e
        except StoreUnavailable:
            await self.close()
            raise
        self._writer_task = asyncio.create_task(self._run_writer(), name="store-writer")

    async def close(self) -> None:
        if self._writer_task is not None:
            await self._queue.put(None)
            await self._writer_task
            self._writer_task = None
        if self._reader is not None:
            await self._reader.close()
            self._reader = None
        if self._lookup_conn is not None:
            await asyncio.get_running_loop().run_in_executor(self._lookup, self._lookup_conn.close)
            self._lookup_conn = None
        if self._conn is not None:
            await self._on_writer(self._conn.close)
            self._conn = None
        if self._lock_fd is not None:
            os.close(self._lock_fd)
            self._lock_fd = None
        self._lookup.shutdown(wait=True)
        self._thread.shutdown(wait=True)

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

        def job(tx: Transaction) -> bytes:
            indexes = [tx.append_event(event)[0] for event in batch]
            return b",".join(str(i).encode() for i in indexes)

        result = await self.append(job)
        return [int(i) for i in result.split(b",")] if result else []

    def tree_head(self) -> tuple[int, bytes]:
        return self._head

    async def current_tree_head(self) -> tuple[int, bytes]:
        head = await self._on_lookup(committed_head)
        if head[0] > self._head[0]:  # another process appended
            self._head = head
        return self._head

    async def _run_writer(self) -> None:
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
            try:
                result = await self._on_writer(self._commit_batch, batch)
            except (sqlite3.Error, StoreUnavailable) as e:
                log.error("store commit failed: %s", e)
                failure = StoreUnavailable("store write failed; retry with the same request_id")
                for pending in batch:
                    if not pending.done.done():
                        pending.done.set_exception(failure)
                continue
            outcomes, head = result
            self._head = head
            self.commits += 1
            for pending, (response, error) in zip(batch, outcomes, strict=True):
                if pending.done.done():
                    continue
                if error is not None:
                    pending.done.set_exception(error)
                else:
                    assert response is not None
                    pending.done.set_result(response)

    def _commit_batch(self, batch: list[_Pending]) -> tuple[list[_Outcome], tuple[int, bytes]]:
        """One transaction for the whole batch (writer thread).

        Jobs rarely fail here (requests are validated before they queue), so the batch first
        runs without a savepoint per job: a statement less each side of every job. If a job
        fails, the transaction is rolled back and the batch runs again with a savepoint per job,
        so that only the failed job's writes are undone.
        """
        conn = self._conn
        assert conn is not None
        with self._writer_lock():
            conn.execute("BEGIN IMMEDIATE")
            batch_mark = self._frontier.mark()
            try:
                if conn.execute("PRAGMA data_version").fetchone()[0] != self._data_version:
                    self._reload_frontier(conn)
                    batch_mark = self._frontier.mark()
                try:
                    outcomes = self._run_batch(conn, batch, savepoints=False)
                except _JobFailed:
                    conn.execute("ROLLBACK")
                    self._frontier.reset(batch_mark)
                    conn.execute("BEGIN IMMEDIATE")
                    outcomes = self._run_batch(conn, batch, savepoints=True)
                conn.execute("COMMIT")
            except Exception:
                self._frontier.reset(batch_mark)
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
                raise
            self._data_version = conn.execute("PRAGMA data_version").fetchone()[0]
        return outcomes, (self._frontier.size, self._frontier.root())

    @contextlib.contextmanager
    def _writer_lock(self) -> Iterator[None]:
        """Exclusive against the writers of other processes on this store (writer thread)."""
        fd = self._lock_fd
        assert fd is not None
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)

    def _reload_frontier(self, conn: sqlite3.Connection) -> None:
        size, nodes = committed_frontier(conn)
        if size != self._frontier.size:
            if size < self._frontier.size:
                log.error("exchange log shrank from %d to %d entries", self._frontier.size, size)
            self._frontier = Frontier(size, nodes)

    def _run_batch(
        self, conn: sqlite3.Connection, batch: list[_Pending], *, savepoints: bool
    ) -> list[_Outcome]:
        """Run every job of the batch in the open transaction; raises _JobFailed if one fails
        and there are no savepoints to undo it with."""
        buffer = LogBuffer()
        recorded = _idempotency_records(conn, batch)
        outcomes: list[_Outcome] = []
        for pending in batch:
            key = pending.idempotency
            if key is not None:
                caller, request_id, method, digest = key
                found = recorded.get((caller, request_id))
                if found is not None:
                    first_digest, first_response = found
                    if first_digest != digest:
                        outcomes.append((None, RequestIdReused()))
                    else:
                        outcomes.append((first_response, None))
                    continue
            if savepoints:
                # Rows of earlier jobs must not be inside this job's savepoint.
                buffer.flush_screening(conn)
            job_mark = (self._frontier.mark(), buffer.mark())
            tx = SqliteTransaction(conn, self._frontier, buffer)
            if savepoints:
                conn.execute("SAVEPOINT job")
            try:
                response = pending.job(tx)
            except sqlite3.Error:
                raise
            except Exception as e:
                if not savepoints:
                    raise _JobFailed() from e
                if isinstance(e, EcxError):
                    error = e
                else:
                    log.error("write job failed: %s", type(e).__name__)
                    error = StoreUnavailable("write failed")
                conn.execute("ROLLBACK TO job")
                conn.execute("RELEASE job")
                self._frontier.reset(job_mark[0])
                buffer.truncate(job_mark[1])
                outcomes.append((None, error))
                continue
            if savepoints:
                conn.execute("RELEASE job")
            if key is not None:
                recorded[(caller, request_id)] = (digest, response)
                buffer.requests.append((caller, request_id, method, digest, response))
            outcomes.append((response, None))
        buffer.flush(conn)
        return outcomes

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
        self, start: int, end: int, reader: tuple[str, ...] | None, batch: int
    ) -> AsyncIterator[list[tuple[int, bytes]]]:
        conn = self._read()
        sql = ENTRIES_SQL if reader is None else reader_entries_sql(len(reader))

        async def fetch(after: int) -> list[tuple[int, bytes]]:
            params: list[object] = [after, end, batch]
            if reader is not None:
                params[2:2] = [reader[0], *reader]
            rows = await conn.execute_fetchall(sql, params)
            return cast(list[tuple[int, bytes]], rows)

        def following(page: list[tuple[int, bytes]]) -> int | None:
            return page[-1][0] + 1 if len(page) == batch else None

        async for page in prefetching(fetch, start, following):
            yield page

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
            marks = ",".join("?" * len(flt.reader))
            where.append(
                "(e.actor = ? OR e.idx IN"  # noqa: S608 (placeholders only)
                f" (SELECT idx FROM log_parties WHERE party IN ({marks})))"
            )
            params += [flt.reader[0], *flt.reader]
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
        if flt.objects:
            ranges = " OR ".join("(object_id >= ? AND object_id < ?)" for _ in flt.objects)
            where.append(f"e.idx IN (SELECT idx FROM log_objects WHERE {ranges})")  # noqa: S608
            params += [bound for pair in flt.objects for bound in pair]
        params.append(limit)
        conditions = " AND ".join(where)
        rows = await self._read().execute_fetchall(
            f"SELECT e.idx, e.entry FROM log_entries e WHERE {conditions} ORDER BY e.idx LIMIT ?",  # noqa: S608
            params,
        )
        return [(int(r[0]), bytes(r[1])) for r in rows]

    async def screening_candidates(
        self,
        tokens: Iterable[str],
        limit: int,
        max_token_share: float,
        destination: str = "",
        categories: frozenset[str] = frozenset(),
    ) -> tuple[list[ScreeningRow], int]:
        wanted = sorted(set(tokens))
        return await self._on_lookup(
            find_screening_candidates, wanted, limit, max_token_share, destination, categories
        )

    async def denial_with_log(
        self, reference: str
    ) -> tuple[list[tuple[int, bytes]], list[tuple[int, str, bytes]]]:
        return await self._on_lookup(denial_with_log, reference)

    async def denial_issuers(self, reference: str) -> list[str]:
        rows = await self._read().execute_fetchall(
            "SELECT DISTINCT v.issuer FROM denial_versions v JOIN denials d ON d.id = v.denial_id"
            " WHERE d.reference = ?",
            (reference,),
        )
        return [str(r[0]) for r in rows]

    async def consultation_parties(self, reference: str) -> list[str] | None:
        rows = await self._read().execute_fetchall(
            "SELECT c.requester, c.responder, (SELECT group_concat(participant, ' ')"
            " FROM consultation_notified n WHERE n.consultation_id = c.id)"
            " FROM consultations c WHERE c.reference = ?",
            (reference,),
        )
        for requester, responder, notified in rows:
            return [requester, responder, *(notified.split() if notified else [])]
        return None

    async def notice(self, reference: str) -> StoredNotice | None:
        return await self._on_lookup(notices.read_notice, reference)

    async def list_notices(
        self, flt: NoticeFilter, after_id: int, limit: int
    ) -> list[StoredNotice]:
        return await self._on_lookup(notices.list_notices, flt, after_id, limit)

    async def consultation(self, reference: str) -> tuple[bytes, list[str]] | None:
        rows = await self._read().execute_fetchall(
            "SELECT c.record, (SELECT group_concat(participant, ' ') FROM consultation_notified n"
            " WHERE n.consultation_id = c.id) FROM consultations c WHERE c.reference = ?",
            (reference,),
        )
        for record, notified in rows:
            return bytes(record), notified.split() if notified else []
        return None

    async def answered(self, caller: str, request_id: str) -> tuple[str, bytes, bytes] | None:
        rows = await self._read().execute_fetchall(
            "SELECT method, request_sha256, response FROM idempotency"
            " WHERE caller = ? AND request_id = ?",
            (caller, request_id),
        )
        for method, digest, response in rows:
            return str(method), bytes(digest), bytes(response)
        return None

    async def list_consultations(
        self, flt: ConsultationFilter, after_id: int, limit: int
    ) -> list[tuple[int, bytes]]:
        me = flt.participant
        notified = (
            "c.id IN (SELECT consultation_id FROM consultation_notified WHERE participant = ?)"
        )
        roles: dict[int, tuple[str, list[object]]] = {
            1: ("c.requester = ?", [me]),
            2: ("c.responder = ?", [me]),
            3: (notified, [me]),
        }
        where, params = roles.get(
            flt.role, (f"(c.requester = ? OR c.responder = ? OR {notified})", [me, me, me])
        )
        conditions = [where, "c.id > ?"]
        params = [*params, after_id]
        if flt.state:
            conditions.append("c.state = ?")
            params.append(flt.state)
        if flt.overdue_on:
            conditions.append("c.state = 1 AND c.answer_deadline < ?")
            params.append(flt.overdue_on)
        params.append(limit)
        rows = await self._read().execute_fetchall(
            f"SELECT c.id, c.record FROM consultations c WHERE {' AND '.join(conditions)}"  # noqa: S608
            " ORDER BY c.id LIMIT ?",
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

    async def current_encryption_keys(self, today: str) -> list[tuple[str, bytes]]:
        rows = await self._read().execute_fetchall(
            "SELECT k.participant, k.record FROM encryption_keys k WHERE k.seq ="
            " (SELECT MAX(l.seq) FROM encryption_keys l WHERE l.participant = k.participant)"
            " AND k.not_after >= ? ORDER BY k.participant",
            (today,),
        )
        return [(str(r[0]), bytes(r[1])) for r in rows]

    async def denial_versions(self, reference: str) -> list[tuple[int, bytes]]:
        rows = await self._read().execute_fetchall(
            "SELECT v.regime, v.record FROM denial_versions v JOIN denials d ON d.id = v.denial_id"
            " WHERE d.reference = ? ORDER BY v.version",
            (reference,),
        )
        return [(r[0], version_record(r[1])) for r in rows]

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
            where.append(STATUS_SQL[flt.status])
            if flt.status != REVOKED_STATUS:
                params.append(flt.today)
        # Only fixed column names and placeholders are interpolated; every value is bound.
        conditions = " AND ".join(where)
        sql = f"{LIST_SQL} WHERE {conditions} ORDER BY d.id LIMIT ?"
        params.append(limit)
        rows = await self._read().execute_fetchall(sql, params)
        return [(r[0], version_record(r[1])) for r in rows]

    async def changes(
        self, regimes: frozenset[int] | None, after_seq: int, batch: int
    ) -> AsyncIterator[ChangePage]:
        if regimes is not None and not regimes:
            return
        # Walk versions in seq order by primary key, filtering on the regime each version's
        # issuer signed (a function of the record: no index can serve it, none reorders it).
        versions = CHANGES_SQL
        if regimes is not None:
            # The regime the issuer signed, not the column beside it (server.services.signed).
            versions += f" AND signed_regime(v.record) IN ({','.join('?' * len(regimes))})"
        sql = CHANGE_PAGE_SQL.format(versions=versions)
        extra = sorted(regimes or ())

        async def fetch(after: int) -> list[ChangePage]:
            return await self._on_lookup(change_pages, sql, after, extra, batch)

        def following(pages: list[ChangePage]) -> int | None:
            return pages[-1].last_seq + 1 if pages[-1].more else None

        async for pages in prefetching(fetch, after_seq + 1, following):
            for page in pages:
                yield page
