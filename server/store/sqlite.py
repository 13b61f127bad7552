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
import logging
import math
import os
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from types import TracebackType
from typing import TypeVar, cast

import aiosqlite

from client.merkle import leaf_hash
from ecx.v1 import denial_pb2
from server.domain.consultations import ConsultationState
from server.domain.denials import DenialState, entry_category
from server.domain.exchange_log import Event, encode_entry, utc_text
from server.domain.merkle import Frontier, NodeKey, Span, node_id, node_key, perfect_subtrees
from server.errors import EcxError, RequestIdReused, StoreUnavailable
from server.store.base import (
    BLOCK_SEPARATOR,
    ChangePage,
    ConsultationFilter,
    DenialFilter,
    DenialRow,
    LogFilter,
    ScreeningNames,
    ScreeningRow,
    StoredCheckpoint,
    Transaction,
    WriteJob,
)
from server.wire import length_delimited, length_delimited_value

log = logging.getLogger(__name__)

# What a shared destination, or control-list entries in the same part of the list, add to a
# candidate's rank: about as much as sharing one of the commoner name tokens.
NARROWING_WEIGHT = 3.0

_PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)


def token_document(tokens: Iterable[str]) -> str:
    """Blocking tokens as the screening index's full-text table holds them: each the hex of its
    UTF-8 bytes (one word to any tokenizer, whatever the token's letters), in sorted order."""
    return " ".join(t.encode().hex() for t in sorted(tokens))


def migrations() -> list[tuple[int, str]]:
    """(version, SQL) of every migration shipped with the hub, in order."""
    found = []
    for entry in resources.files("server.store").joinpath("migrations").iterdir():
        name = entry.name
        if name.endswith(".sql"):
            found.append((int(name.split("_", 1)[0]), entry.read_text(encoding="utf-8")))
    return sorted(found)


# A denial version is stored as it is sent: as an entry of SyncDenialsResponse.changes (the
# serialized Denial, length-delimited), so that versions concatenated in seq order are that field
# of a response.
_CHANGES_FIELD = denial_pb2.SyncDenialsResponse.DESCRIPTOR.fields_by_name["changes"].number


def stored_version(record: bytes) -> bytes:
    """The stored form of a serialized Denial."""
    return length_delimited(_CHANGES_FIELD, record)


def version_record(stored: bytes) -> bytes:
    """The serialized Denial of a stored version."""
    return length_delimited_value(_CHANGES_FIELD, stored)


