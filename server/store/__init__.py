"""Storage behind one typed interface; SQLite is the embedded default."""

from server.store.base import (
    BLOCK_SEPARATOR,
    ChangePage,
    ConsultationFilter,
    DenialFilter,
    DenialRow,
    LogFilter,
    NoticeFilter,
    NoticeRow,
    ScreeningNames,
    ScreeningRow,
    Store,
    StoredCheckpoint,
    StoredNotice,
    Transaction,
    WriteJob,
)

__all__ = [
    "BLOCK_SEPARATOR",
    "ChangePage",
    "ConsultationFilter",
    "DenialFilter",
    "DenialRow",
    "LogFilter",
    "NoticeFilter",
    "NoticeRow",
    "ScreeningNames",
    "ScreeningRow",
    "Store",
    "StoredCheckpoint",
    "StoredNotice",
    "Transaction",
    "WriteJob",
]
