"""The embedded store: SQLite in WAL mode, one writer with group commit."""

from server.store.sqlite.queries import stored_leaves
from server.store.sqlite.schema import migrations, stored_version, token_document, version_record
from server.store.sqlite.store import SqliteStore

__all__ = [
    "SqliteStore",
    "migrations",
    "stored_leaves",
    "stored_version",
    "token_document",
    "version_record",
]
