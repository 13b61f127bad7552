"""Notices in the SQLite store: statements by reference, readers and replies, on whichever
connection runs them (the writer's inside its transaction, the lookup thread's for reads)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable

from server.store.base import ACKNOWLEDGEMENT, NoticeFilter, NoticeRow, StoredNotice
from server.store.sqlite.schema import NEXT_SEQ

_ROW = (
    "n.id, n.reference, n.originator, n.originating_state, n.kind, n.classification, n.state,"
    " n.version, n.content_version, n.review_date"
)


def _assemble(conn: sqlite3.Connection, rows: list[tuple[object, ...]]) -> list[StoredNotice]:
    """Each notice of `rows` with its steps, readers and replies, in three queries."""
    if not rows:
        return []
    ids = json.dumps([r[0] for r in rows])
    steps: dict[int, list[bytes]] = {}
    for notice_id, record in conn.execute(
        "SELECT notice_id, record FROM notice_steps WHERE notice_id IN"
        " (SELECT value FROM json_each(?)) ORDER BY notice_id, version",
        (ids,),
    ):
        steps.setdefault(notice_id, []).append(bytes(record))
    readers: dict[int, list[str]] = {}
    for notice_id, participant in conn.execute(
        "SELECT notice_id, participant FROM notice_readers WHERE notice_id IN"
        " (SELECT value FROM json_each(?)) ORDER BY participant",
        (ids,),
    ):
        readers.setdefault(notice_id, []).append(participant)
    replies: dict[int, list[tuple[str, int, int, bytes]]] = {}
    for notice_id, participant, kind, version, record in conn.execute(
        "SELECT notice_id, participant, kind, version, record FROM notice_replies WHERE"
        " notice_id IN (SELECT value FROM json_each(?)) ORDER BY id",
        (ids,),
    ):
        replies.setdefault(notice_id, []).append((participant, kind, version, bytes(record)))
    return [
        StoredNotice(
            id=int(r[0]),  # type: ignore[call-overload]
            row=NoticeRow(*r[1:]),  # type: ignore[arg-type]
            steps=tuple(steps.get(r[0], ())),  # type: ignore[call-overload]
            readers=tuple(readers.get(r[0], ())),  # type: ignore[call-overload]
            replies=tuple(replies.get(r[0], ())),  # type: ignore[call-overload]
        )
        for r in rows
    ]


def find_notice(conn: sqlite3.Connection, reference: str) -> StoredNotice | None:
    rows = conn.execute(
        f"SELECT {_ROW} FROM notices n WHERE n.reference = ?",  # noqa: S608
        (reference,),
    ).fetchall()
    found = _assemble(conn, rows)
    return found[0] if found else None


def list_notices(
    conn: sqlite3.Connection, flt: NoticeFilter, after_id: int, limit: int
) -> list[StoredNotice]:
    """Run on the lookup thread: a page of the notices `flt.reader` may read, in id order."""
    where = [
        "n.id > ?",
        "(n.originator = ? OR n.id IN"
        " (SELECT notice_id FROM notice_readers WHERE participant = ?))",
    ]
    params: list[object] = [after_id, flt.reader, flt.reader]
    if flt.kind:
        where.append("n.kind = ?")
        params.append(flt.kind)
    if flt.originating_state:
        where.append("n.originating_state = ?")
        params.append(flt.originating_state)
    if flt.in_force_on:
        where.append("n.review_date >= ?")
        params.append(flt.in_force_on)
    if flt.unacknowledged:
        where.append(
            "n.originator != ? AND NOT EXISTS (SELECT 1 FROM notice_replies r WHERE"
            " r.notice_id = n.id AND r.participant = ? AND r.kind = ? AND"
            " r.version = n.content_version)"
        )
        params += [flt.reader, flt.reader, ACKNOWLEDGEMENT]
    params.append(limit)
    conn.execute("BEGIN")
    try:
        rows = conn.execute(
            f"SELECT {_ROW} FROM notices n WHERE {' AND '.join(where)}"  # noqa: S608
            " ORDER BY n.id LIMIT ?",
            params,
        ).fetchall()
        return _assemble(conn, rows)
    finally:
        conn.execute("COMMIT")


def read_notice(conn: sqlite3.Connection, reference: str) -> StoredNotice | None:
    """Run on the lookup thread: one notice, read in one snapshot."""
    conn.execute("BEGIN")
    try:
        return find_notice(conn, reference)
    finally:
        conn.execute("COMMIT")


def save_notice_step(
    conn: sqlite3.Connection, row: NoticeRow, step: bytes, readers: Iterable[str]
) -> int:
    """Inside the writer's transaction: the row, the step at the next feed position, readers."""
    ((notice_id,),) = conn.execute(
        "INSERT INTO notices (reference, originator, originating_state, kind, classification,"
        " state, version, content_version, review_date, latest_seq)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, -1) ON CONFLICT (reference) DO UPDATE SET"
        " kind = excluded.kind, classification = excluded.classification,"
        " state = excluded.state, version = excluded.version,"
        " content_version = excluded.content_version, review_date = excluded.review_date"
        " RETURNING id",
        (
            row.reference,
            row.originator,
            row.originating_state,
            row.kind,
            row.classification,
            row.state,
            row.version,
            row.content_version,
            row.review_date,
        ),
    ).fetchall()
    seq = conn.execute(
        f"INSERT INTO notice_steps (seq, notice_id, version, record) VALUES ({NEXT_SEQ}, ?, ?, ?)",  # noqa: S608
        (notice_id, row.version, step),
    ).lastrowid
    assert seq is not None
    conn.execute("UPDATE notices SET latest_seq = ? WHERE id = ?", (seq, notice_id))
    conn.executemany(
        "INSERT OR IGNORE INTO notice_readers (participant, notice_id) VALUES (?, ?)",
        [(p, notice_id) for p in readers],
    )
    return seq


def save_notice_reply(
    conn: sqlite3.Connection,
    reference: str,
    participant: str,
    kind: int,
    version: int,
    step: bytes,
) -> bool:
    cursor = conn.execute(
        "INSERT OR IGNORE INTO notice_replies (notice_id, participant, kind, version, record)"
        " SELECT id, ?, ?, ?, ? FROM notices WHERE reference = ?",
        (participant, kind, version, step, reference),
    )
    return cursor.rowcount == 1


def current_key_ids(
    conn: sqlite3.Connection, participants: Iterable[str], today: str
) -> dict[str, str]:
    """The key id of each participant's current encryption key: the latest it published, while
    not past its not-after date."""
    wanted = json.dumps(sorted(set(participants)))
    rows = conn.execute(
        "SELECT k.participant, k.key_id FROM encryption_keys k WHERE k.participant IN"
        " (SELECT value FROM json_each(?)) AND k.not_after >= ? AND k.seq ="
        " (SELECT MAX(l.seq) FROM encryption_keys l WHERE l.participant = k.participant)",
        (wanted, today),
    ).fetchall()
    return {str(p): str(k) for p, k in rows}
