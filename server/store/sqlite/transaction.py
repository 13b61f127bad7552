"""What a write job does inside the writer's transaction: denial versions, consultations,
the screening index and the exchange log, buffered to one statement per table per batch.
"""

from __future__ import annotations

import json
import sqlite3
from collections import Counter
from collections.abc import Iterable

from client.core.merkle import leaf_hash
from server.domain.consultations import ConsultationState
from server.domain.denials import DenialState
from server.domain.exchange_log import Event, encode_entry, utc_text
from server.domain.merkle import Frontier, node_id
from server.store.base import (
    BLOCK_SEPARATOR,
    DenialRow,
    NoticeRow,
    ScreeningNames,
    StoredCheckpoint,
    StoredNotice,
)
from server.store.sqlite import notices
from server.store.sqlite.schema import NEXT_SEQ, stored_version, token_document, version_record


class LogBuffer:
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


class SqliteTransaction:
    """The Transaction one job sees; runs on the writer thread only."""

    def __init__(self, conn: sqlite3.Connection, frontier: Frontier, log: LogBuffer) -> None:
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

    def encryption_key_published(self, participant: str, key_id: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM encryption_keys WHERE participant = ? AND key_id = ?",
            (participant, key_id),
        ).fetchone()
        return row is not None

    def save_encryption_key(
        self, participant: str, key_id: str, not_after: str, record: bytes
    ) -> None:
        self._conn.execute(
            "INSERT INTO encryption_keys (participant, key_id, not_after, record)"
            " VALUES (?, ?, ?, ?)",
            (participant, key_id, not_after, record),
        )

    def notice(self, reference: str) -> StoredNotice | None:
        return notices.find_notice(self._conn, reference)

    def save_notice_step(self, row: NoticeRow, step: bytes, readers: Iterable[str]) -> int:
        return notices.save_notice_step(self._conn, row, step, readers)

    def save_notice_reply(
        self, reference: str, participant: str, kind: int, version: int, step: bytes
    ) -> bool:
        return notices.save_notice_reply(self._conn, reference, participant, kind, version, step)

    def current_key_ids(self, participants: Iterable[str], today: str) -> dict[str, str]:
        return notices.current_key_ids(self._conn, participants, today)

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
            "INSERT INTO denial_versions (seq, denial_id, version, regime, issuer, record)"  # noqa: S608
            f" VALUES ({NEXT_SEQ}, ?, ?, ?, ?, ?)",
            (denial_id, row.version, row.regime, row.issuer, stored_version(record)),
        ).lastrowid
        assert seq is not None  # (the insert's trigger makes it the denial's latest_seq)
        self._saved[row.reference] = (denial_id, latest_seq == -1)
        return seq
