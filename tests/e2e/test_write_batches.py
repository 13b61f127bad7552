"""Group commit on the real SQLite file: the requests queued while the writer is busy commit in
one transaction; a job that fails takes only its own writes with it, and idempotency holds within
a batch as across batches."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import sqlite3
from pathlib import Path

import pytest

from ecx.v1 import audit_pb2
from server.domain.exchange_log import Event
from server.errors import AlreadyExists, RequestIdReused, StoreUnavailable
from server.store.base import Transaction, WriteJob
from server.store.sqlite import SqliteStore


def _event(name: str) -> Event:
    when = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
    digest = hashlib.sha256(name.encode()).digest()
    return Event(when, "nl", "BatchTest", (f"test:{name}",), digest, parties=("nl",))


def _appends(name: str) -> WriteJob:
    def job(tx: Transaction) -> bytes:
        index, _ = tx.append_event(_event(name))
        return f"{name}@{index}".encode()

    return job


def _appends_then_fails(name: str, error: Exception) -> WriteJob:
    def job(tx: Transaction) -> bytes:
        tx.append_event(_event(name))
        raise error

    return job


def _logged(path: Path) -> list[tuple[int, str]]:
    with sqlite3.connect(path) as db:
        rows = db.execute("SELECT idx, entry FROM log_entries ORDER BY idx").fetchall()
    entries = [audit_pb2.LogEntry.FromString(entry) for _, entry in rows]
    return [(idx, e.object_ids[0]) for (idx, _), e in zip(rows, entries, strict=True)]


async def test_a_failed_job_takes_only_its_own_writes_with_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "ecx.db"
    digest = hashlib.sha256(b"a").digest()
    other = hashlib.sha256(b"b").digest()
    async with SqliteStore(path) as store:
        commits = store.commits
        caplog.set_level(logging.ERROR)
        results = await asyncio.gather(
            store.write("nl", "r1", "Test", digest, _appends("a1")),
            store.write("nl", "r2", "Test", digest, _appends_then_fails("b1", AlreadyExists("x"))),
            store.write("nl", "r3", "Test", digest, _appends("c1")),
            # The same request again in the same batch: the first answer, nothing recorded.
            store.write("nl", "r1", "Test", digest, _appends("d1")),
            # The same request_id for another request.
            store.write("nl", "r3", "Test", other, _appends("e1")),
            store.write("nl", "r4", "Test", digest, _appends_then_fails("f1", KeyError("k"))),
            store.append(_appends("g1")),
            return_exceptions=True,
        )
        assert store.commits == commits + 1, "one batch, one commit"
        assert results[0] == b"a1@0"
        assert isinstance(results[1], AlreadyExists)
        assert results[2] == b"c1@1"
        assert results[3] == b"a1@0"
        assert isinstance(results[4], RequestIdReused)
        assert isinstance(results[5], StoreUnavailable)
        assert results[6] == b"g1@2"
        assert store.tree_head()[0] == 3

        # Across batches too: the first answer, and the failed request can be made again.
        again = await asyncio.gather(
            store.write("nl", "r1", "Test", digest, _appends("h1")),
            store.write("nl", "r2", "Test", digest, _appends("i1")),
        )
        assert again == [b"a1@0", b"i1@3"]

    assert _logged(path) == [(0, "test:a1"), (1, "test:c1"), (2, "test:g1"), (3, "test:i1")]
    with sqlite3.connect(path) as db:
        requests = db.execute("SELECT caller, request_id FROM idempotency ORDER BY 2").fetchall()
    assert requests == [("nl", "r1"), ("nl", "r2"), ("nl", "r3")]
    # The unexpected failure is logged by its kind, without a traceback.
    failures = [r for r in caplog.records if "write job failed" in r.getMessage()]
    assert [r.getMessage() for r in failures] == ["write job failed: KeyError"]
    assert all(r.exc_info is None for r in caplog.records)
