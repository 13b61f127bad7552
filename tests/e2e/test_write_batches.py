"""Group commit on the real SQLite file: the requests queued while the writer is busy commit in
one transaction; a job that fails takes only its own writes with it, and idempotency holds within
a batch as across batches."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import logging
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from ecx.v1 import audit_pb2
from server.domain.exchange_log import Event
from server.errors import AlreadyExists, RequestIdReused, StoreUnavailable
from server.store.base import DenialRow, ScreeningNames, Transaction, WriteJob
from server.store.sqlite import SqliteStore
from tests.helpers import token_postings


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


def _version(reference: str, version: int, tokens: list[str], fail: bool = False) -> WriteJob:
    """Save a version of a denial and index its names; optionally fail after writing both."""

    def job(tx: Transaction) -> bytes:
        row = DenialRow(reference, "nl", "NL", 1, "AE", 1, "2029-11-02", "", version)
        tx.save_version(row, f"{reference} v{version}".encode())
        names = tuple(("end_user", f"{reference} name {t}", "{}", t) for t in tokens)
        tx.index_for_screening(reference, ScreeningNames(names, ("ML1",)))
        if fail:
            raise AlreadyExists("refused after writing")
        return b"ok"

    return job


def _index(path: Path) -> tuple[dict[str, int], dict[str, int], dict[str, list[str]]]:
    """(stored token counts, token postings counted, tokens per denial) of the screening index."""
    with sqlite3.connect(path) as db:
        stored = dict(db.execute("SELECT token, denials FROM denial_token_counts WHERE denials"))
        postings = token_postings(db)
        counted = dict(Counter(token for token, _ in postings))
        references = dict(db.execute("SELECT id, reference FROM denials"))
        per_denial: dict[str, list[str]] = {}
        for token, denial_id in sorted(postings, key=lambda p: (references[p[1]], p[0])):
            per_denial.setdefault(references[denial_id], []).append(token)
        names = db.execute("SELECT COUNT(*) FROM denial_names").fetchone()[0]
    assert names == sum(len(t) for t in per_denial.values())
    return stored, counted, per_denial


async def test_the_screening_index_follows_versions_saved_in_one_batch(tmp_path: Path) -> None:
    path = tmp_path / "ecx.db"
    async with SqliteStore(path) as store:
        commits = store.commits
        results = await asyncio.gather(
            store.append(_version("NL-A", 1, ["w:alpha", "w:beta"])),
            store.append(_version("NL-B", 1, ["w:beta", "w:gamma"])),
            # A amended within the batch it was submitted in: only its new names stay.
            store.append(_version("NL-A", 2, ["w:beta", "w:delta"])),
        )
        assert store.commits == commits + 1
        assert results == [b"ok", b"ok", b"ok"]
        stored, counted, per_denial = _index(path)
        assert per_denial == {"NL-A": ["w:beta", "w:delta"], "NL-B": ["w:beta", "w:gamma"]}
        assert stored == counted == {"w:beta": 2, "w:delta": 1, "w:gamma": 1}

        # A failure after writing a version and its index leaves no trace of either, and
        # takes nothing of the others in its batch with it.
        results = await asyncio.gather(
            store.append(_version("NL-D", 1, ["w:delta", "w:zeta"])),
            store.append(_version("NL-C", 1, ["w:omega"], fail=True)),
            store.append(_version("NL-D", 2, ["w:zeta"])),
            store.append(_version("NL-B", 2, ["w:gamma"], fail=True)),
            return_exceptions=True,
        )
        assert store.commits == commits + 2
        assert results[0] == results[2] == b"ok"
        assert isinstance(results[1], AlreadyExists)
        assert isinstance(results[3], AlreadyExists)
        stored, counted, per_denial = _index(path)
        assert per_denial == {
            "NL-A": ["w:beta", "w:delta"],
            "NL-B": ["w:beta", "w:gamma"],
            "NL-D": ["w:zeta"],
        }
        assert stored == counted == {"w:beta": 2, "w:delta": 1, "w:gamma": 1, "w:zeta": 1}

        # And in a later batch.
        await store.append(_version("NL-B", 2, ["w:gamma", "w:epsilon"]))
        stored, counted, per_denial = _index(path)
        assert per_denial["NL-B"] == ["w:epsilon", "w:gamma"]
        assert (
            stored
            == counted
            == {
                "w:beta": 1,
                "w:delta": 1,
                "w:gamma": 1,
                "w:epsilon": 1,
                "w:zeta": 1,
            }
        )
    with sqlite3.connect(path) as db:
        controls = db.execute("SELECT reference, control_entries FROM denials ORDER BY 1")
        assert controls.fetchall() == [("NL-A", "ML1"), ("NL-B", "ML1"), ("NL-D", "ML1")]