def _migrate(conn: sqlite3.Connection) -> None:
    # Migrations that re-encode stored values call the store's own encoder.
    conn.create_function("stored_version", 1, stored_version, deterministic=True)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
    )
    applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
    known = migrations()
    newer = sorted(applied - {version for version, _ in known})
    if newer:
        # A store that a newer hub has migrated: this one would write it without what the newer
        # one maintains (an index, a table), and the newer one would trust it afterwards.
        raise StoreUnavailable(
            f"the store has schema version {newer[-1]}, newer than this hub knows"
            f" ({known[-1][0] if known else 0}): run the ecx-server that migrated it, or newer"
        )
    for version, sql in known:
        if version in applied:
            continue
        conn.execute("BEGIN IMMEDIATE")
        try:
            for statement in sql.split(";\n"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute("INSERT INTO schema_migrations (version) VALUES (?)", (version,))
            conn.execute("COMMIT")
        except sqlite3.Error:
            conn.execute("ROLLBACK")
            raise
        log.info("applied store migration %d", version)


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


class _LogBuffer:
    """Rows of the current batch written with one statement per table before COMMIT: the
    exchange log, idempotency records and the screening index of new denials."""

    def __init__(self) -> None:
        self.entries: list[tuple[int, bytes, str, str, str, str]] = []
        self.objects: list[tuple[str, int]] = []
        self.parties: list[tuple[str, int]] = []
        self.nodes: list[tuple[int, bytes]] = []
        # Idempotency records: (caller, request_id, method, request digest, response).
        self.requests: list[tuple[str, str, str, bytes, bytes]] = []
        # Screening index: (denial id, field, name, match key, tokens); (token, denial id);
        # (control entries, denial id).
        self.names: list[tuple[int, str, str, str, str]] = []
        self.tokens: list[tuple[str, int]] = []
        self.controls: list[tuple[str, int]] = []

    def mark(self) -> tuple[int, ...]:
        return (
            len(self.entries),
            len(self.objects),
            len(self.parties),
            len(self.nodes),
            len(self.names),
            len(self.tokens),
            len(self.controls),
        )

    def truncate(self, mark: tuple[int, ...]) -> None:
        del self.entries[mark[0] :], self.objects[mark[1] :]
        del self.parties[mark[2] :], self.nodes[mark[3] :]
        del self.names[mark[4] :], self.tokens[mark[5] :], self.controls[mark[6] :]

    def flush_screening(self, conn: sqlite3.Connection) -> None:
        """Write the buffered screening rows, each table in one statement (as JSON, so that the
        rows do not each hand the GIL back and forth: see index_for_screening)."""
        if not self.tokens and not self.names and not self.controls:
            return
        conn.execute(
            "INSERT INTO denial_names (denial_id, field, name, match_key, tokens)"
            " SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'),"
            " json_extract(value, '$[2]'), json_extract(value, '$[3]'),"
            " json_extract(value, '$[4]') FROM json_each(?) ORDER BY key",
            (json.dumps(self.names),),
        )
        postings: dict[int, list[str]] = {}
        for token, denial_id in self.tokens:
            postings.setdefault(denial_id, []).append(token)
        conn.execute(
            "INSERT INTO denial_token_index (rowid, tokens)"
            " SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]') FROM json_each(?)",
            (json.dumps([(d, token_document(t)) for d, t in postings.items()]),),
        )
        counts = Counter(token for token, _ in self.tokens)
        # ("WHERE true" tells SQLite's parser the ON CONFLICT belongs to the INSERT)
        conn.execute(
            "INSERT INTO denial_token_counts (token, denials)"
            " SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]')"
            " FROM json_each(?) WHERE true"
            " ON CONFLICT (token) DO UPDATE SET denials = denials + excluded.denials",
            (json.dumps(sorted(counts.items())),),
        )
        conn.execute(
            "UPDATE denials SET control_entries = json_extract(c.value, '$[0]')"
            " FROM json_each(?) AS c WHERE denials.id = json_extract(c.value, '$[1]')",
            (json.dumps(self.controls),),
        )
        self.names.clear()
        self.tokens.clear()
        self.controls.clear()

    def flush(self, conn: sqlite3.Connection) -> None:
        self.flush_screening(conn)
        conn.executemany(
            "INSERT INTO log_entries (idx, entry, recorded_at, actor, action, outcome)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            self.entries,
        )
        conn.executemany(
            "INSERT OR IGNORE INTO log_objects (object_id, idx) VALUES (?, ?)", self.objects
        )
        conn.executemany(
            "INSERT OR IGNORE INTO log_parties (party, idx) VALUES (?, ?)", self.parties
        )
        conn.executemany("INSERT INTO log_nodes (id, hash) VALUES (?, ?)", self.nodes)
        conn.executemany(
            "INSERT INTO idempotency (caller, request_id, method, request_sha256, response,"
            " created_at) VALUES (?, ?, ?, ?, ?, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))",
            self.requests,
        )


class _SqliteTransaction:
    """The Transaction one job sees; runs on the writer thread only."""

    def __init__(self, conn: sqlite3.Connection, frontier: Frontier, log: _LogBuffer) -> None:
        self._conn = conn
        self._frontier = frontier
        self._log = log
        # Denials this job saved: their row id, and whether the row is new (nothing indexed yet).
        self._saved: dict[str, tuple[int, bool]] = {}

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

    def save_checkpoint(self, checkpoint: StoredCheckpoint, signed_at: str) -> None:
        self._conn.execute(
            "INSERT OR IGNORE INTO checkpoints (tree_size, root, note, signed_at)"
            " VALUES (?, ?, ?, ?)",
            (checkpoint.tree_size, checkpoint.root, checkpoint.note, signed_at),
        )

    def consultation_state(self, reference: str) -> ConsultationState | None:
        row = self._conn.execute(
            "SELECT reference, requester, responder, regime, state, answer_deadline, opened_on,"
            " decision, version, record FROM consultations WHERE reference = ?",
            (reference,),
        ).fetchone()
        return None if row is None else ConsultationState(*row)

    def save_consultation(self, state: ConsultationState, notified: Iterable[str]) -> None:
        row = state
        self._conn.execute(
            "INSERT INTO consultations (reference, requester, responder, regime, state,"
            " answer_deadline, opened_on, decision, version, record)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (reference) DO UPDATE SET"
            " state = excluded.state, answer_deadline = excluded.answer_deadline,"
            " decision = excluded.decision, version = excluded.version, record = excluded.record",
            (
                row.reference,
                row.requester,
                row.responder,
                row.regime,
                row.state,
                row.answer_deadline,
                row.opened_on,
                row.decision,
                row.version,
                row.record,
            ),
        )
        self._conn.executemany(
            "INSERT OR IGNORE INTO consultation_notified (participant, consultation_id)"
            " SELECT ?, id FROM consultations WHERE reference = ?",
            [(p, row.reference) for p in notified],
        )

    def index_for_screening(self, reference: str, names: ScreeningNames) -> None:
        # Every statement hands the GIL back and forth with the busy event loop, which is what a
        # write costs most: so the rows of new denials are buffered and written for the whole
        # batch at once, with one statement per table rather than one per row. (The rows go as
        # JSON, whose strings SQLite ends at a NUL; names cannot hold one, validation refuses
        # control characters.)
        denial_id, new = self._saved.pop(reference, (0, False))
        if not denial_id:
            row = self._conn.execute("SELECT id FROM denials WHERE reference = ?", (reference,))
            (denial_id,) = row.fetchone()
        if not new:
            # Replacing an index: what is buffered must be in the tables first.
            self._log.flush_screening(self._conn)
            self._unindex(denial_id)
        self._log.names.extend((denial_id, *name) for name in names.names)
        self._log.tokens.extend((token, denial_id) for token in sorted(names.tokens))
        self._log.controls.append((" ".join(names.control_entries), denial_id))

    def _unindex(self, denial_id: int) -> None:
        """Take a denial's names and tokens out of the screening index. The contentless index
        forgets a row only when told the tokens it was given: those of the names stored."""
        old: set[str] = set()
        for (tokens,) in self._conn.execute(
            "SELECT tokens FROM denial_names WHERE denial_id = ?", (denial_id,)
        ):
            old.update(t for t in tokens.split(BLOCK_SEPARATOR) if t)
        if old:
            self._conn.execute(
                "UPDATE denial_token_counts SET denials = denials - 1"
                " WHERE token IN (SELECT value FROM json_each(?))",
                (json.dumps(sorted(old)),),
            )
            self._conn.execute(
                "INSERT INTO denial_token_index (denial_token_index, rowid, tokens)"
                " VALUES ('delete', ?, ?)",
                (denial_id, token_document(old)),
            )
        self._conn.execute("DELETE FROM denial_names WHERE denial_id = ?", (denial_id,))

    def denial_state(self, reference: str) -> DenialState | None:
        row = self._conn.execute(
            "SELECT d.reference, d.issuer, d.regime, d.issuing_state, d.version, d.status,"
            " d.valid_until, v.record, d.renewed_on FROM denials d"
            " JOIN denial_versions v ON v.seq = d.latest_seq WHERE d.reference = ?",
            (reference,),
        ).fetchone()
        if row is None:
            return None
        return DenialState(
            reference=row[0],
            issuer=row[1],
            regime=row[2],
            issuing_state=row[3],
            version=row[4],
            status=row[5],
            valid_until=row[6],
            latest_record=version_record(row[7]),
            renewed_on=row[8],
        )

    def save_version(self, row: DenialRow, record: bytes) -> int:
        # A new denial is inserted with latest_seq -1, set below once its version has a seq.
        ((denial_id, latest_seq),) = self._conn.execute(
            "INSERT INTO denials (reference, issuer, issuing_state, regime, destination_country,"
            " status, valid_until, renewed_on, version, latest_seq)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, -1) ON CONFLICT (reference) DO UPDATE SET"
            " destination_country = excluded.destination_country, status = excluded.status,"
            " valid_until = excluded.valid_until, renewed_on = excluded.renewed_on,"
            " version = excluded.version RETURNING id, latest_seq",
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
        ).fetchall()
        seq = self._conn.execute(
            "INSERT INTO denial_versions (denial_id, version, regime, issuer, record)"
            " VALUES (?, ?, ?, ?, ?)",
            (denial_id, row.version, row.regime, row.issuer, stored_version(record)),
        ).lastrowid
        assert seq is not None  # (the insert's trigger makes it the denial's latest_seq)
        self._saved[row.reference] = (denial_id, latest_seq == -1)
        return seq


def stored_leaves(conn: sqlite3.Connection) -> Iterator[tuple[int, bytes, bytes | None]]:
    """(index, entry, stored leaf hash) of every log entry, in index order."""
    # Level-0 nodes are keyed by their index (level 0 << 40 | index).
    yield from conn.execute(
        "SELECT e.idx, e.entry, n.hash FROM log_entries e LEFT JOIN log_nodes n ON n.id = e.idx"
        " ORDER BY e.idx"
    )


def _scan_log(conn: sqlite3.Connection) -> str | None:
    """Check every stored entry against its stored leaf hash, in index order, at start-up."""
    for expected, (index, entry, stored) in enumerate(stored_leaves(conn)):
        if index != expected:
            return f"entry {expected} is missing"
        if stored != leaf_hash(entry):
            return f"entry {index} does not match its leaf hash"
    return None


_Outcome = tuple[bytes | None, EcxError | None]
_T = TypeVar("_T")


def _committed_frontier(conn: sqlite3.Connection) -> tuple[int, dict[NodeKey, bytes]]:
    """Size of the committed log and the nodes of its frontier (call inside a transaction)."""
    (size,) = conn.execute("SELECT COALESCE(MAX(idx) + 1, 0) FROM log_entries").fetchone()
    keys = list(perfect_subtrees(Span(0, size)))
    rows = conn.execute(
        "SELECT id, hash FROM log_nodes WHERE id IN (SELECT value FROM json_each(?))",
        (json.dumps([node_id(k) for k in keys]),),
    ).fetchall()
    nodes = {node_key(i): bytes(h) for i, h in rows}
    if len(nodes) != len(keys):
        raise StoreUnavailable(f"exchange log frontier of {size} entries is incomplete")
    return size, nodes


def _committed_head(conn: sqlite3.Connection) -> tuple[int, bytes]:
    """(size, root) of the log as committed, read in one snapshot (lookup thread)."""
    conn.execute("BEGIN")
    try:
        size, nodes = _committed_frontier(conn)
    finally:
        conn.execute("COMMIT")
    return size, Frontier(size, nodes).root()


def _screening_candidates(
    conn: sqlite3.Connection,
    wanted: list[str],
    limit: int,
    max_token_share: float,
    destination: str,
    categories: frozenset[str],
) -> tuple[list[ScreeningRow], int]:
    """Run on the lookup thread: every statement of one retrieval in one hand-off."""
    # Denials are never deleted, so the highest id is their number (and costs no scan).
    total = int(conn.execute("SELECT COALESCE(MAX(id), 0) FROM denials").fetchone()[0])
    if not wanted or total == 0:
        return [], total
    marks = ",".join("?" * len(wanted))
    counts = conn.execute(
        f"SELECT token, denials FROM denial_token_counts WHERE token IN ({marks})"  # noqa: S608
        " AND denials > 0",
        wanted,
    ).fetchall()
    ceiling = max(50, int(total * max_token_share))
    usable = [(t, n) for t, n in counts if n <= ceiling]
    if not usable:
        return [], total
    # Rank by the summed rarity (inverse document frequency) of the shared tokens: sharing a rare
    # word says more than sharing several common ones. Then, within a pool twice as large, the same
    # destination and the same part of the control list count as one more shared token each.
    weights = ",".join("(?, ?)" for _ in usable)
    values = [(token_document((t,)), round(math.log(1 + total / n), 6)) for t, n in usable]
    pool = conn.execute(
        f"WITH weight (token, idf) AS (VALUES {weights})"  # noqa: S608
        " SELECT t.rowid, SUM(w.idf) FROM weight w"
        " JOIN denial_token_index t ON t.denial_token_index MATCH w.token"
        " GROUP BY t.rowid ORDER BY SUM(w.idf) DESC, t.rowid LIMIT ?",
        [*(v for pair in values for v in pair), limit * 2],
    ).fetchall()
    if not pool:
        return [], total
    marks = ",".join("?" * len(pool))
    rows = conn.execute(
        "SELECT id, reference, issuer, issuing_state, regime, destination_country, status,"  # noqa: S608
        f" valid_until, version, control_entries FROM denials WHERE id IN ({marks})",
        [denial_id for denial_id, _ in pool],
    ).fetchall()
    by_id = {r[0]: r for r in rows}
    rank = dict(pool)
    for denial_id, row in by_id.items():
        if row[5] == destination:
            rank[denial_id] += NARROWING_WEIGHT
        if categories and not categories.isdisjoint(map(entry_category, row[9].split())):
            rank[denial_id] += NARROWING_WEIGHT
    ids = sorted(rank, key=lambda denial_id: (-rank[denial_id], denial_id))[:limit]
    marks = ",".join("?" * len(ids))
    names: dict[int, list[tuple[str, str, str, str]]] = {}
    for denial_id, which, name, key, name_tokens in conn.execute(
        f"SELECT denial_id, field, name, match_key, tokens FROM denial_names"  # noqa: S608
        f" WHERE denial_id IN ({marks})",
        ids,
    ):
        names.setdefault(denial_id, []).append((which, name, key, name_tokens))
    found = [
        ScreeningRow(
            reference=r[1],
            issuer=r[2],
            issuing_state=r[3],
            regime=r[4],
            destination_country=r[5],
            status=r[6],
            valid_until=r[7],
            version=r[8],
            control_entries=tuple(r[9].split()),
            names=tuple(names.get(r[0], ())),
        )
        for r in (by_id[denial_id] for denial_id in ids)
    ]
    return found, total


def _change_pages(
    conn: sqlite3.Connection, sql: str, after: int, regimes: list[int], batch: int
) -> list[ChangePage]:
    """Run on the lookup thread: consecutive pages from `after`, up to about
    _CHANGES_PER_HANDOFF bytes. A page holds up to `batch` versions, fewer if they would make a
    message over _PAGE_BYTES; one that comes back short of what was asked is the last."""
    pages: list[ChangePage] = []
    size = 0
    asked = batch
    while size < _CHANGES_PER_HANDOFF:
        count, last_seq, issuers, changes = conn.execute(sql, (after, *regimes, asked)).fetchone()
        if not count:
            break
        if len(changes) > _PAGE_BYTES and count > 1:
            # Large denials: read the page again with as many as fit (at least one).
            asked = max(1, count * _PAGE_BYTES // len(changes))
            continue
        more = count == asked
        pages.append(ChangePage(count, last_seq, frozenset(issuers.split(",")), changes, more))
        if not more:
            break
        size += len(changes)
        after = last_seq + 1
    return pages


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
        for pragma in _PRAGMAS:
            conn.execute(pragma)
        with self._writer_lock():
            _migrate(conn)
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
        self.integrity_problem = _scan_log(conn)
        if self.integrity_problem:
            log.error(
                "exchange log integrity: %s; no checkpoint will be signed", self.integrity_problem
            )

    async def _on_writer(self, fn: Callable[..., _T], *args: object) -> _T:
        return await asyncio.get_running_loop().run_in_executor(self._thread, fn, *args)

    def _open_lookup(self) -> None:
        conn = sqlite3.connect(self._path, isolation_level=None)
        for pragma in (*_PRAGMAS[2:], "PRAGMA query_only=ON"):
            conn.execute(pragma)
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
            for pragma in _PRAGMAS[2:]:
                await self._reader.execute(pragma)
            await self._reader.execute("PRAGMA query_only=ON")
            await asyncio.get_running_loop().run_in_executor(self._lookup, self._open_lookup)
            # (the writer reads the frontier itself before its first batch)
            self._head = await self._on_lookup(_committed_head)
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
        head = await self._on_lookup(_committed_head)
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
        size, nodes = _committed_frontier(conn)
        if size != self._frontier.size:
            if size < self._frontier.size:
                log.error("exchange log shrank from %d to %d entries", self._frontier.size, size)
            self._frontier = Frontier(size, nodes)

    def _run_batch(
        self, conn: sqlite3.Connection, batch: list[_Pending], *, savepoints: bool
    ) -> list[_Outcome]:
        """Run every job of the batch in the open transaction; raises _JobFailed if one fails
        and there are no savepoints to undo it with."""
        buffer = _LogBuffer()
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
            tx = _SqliteTransaction(conn, self._frontier, buffer)
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
        self, start: int, end: int, reader: str | None, batch: int
    ) -> AsyncIterator[list[tuple[int, bytes]]]:
        conn = self._read()

        async def fetch(after: int) -> list[tuple[int, bytes]]:
            params: list[object] = [after, end, batch]
            if reader is not None:
                params[2:2] = [reader, reader]
            rows = await conn.execute_fetchall(
                _ENTRIES_SQL if reader is None else _READER_ENTRIES_SQL, params
            )
            return cast(list[tuple[int, bytes]], rows)

        def following(page: list[tuple[int, bytes]]) -> int | None:
            return page[-1][0] + 1 if len(page) == batch else None

        async for page in _prefetching(fetch, start, following):
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
            _screening_candidates, wanted, limit, max_token_share, destination, categories
        )

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
            where.append(_STATUS_SQL[flt.status])
            if flt.status != _REVOKED:
                params.append(flt.today)
        # Only fixed column names and placeholders are interpolated; every value is bound.
        conditions = " AND ".join(where)
        sql = f"{_LIST_SQL} WHERE {conditions} ORDER BY d.id LIMIT ?"
        params.append(limit)
        rows = await self._read().execute_fetchall(sql, params)
        return [(r[0], version_record(r[1])) for r in rows]

    async def changes(
        self, regimes: frozenset[int] | None, after_seq: int, batch: int
    ) -> AsyncIterator[ChangePage]:
        if regimes is not None and not regimes:
            return
        # Walk versions in seq order by primary key; "+regime" keeps SQLite off the regime
        # index, which would read the range in another order and sort it.
        versions = _CHANGES_SQL
        if regimes is not None:
            versions += f" AND +v.regime IN ({','.join('?' * len(regimes))})"
        sql = _CHANGE_PAGE_SQL.format(versions=versions)
        extra = sorted(regimes or ())

        async def fetch(after: int) -> list[ChangePage]:
            return await self._on_lookup(_change_pages, sql, after, extra, batch)

        def following(pages: list[ChangePage]) -> int | None:
            return pages[-1].last_seq + 1 if pages[-1].more else None

        async for pages in _prefetching(fetch, after_seq + 1, following):
            for page in pages:
                yield page


