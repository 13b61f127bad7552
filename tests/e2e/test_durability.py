"""An acknowledged write survives kill -9 of the hub, and a retried request never duplicates."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import os
import signal
import sqlite3
from collections import Counter
from pathlib import Path

import pytest

from certs.devpki import DevPki
from client.api import EcxClient
from client.errors import RemoteError
from client.identity import Identity
from ecx.v1 import denial_pb2
from tests.helpers import current_dual_use_payload, hub_process, store_rows, token_postings

WORKERS = 16
PER_WORKER = 40
# Kill the hub once this many submissions were acknowledged: well before the load runs out.
KILL_AFTER = 160


@dataclasses.dataclass
class Attempt:
    """One submission as the client sent it, and the hub's answer if one arrived."""

    reference: str
    request_id: str
    payload: denial_pb2.DenialPayload
    acknowledged: denial_pb2.Denial | None = None


async def _load_until_killed(
    address: str, identity: Identity, pid: int
) -> tuple[list[Attempt], bool]:
    """Submit from WORKERS concurrent tasks; SIGKILL the hub after KILL_AFTER acknowledgements."""
    attempts: list[Attempt] = []
    killed = asyncio.Event()
    acknowledged = 0

    async def worker(w: int) -> None:
        nonlocal acknowledged
        async with EcxClient(address, identity, timeout=15) as nl:
            for i in range(PER_WORKER):
                if killed.is_set():
                    return
                number = w * PER_WORKER + i
                attempt = Attempt(
                    f"NL-2026-K{number:04d}",
                    f"durability-{number:04d}",
                    current_dual_use_payload(f"NL-2026-K{number:04d}"),
                )
                attempts.append(attempt)
                try:
                    attempt.acknowledged = await nl.submit_denial(
                        attempt.payload, request_id=attempt.request_id
                    )
                except RemoteError:
                    if killed.is_set():
                        return
                    raise
                acknowledged += 1
                if acknowledged == KILL_AFTER:
                    os.kill(pid, signal.SIGKILL)
                    killed.set()

    await asyncio.gather(*(worker(w) for w in range(WORKERS)))
    return attempts, killed.is_set()


async def _retry_all(client: EcxClient, attempts: list[Attempt]) -> list[denial_pb2.Denial]:
    """Resend every attempt with its original request id, WORKERS at a time, in order."""
    limit = asyncio.Semaphore(WORKERS)

    async def retry(attempt: Attempt) -> denial_pb2.Denial:
        async with limit:
            return await client.submit_denial(attempt.payload, request_id=attempt.request_id)

    return list(await asyncio.gather(*(retry(a) for a in attempts)))


@pytest.mark.slow
async def test_acknowledged_submissions_survive_kill_9_and_retries_never_duplicate(
    pki: DevPki, tmp_path: Path
) -> None:
    store = tmp_path / "ecx.db"
    first, second = tmp_path / "first", tmp_path / "second"
    first.mkdir()
    second.mkdir()
    nl_identity = Identity.load(pki.identity("nl"))
    de_identity = Identity.load(pki.identity("de"))

    with hub_process(pki, first, store=store) as hub:
        attempts, killed = await _load_until_killed(hub.address, nl_identity, hub.process.pid)
        assert hub.process.wait(10) == -signal.SIGKILL
    assert killed
    acknowledged = [a for a in attempts if a.acknowledged is not None]
    in_flight = [a for a in attempts if a.acknowledged is None]
    assert len(acknowledged) >= KILL_AFTER
    assert in_flight, "the hub must be killed while submissions are in flight"
    assert len(attempts) < WORKERS * PER_WORKER
    assert len({a.reference for a in attempts}) == len(attempts)

    with hub_process(pki, second, store=store) as hub:
        async with (
            EcxClient(hub.address, nl_identity) as nl,
            EcxClient(hub.address, de_identity) as de,
        ):
            # Every acknowledged denial is there, exactly as acknowledged, exactly once.
            for attempt in acknowledged:
                got = await de.get_denial(attempt.reference, versions=True)
                assert list(got.versions) == [attempt.acknowledged], attempt.reference
            before = [d.reference async for d in nl.list_denials(page_size=100)]
            assert len(before) == len(set(before))
            assert {a.reference for a in acknowledged} <= set(before)
            assert set(before) <= {a.reference for a in attempts}

            # Retrying everything returns the first answer or records the submission once.
            retried = await _retry_all(nl, attempts)
            for attempt, result in zip(attempts, retried, strict=True):
                if attempt.acknowledged is not None:
                    assert result == attempt.acknowledged, attempt.reference
                else:
                    assert (result.reference, result.version) == (attempt.reference, 1)
                    assert result.envelope.payload == attempt.payload.SerializeToString(
                        deterministic=True
                    )
            again = await _retry_all(nl, attempts)
            assert again == retried

            after = [d.reference async for d in nl.list_denials(page_size=100)]
            assert sorted(after) == sorted(a.reference for a in attempts)
            log_indexes = [d.log_index for d in retried]
            assert len(set(log_indexes)) == len(attempts)

    logged = store_rows(
        store,
        "SELECT idx FROM log_entries WHERE action = 'SubmitDenial' AND outcome = 'OK' ORDER BY idx",
    )
    assert [idx for (idx,) in logged] == sorted(log_indexes)
    assert store_rows(store, "SELECT COUNT(*) FROM denial_versions") == [(len(attempts),)]
    assert store_rows(store, "SELECT COUNT(*) FROM idempotency") == [(len(attempts),)]
    assert store_rows(store, "PRAGMA integrity_check") == [("ok",)]
    # The screening index survived too: every denial's tokens once, counts equal to postings.
    with contextlib.closing(sqlite3.connect(store)) as db:
        postings = token_postings(db)
        counts = dict(db.execute("SELECT token, denials FROM denial_token_counts WHERE denials"))
        denials = db.execute("SELECT COUNT(*) FROM denials").fetchone()[0]
    assert counts == dict(Counter(token for token, _ in postings))
    assert len(postings) == len(set(postings))
    assert len({denial for _, denial in postings}) == denials == len(attempts)
