"""Storage behind one typed interface; SQLite is the embedded default."""

from server.store.base import (
    DenialFilter,
    DenialRow,
    LogFilter,
    Store,
    StoredCheckpoint,
    Transaction,
    WriteJob,
)

__all__ = [
    "DenialFilter",
    "DenialRow",
    "LogFilter",
    "Store",
    "StoredCheckpoint",
    "Transaction",
    "WriteJob",
]
