"""Two stores open on one SQLite file, as the hub's worker processes have them: their writers take
turns, every append lands in the one exchange log, and each side signs checkpoints of the tree as
committed by both, consistent with each other."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import sqlite3
from pathlib import Path

import pytest

from certs.devpki import DevPki
from client.core.merkle import verify_consistency
from server.app import load_log_key
from server.clock import FixedClock
from server.domain.exchange_log import Event
from server.domain.merkle import consistency_spans
from server.errors import StoreUnavailable
from server.services.audit import ExchangeLog
from server.store.sqlite import SqliteStore
from server.verify_log import verify_store
from tests.helpers import START

ORIGIN = "ecx.eu/exchange-log"


def _event(actor: str, n: int) -> Event:
    when = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC) + dt.timedelta(seconds=n)
    digest = hashlib.sha256(f"{actor}-{n}".encode()).digest()
    return Event(when, actor, "RecordTest", (f"test:{actor}:{n}",), digest, parties=(actor,))


async def test_two_writers_append_to_one_log_and_sign_consistent_checkpoints(
    pki: DevPki, tmp_path: Path
) -> None:
    path = tmp_path / "ecx.db"
    key = load_log_key(pki.root / "hub" / "log-key.pem")
    clock = FixedClock(START)
    async with SqliteStore(path) as a, SqliteStore(path) as b:
        log_a = ExchangeLog(a, clock, key, ORIGIN)
        log_b = ExchangeLog(b, clock, key, ORIGIN)

        # B has not written: its checkpoint still covers what A committed.
        await a.record([_event("nl", n) for n in range(5)])
        signed_b, _ = await log_b.checkpoint()
        assert signed_b.tree_size == 5

        # Concurrent appends from both sides, several per batch.
        async def burst(store: SqliteStore, actor: str, first: int) -> list[int]:
            results = await asyncio.gather(
                *(store.record([_event(actor, first + n)]) for n in range(40))
            )
            return [i for r in results for i in r]

        from_a, from_b = await asyncio.gather(burst(a, "nl", 100), burst(b, "de", 200))
        assert sorted(from_a + from_b) == list(range(5, 85))

        # A's last signed size is older than B's latest append, and the other way round: each
        # signs the tree both committed, and the two checkpoints agree.
        signed_a, _ = await log_a.checkpoint()
        await b.record([_event("de", 999)])
        signed_b2, _ = await log_b.checkpoint()
        assert (signed_a.tree_size, signed_b2.tree_size) == (85, 86)
        proof = await log_a.proof(consistency_spans(signed_a.tree_size, signed_b2.tree_size))
        verify_consistency(
            signed_a.tree_size, signed_b2.tree_size, proof, signed_a.root, signed_b2.root
        )
        assert await a.current_tree_head() == await b.current_tree_head()
        assert (await a.current_tree_head())[0] == 86
        notes = [signed_b.note, signed_a.note, signed_b2.note]

    report = verify_store(path, key.public_key(), ORIGIN, notes)
    assert report.ok, report.message
    with sqlite3.connect(path) as db:
        indexes = [i for (i,) in db.execute("SELECT idx FROM log_entries ORDER BY idx")]
        actors = dict(db.execute("SELECT actor, COUNT(*) FROM log_entries GROUP BY actor"))
    assert indexes == list(range(86))
    assert actors == {"nl": 45, "de": 41}


async def test_a_damaged_frontier_fails_the_batch_and_not_the_writer(tmp_path: Path) -> None:
    path = tmp_path / "ecx.db"
    async with SqliteStore(path) as store:
        assert await store.record([_event("nl", n) for n in range(3)]) == [0, 1, 2]
        # Another connection removes a node of the frontier (leaf 2 of the 3-leaf tree).
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            saved = db.execute("SELECT id, hash FROM log_nodes WHERE id = ?", (2,)).fetchone()
            db.execute("DELETE FROM log_nodes WHERE id = ?", (2,))
        with pytest.raises(StoreUnavailable):
            await store.record([_event("nl", 10)])
        with contextlib.closing(sqlite3.connect(path)) as db, db:
            db.execute("INSERT INTO log_nodes (id, hash) VALUES (?, ?)", saved)
        assert await store.record([_event("nl", 11)]) == [3]
    with sqlite3.connect(path) as db:
        assert db.execute("SELECT COUNT(*) FROM log_entries").fetchone() == (4,)
