"""Storage behind one typed interface; SQLite is the embedded default."""

from server.store.base import (
    DenialFilter,
    DenialRow,
    Event,
    Store,
    Transaction,
    WriteJob,
)

__all__ = ["DenialFilter", "DenialRow", "Event", "Store", "Transaction", "WriteJob"]
