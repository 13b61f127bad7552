"""The SQLite store's schema: connection settings, versioned migrations and the stored form
of a denial version.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterable
from importlib import resources

from google.protobuf.message import DecodeError

from ecx.v1 import denial_pb2
from server.errors import StoreUnavailable
from server.wire import length_delimited, length_delimited_value

PRAGMAS = (
    "PRAGMA journal_mode=WAL",
    "PRAGMA synchronous=FULL",
    "PRAGMA foreign_keys=ON",
    "PRAGMA busy_timeout=5000",
)

# One logger for the whole store, whichever of its modules speaks.
log = logging.getLogger("server.store.sqlite")


# The next position in the one ordered feed of changes: denial versions and notice steps.
NEXT_SEQ = (
    "(SELECT MAX(s) + 1 FROM (SELECT COALESCE(MAX(seq), 0) AS s FROM denial_versions"
    " UNION ALL SELECT COALESCE(MAX(seq), 0) FROM notice_steps))"
)


def token_document(tokens: Iterable[str]) -> str:
    """Blocking tokens as the screening index's full-text table holds them: each the hex of its
    UTF-8 bytes (one word to any tokenizer, whatever the token's letters), in sorted order."""
    return " ".join(t.encode().hex() for t in sorted(tokens))


def migrations() -> list[tuple[int, str]]:
    """(version, SQL) of every migration shipped with the hub, in order."""
    found = []
    for entry in resources.files("server.store.sqlite").joinpath("migrations").iterdir():
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


def signed_regime(stored: bytes) -> int:
    """The regime in the signed content of a stored denial version (0 if it does not decode)."""
    try:
        record = denial_pb2.Denial.FromString(version_record(stored))
        return denial_pb2.DenialPayload.FromString(record.envelope.payload).regime
    except DecodeError:
        return 0


# Migrations once shipped and then withdrawn: a store may carry them, and a later migration
# undoes what they did (12 drops the index 11 made).
RETIRED_MIGRATIONS = frozenset({11})


def migrate(conn: sqlite3.Connection) -> None:
    # Migrations that re-encode stored values call the store's own encoder.
    conn.create_function("stored_version", 1, stored_version, deterministic=True)
    conn.execute(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY,"
        " applied_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')))"
    )
    applied = {r[0] for r in conn.execute("SELECT version FROM schema_migrations")}
    known = migrations()
    newer = sorted(applied - {version for version, _ in known} - RETIRED_MIGRATIONS)
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
