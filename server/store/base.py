"""The storage interface the hub's services are written against."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Protocol

from server.domain.denials import DenialState


@dataclass(frozen=True)
class Event:
    """An exchange event: what the log records. Never confidential content."""

    recorded_at: str
    actor: str
    action: str
    object: str
    payload_sha256: bytes
    outcome: str = "OK"


@dataclass(frozen=True)
class DenialRow:
    """The index columns of a denial's latest version."""

    reference: str
    issuer: str
    issuing_state: str
    regime: int
    destination_country: str
    status: int
    valid_until: str
    renewed_on: str
    version: int


@dataclass(frozen=True)
class DenialFilter:
    """ListDenials filters; empty or zero means any."""

    regimes: frozenset[int]
    issuing_state: str = ""
    destination_country: str = ""
    regime: int = 0
    status: int = 0
    today: str = ""


class Transaction(Protocol):
    """What a write job may do inside the writer's transaction."""

    async def denial_state(self, reference: str) -> DenialState | None: ...

    async def append_event(self, event: Event) -> int:
        """Record an event; returns its log index."""
        ...

    async def save_version(self, row: DenialRow, record: bytes) -> int:
        """Upsert the denial's index row and append the version record; returns its seq."""
        ...


WriteJob = Callable[[Transaction], Awaitable[bytes]]


class Store(Protocol):
    """One writer with group commit; reads from a snapshot of committed data."""

    async def write(
        self, caller: str, request_id: str, method: str, request_sha256: bytes, job: WriteJob
    ) -> bytes:
        """Run job once per (caller, request_id) in a committed transaction; retries get the
        first response bytes. The event, domain rows and idempotency record commit together."""
        ...

    async def denial_versions(self, reference: str) -> list[tuple[int, bytes]]:
        """(regime, record) of every version, oldest first."""
        ...

    async def list_denials(
        self, flt: DenialFilter, after_id: int, limit: int
    ) -> list[tuple[int, bytes]]:
        """(row id, latest record) of matching denials with id > after_id, in id order."""
        ...

    def changes(
        self, regimes: frozenset[int], after_seq: int, batch: int
    ) -> AsyncIterator[list[tuple[int, bytes]]]:
        """Batches of (seq, record) of versions after `after_seq`, in order, until caught up."""
        ...

    async def event_count(self) -> int: ...
