"""Storage behind one typed interface; SQLite is the embedded default."""

from server.store.base import (
    ConsultationFilter,
    DenialFilter,
    DenialRow,
    LogFilter,
    ScreeningNames,
    ScreeningRow,
    Store,
    StoredCheckpoint,
    Transaction,
    WriteJob,
)

__all__ = [
    "ConsultationFilter",
    "DenialFilter",
    "DenialRow",
    "LogFilter",
    "ScreeningNames",
    "ScreeningRow",
    "Store",
    "StoredCheckpoint",
    "Transaction",
    "WriteJob",
]