_Page = TypeVar("_Page")


async def _prefetching(
    fetch: Callable[[int], Awaitable[_Page]],
    start: int,
    following: Callable[[_Page], int | None],
) -> AsyncIterator[_Page]:
    """Pages from `fetch(first position)`, reading the next page while the caller uses this one.

    `following(page)` is where the next page starts, None after the last; an empty page ends too.
    """
    page: _Page | None = await fetch(start)
    while page:
        after = following(page)
        upcoming = asyncio.ensure_future(fetch(after)) if after is not None else None
        try:
            yield page
        except BaseException:
            if upcoming is not None:
                upcoming.cancel()
            raise
        page = await upcoming if upcoming is not None else None


# Stored status is ACTIVE or REVOKED; EXPIRED is ACTIVE past valid_until (see effective_status).
_ACTIVE, _REVOKED, _EXPIRED = 1, 2, 3
_STATUS_SQL = {
    _ACTIVE: "(d.status = 1 AND d.valid_until >= ?)",
    _EXPIRED: "(d.status = 1 AND d.valid_until < ?)",
    _REVOKED: "d.status = 2",
}
_LIST_SQL = "SELECT d.id, v.record FROM denials d JOIN denial_versions v ON v.seq = d.latest_seq"
_CHANGES_SQL = "SELECT v.seq, v.issuer, v.record FROM denial_versions v WHERE v.seq >= ?"
# A page of versions as one value, so that SQLite builds it without a Python object per version:
# their stored entries concatenated in the order the subquery yields them, which its ORDER BY and
# LIMIT fix. (group_concat gives text; the cast takes back its bytes, unchanged in a UTF-8 store.)
_CHANGE_PAGE_SQL = (
    "SELECT count(*), max(seq), group_concat(DISTINCT issuer),"
    " CAST(group_concat(record, '') AS BLOB) FROM ({versions} ORDER BY v.seq LIMIT ?)"
)
# Pages read in one hand-off to the lookup thread: enough that a long sync takes few of them.
_CHANGES_PER_HANDOFF = 1 << 20
# Versions per SyncDenials message are also bounded by size, so that a page of large denials stays
# well under the 4 MB that gRPC clients accept by default.
_PAGE_BYTES = 2 << 20
_ENTRIES_SQL = "SELECT idx, entry FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?"
_READER_ENTRIES_SQL = (
    "SELECT idx, entry FROM log_entries WHERE idx >= ? AND idx < ?"
    " AND (actor = ? OR idx IN (SELECT idx FROM log_parties WHERE party = ?)) ORDER BY idx LIMIT ?"
)
