"""Reads that take several statements and run as one function on the store's lookup thread:
the log's frontier and leaves, screening candidates, pages of changes.
"""

from __future__ import annotations

import asyncio
import json
import math
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import TypeVar

from client.core.merkle import leaf_hash
from server.domain.denials import entry_category
from server.domain.exchange_log import WRITE_ACTIONS
from server.domain.merkle import Frontier, NodeKey, Span, node_id, node_key, perfect_subtrees
from server.errors import StoreUnavailable
from server.store.base import (
    ChangePage,
    ScreeningRow,
)
from server.store.sqlite.schema import token_document, version_record

# What a shared destination, or control-list entries in the same part of the list, add to a
# candidate's rank: about as much as sharing one of the commoner name tokens.
NARROWING_WEIGHT = 3.0


def stored_leaves(conn: sqlite3.Connection) -> Iterator[tuple[int, bytes, bytes | None]]:
    """(index, entry, stored leaf hash) of every log entry, in index order."""
    # Level-0 nodes are keyed by their index (level 0 << 40 | index).
    yield from conn.execute(
        "SELECT e.idx, e.entry, n.hash FROM log_entries e LEFT JOIN log_nodes n ON n.id = e.idx"
        " ORDER BY e.idx"
    )


def scan_log(conn: sqlite3.Connection) -> str | None:
    """Check every stored entry against its stored leaf hash, in index order, at start-up."""
    for expected, (index, entry, stored) in enumerate(stored_leaves(conn)):
        if index != expected:
            return f"entry {expected} is missing"
        if stored != leaf_hash(entry):
            return f"entry {index} does not match its leaf hash"
    return None


def committed_frontier(conn: sqlite3.Connection) -> tuple[int, dict[NodeKey, bytes]]:
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


def committed_head(conn: sqlite3.Connection) -> tuple[int, bytes]:
    """(size, root) of the log as committed, read in one snapshot (lookup thread)."""
    conn.execute("BEGIN")
    try:
        size, nodes = committed_frontier(conn)
    finally:
        conn.execute("COMMIT")
    return size, Frontier(size, nodes).root()


def find_screening_candidates(
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
        "SELECT d.id, d.reference, d.issuer, d.issuing_state, d.regime, d.destination_country,"  # noqa: S608
        " d.status, d.valid_until, d.version, d.control_entries, v.record FROM denials d"
        f" JOIN denial_versions v ON v.seq = d.latest_seq WHERE d.id IN ({marks})",
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
            record=version_record(bytes(r[10])),
        )
        for r in (by_id[denial_id] for denial_id in ids)
    ]
    return found, total


def change_pages(
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


_Page = TypeVar("_Page")


async def prefetching(
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
ACTIVE_STATUS, REVOKED_STATUS, EXPIRED_STATUS = 1, 2, 3


STATUS_SQL = {
    ACTIVE_STATUS: "(d.status = 1 AND d.valid_until >= ?)",
    EXPIRED_STATUS: "(d.status = 1 AND d.valid_until < ?)",
    REVOKED_STATUS: "d.status = 2",
}


LIST_SQL = "SELECT d.id, v.record FROM denials d JOIN denial_versions v ON v.seq = d.latest_seq"


CHANGES_SQL = "SELECT v.seq, v.issuer, v.record FROM denial_versions v WHERE v.seq >= ?"


# A page of versions as one value, so that SQLite builds it without a Python object per version:
# their stored entries concatenated in the order the subquery yields them, which its ORDER BY and
# LIMIT fix. (group_concat gives text; the cast takes back its bytes, unchanged in a UTF-8 store.)
CHANGE_PAGE_SQL = (
    "SELECT count(*), max(seq), group_concat(DISTINCT issuer),"
    " CAST(group_concat(record, '') AS BLOB) FROM ({versions} ORDER BY v.seq LIMIT ?)"
)


# Pages read in one hand-off to the lookup thread: enough that a long sync takes few of them.
_CHANGES_PER_HANDOFF = 1 << 20


# Versions per SyncDenials message are also bounded by size, so that a page of large denials stays
# well under the 4 MB that gRPC clients accept by default.
_PAGE_BYTES = 2 << 20


ENTRIES_SQL = "SELECT idx, entry FROM log_entries WHERE idx >= ? AND idx < ? ORDER BY idx LIMIT ?"


def reader_entries_sql(names: int) -> str:
    """Entries a reader may read: its own acts, and those naming it or one of its roles."""
    marks = ",".join("?" * names)
    return (
        "SELECT idx, entry FROM log_entries WHERE idx >= ? AND idx < ? AND (actor = ?"  # noqa: S608
        f" OR idx IN (SELECT idx FROM log_parties WHERE party IN ({marks}))) ORDER BY idx LIMIT ?"
    )


def denial_with_log(
    conn: sqlite3.Connection, reference: str
) -> tuple[list[tuple[int, bytes]], list[tuple[int, str, bytes]]]:
    """Run on the lookup thread: a denial's versions and the log's record of its writes, read in
    one snapshot so that a write committing meanwhile cannot set the one against the other."""
    prefix = f"denial:{reference}:v"
    marks = ",".join("?" * len(WRITE_ACTIONS["denial"]))
    conn.execute("BEGIN")
    try:
        versions = conn.execute(
            "SELECT v.regime, v.record FROM denial_versions v JOIN denials d"
            " ON d.id = v.denial_id WHERE d.reference = ? ORDER BY v.version",
            (reference,),
        ).fetchall()
        logged = conn.execute(
            "SELECT e.idx, o.object_id, e.entry FROM log_objects o JOIN log_entries e"  # noqa: S608
            " ON e.idx = o.idx WHERE o.object_id >= ? AND o.object_id < ?"
            f" AND e.outcome = 'OK' AND e.action IN ({marks}) ORDER BY e.idx",
            (prefix, prefix[:-1] + "w", *WRITE_ACTIONS["denial"]),
        ).fetchall()
    finally:
        conn.execute("COMMIT")
    return (
        [(int(r), version_record(bytes(v))) for r, v in versions],
        [(int(i), str(o), bytes(e)) for i, o, e in logged],
    )
