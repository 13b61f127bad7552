"""`[server] workers = 2`: two hub processes on one port and one store, as `ecx-server run` starts
them. Connections are spread over both; whichever worker a call reaches, denials, retries and
the exchange log behave as with one process; a dead worker is replaced, and workers stop when
the hub is gone."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from certs.devpki import DevPki
from client.api import EcxClient
from client.identity import Identity
from ecx.v1 import denial_pb2
from server.app import load_log_key
from server.verify_log import verify_store
from tests.helpers import (
    current_dual_use_payload,
    hub_process,
    live_children,
    process_state,
    served_connections,
    store_rows,
)

CLIENTS = 16
PER_CLIENT = 3
NAMES = ("nl", "de")


def _running(pid: int) -> bool:
    fields = process_state(pid)
    return fields is not None and fields[0] not in ("Z", "X")


@pytest.mark.slow
async def test_workers_share_the_port_the_store_and_the_exchange_log(
    pki: DevPki, tmp_path: Path
) -> None:
    store = tmp_path / "ecx.db"
    identities = {n: Identity.load(pki.identity(n)) for n in NAMES}
    with hub_process(pki, tmp_path, store=store, workers=2) as hub:
        workers = live_children(hub.process.pid)
        assert len(workers) == 1, workers
        port = int(hub.address.rsplit(":", 1)[1])
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(
                    EcxClient(hub.address, identities[NAMES[c % 2]], timeout=20)
                )
                for c in range(CLIENTS)
            ]

            async def submit(c: int, i: int) -> tuple[int, str, denial_pb2.Denial]:
                state = NAMES[c % 2].upper()
                reference = f"{state}-2026-W{c:02d}{i}"
                request_id = f"workers-{c:02d}-{i}"
                denial = await clients[c].submit_denial(
                    current_dual_use_payload(reference, state), request_id=request_id
                )
                return c, request_id, denial

            submitted = await asyncio.gather(
                *(submit(c, i) for c in range(CLIENTS) for i in range(PER_CLIENT))
            )

            # The kernel spread the clients' connections over both processes.
            served = {pid: served_connections(port, pid) for pid in [hub.process.pid, *workers]}
            assert sum(served.values()) == CLIENTS, served
            assert all(n > 0 for n in served.values()), served

            # Whichever worker answers, it proves every denial in the one log.
            notes = []
            for c, _, denial in submitted:
                auditor = clients[(c + 1) % CLIENTS]
                checkpoint = await auditor.audit.prove_denial(denial)
                assert checkpoint.size > denial.log_index
            for client in clients:
                notes.append((await client.audit.checkpoint())[1])

            # A retry reaching another worker returns the first answer and records nothing.
            for c, request_id, denial in submitted:
                same_caller = clients[(c + 2) % CLIENTS]
                payload = current_dual_use_payload(denial.reference, denial.issuing_state)
                again = await same_caller.submit_denial(payload, request_id=request_id)
                assert again == denial

            listed = [d.reference async for d in clients[0].list_denials(page_size=100)]
        assert sorted(listed) == sorted(d.reference for _, _, d in submitted)

    key = load_log_key(pki.root / "hub" / "log-key.pem").public_key()
    report = verify_store(store, key, "ecx.eu/exchange-log", notes)
    assert report.ok, report.message
    total = CLIENTS * PER_CLIENT
    assert store_rows(store, "SELECT COUNT(*) FROM denial_versions") == [(total,)]
    assert store_rows(store, "SELECT COUNT(*) FROM idempotency") == [(total,)]
    indexes = [i for (i,) in store_rows(store, "SELECT idx FROM log_entries ORDER BY idx")]
    assert indexes == list(range(len(indexes)))
    assert "Traceback" not in hub.log.read_text()


async def _wait_for(condition: Callable[[], bool], seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.1)
    return False


@pytest.mark.slow
async def test_a_dead_worker_is_replaced_and_workers_stop_without_the_hub(
    pki: DevPki, tmp_path: Path
) -> None:
    nl = Identity.load(pki.identity("nl"))
    with hub_process(pki, tmp_path, workers=2) as hub:
        (first,) = live_children(hub.process.pid)
        os.kill(first, signal.SIGKILL)
        assert await _wait_for(lambda: live_children(hub.process.pid) not in ([], [first]), 20)
        (second,) = live_children(hub.process.pid)
        assert second != first
        ready = f"hub worker 1 serving (pid {second})"
        assert await _wait_for(lambda: ready in hub.log.read_text(), 30)

        # Both processes serve: new connections land on either, and every call succeeds.
        port = int(hub.address.rsplit(":", 1)[1])
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(EcxClient(hub.address, nl, timeout=20))
                for _ in range(CLIENTS)
            ]
            await asyncio.gather(*(c.whoami() for c in clients))
            assert served_connections(port, second) > 0
            references = [
                (
                    await c.submit_denial(current_dual_use_payload(f"NL-2026-R{n:02d}", "NL"))
                ).reference
                for n, c in enumerate(clients)
            ]
        assert len(set(references)) == CLIENTS

        # Without its parent a worker stops by itself.
        os.kill(hub.process.pid, signal.SIGKILL)
        hub.process.wait(10)
        assert await _wait_for(lambda: not _running(second), 20)
    log = hub.log.read_text()
    assert "hub worker 1 exited" in log
    assert "Traceback" not in log
