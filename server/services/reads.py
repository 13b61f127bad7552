"""Reads of confidential content are exchange events too: the log records who saw what."""

from __future__ import annotations

from collections.abc import Iterable

from server.clock import Clock
from server.domain.exchange_log import Event
from server.domain.participants import Caller
from server.store import Store


async def record_read(
    store: Store,
    clock: Clock,
    caller: Caller,
    action: str,
    objects: Iterable[str],
    owners: Iterable[str],
    response_sha256: bytes,
) -> None:
    """One log entry per read call: the object versions returned, the digest of the response
    bytes, and the owners of the objects as parties (they may read the entry)."""
    await store.record(
        [
            Event(
                time=clock.now(),
                actor=caller.id,
                action=action,
                object_ids=tuple(objects),
                payload_sha256=response_sha256,
                parties=tuple(sorted(set(owners))),
            )
        ]
    )
