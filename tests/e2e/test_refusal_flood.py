"""A flood of refused calls cannot grow the permanent log at will: refusals before authentication
are counted per certificate and summarised, and past a bucket answered at once; an authenticated
caller's refusals are one entry each until its bucket is empty, then counted too. And the owner
of an object sees the refused attempts on it."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator

import grpc
import pytest

from certs.devpki import DevPki
from client.errors import RemoteError
from ecx.v1 import audit_pb2, participant_pb2, participant_pb2_grpc
from server.app import Hub
from server.clock import FixedClock
from tests.helpers import START, RunningHub, dual_use_payload, hub_config

BURST = 10


@pytest.fixture
async def strict_hub(pki: DevPki, tmp_path: object) -> AsyncIterator[RunningHub]:
    """A hub whose refusal buckets hold BURST refusals and refill at one a second."""
    clock = FixedClock(START)
    store = tmp_path / "ecx.db"  # type: ignore[operator]
    config = hub_config(pki, store, refusal_burst=BURST, refusals_per_minute=60)
    async with Hub(config, clock=clock) as running:
        yield RunningHub(running, pki, clock, store)


async def _entries(hub: RunningHub) -> list[audit_pb2.LogEntry]:
    async with hub.client("auditor") as auditor:
        return [
            audit_pb2.LogEntry.FromString(e.entry)
            async for e in auditor.audit.query(audit_pb2.QueryLogRequest())
        ]


async def _who_am_i(hub: RunningHub, name: str, calls: int) -> list[grpc.StatusCode]:
    identity = hub.identity(name)
    credentials = grpc.ssl_channel_credentials(identity.ca_pem, identity.key_pem, identity.cert_pem)
    codes = []
    async with grpc.aio.secure_channel(hub.address, credentials) as channel:
        stub = participant_pb2_grpc.ParticipantServiceStub(channel)
        for _ in range(calls):
            try:
                await stub.WhoAmI(participant_pb2.WhoAmIRequest(), timeout=10)
                codes.append(grpc.StatusCode.OK)
            except grpc.aio.AioRpcError as e:
                codes.append(e.code())
    return codes


@pytest.mark.parametrize("name", ["revoked", "stranger"])
async def test_refusals_before_authentication_are_summarised_not_logged_one_by_one(
    strict_hub: RunningHub, name: str
) -> None:
    before = len(await _entries(strict_hub))
    codes = await _who_am_i(strict_hub, name, 300)
    assert codes[:BURST] == [grpc.StatusCode.UNAUTHENTICATED] * BURST
    assert codes[BURST:] == [grpc.StatusCode.RESOURCE_EXHAUSTED] * (300 - BURST)
    # Until the summary, nothing of the flood is in the log.
    assert len(await _entries(strict_hub)) == before
    assert await strict_hub.hub.refusals.flush() == 300
    summaries = [e for e in await _entries(strict_hub) if e.actor == "unauthenticated"]
    assert sorted((e.action, e.outcome, e.count) for e in summaries) == [
        ("WhoAmI", "RESOURCE_EXHAUSTED", 300 - BURST),
        ("WhoAmI", "UNAUTHENTICATED", BURST),
    ]
    peers = {tuple(e.object_ids) for e in summaries}
    assert len(peers) == 1
    (peer,) = peers.pop()
    assert peer.startswith("peer-certificate:")


async def test_a_flood_is_summarised_when_the_hub_stops(pki: DevPki, tmp_path: object) -> None:
    clock = FixedClock(START)
    store = tmp_path / "ecx.db"  # type: ignore[operator]
    config = hub_config(pki, store, refusal_burst=BURST)
    async with Hub(config, clock=clock) as running:
        hub = RunningHub(running, pki, clock, store)
        await _who_am_i(hub, "revoked", 50)
    async with Hub(config, clock=clock) as running:
        entries = await _entries(RunningHub(running, pki, clock, store))
    assert sum(e.count for e in entries if e.actor == "unauthenticated") == 50


async def test_an_authenticated_callers_refusals_are_logged_then_counted(
    strict_hub: RunningHub,
) -> None:
    async with strict_hub.client("nl") as nl:
        outcomes = []
        for n in range(BURST + 5):
            try:
                await nl.get_denial(f"NL-2026-{n:04d}")
            except RemoteError as e:
                outcomes.append(e.code.name)
        assert outcomes == ["NOT_FOUND"] * BURST + ["RESOURCE_EXHAUSTED"] * 5
        # While its bucket is empty, even a call that would succeed is refused at once.
        with pytest.raises(RemoteError) as caught:
            await nl.whoami()
        assert caught.value.code == grpc.StatusCode.RESOURCE_EXHAUSTED
        strict_hub.clock.advance(dt.timedelta(seconds=2))
        assert (await nl.whoami()).id == "nl"
    assert await strict_hub.hub.refusals.flush() == 6
    entries = [e for e in await _entries(strict_hub) if e.actor == "nl"]
    assert [e.outcome for e in entries if e.action == "GetDenial" and not e.count] == [
        "NOT_FOUND"
    ] * BURST
    summary = sorted((e.action, e.outcome, e.count, tuple(e.parties)) for e in entries if e.count)
    assert summary == [
        ("GetDenial", "RESOURCE_EXHAUSTED", 5, ("nl",)),
        ("WhoAmI", "RESOURCE_EXHAUSTED", 1, ("nl",)),
    ]


async def test_the_issuer_sees_refused_attempts_on_its_denial(hub: RunningHub) -> None:
    async with hub.client("nl") as nl, hub.client("de") as de:
        stored = await nl.submit_denial(dual_use_payload("NL-2026-0007"))
        with pytest.raises(RemoteError) as caught:
            await de.revoke_denial("NL-2026-0007", "not mine to revoke", follows=stored)
        assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
        seen = [
            audit_pb2.LogEntry.FromString(e.entry)
            async for e in nl.audit.query(audit_pb2.QueryLogRequest(actor="de"))
        ]
    assert [(e.action, e.outcome, list(e.object_ids), list(e.parties)) for e in seen] == [
        ("RevokeDenial", "PERMISSION_DENIED", ["denial:NL-2026-0007"], ["nl"])
    ]
