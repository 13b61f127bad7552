"""SyncDenials cursors and page tokens are sealed for one reader and one listing: opaque, refused
for anyone or anything else, parsed strictly, and they outlive a restart of the hub and work on
every worker process. A cursor tells its reader nothing about versions it may not read."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import sqlite3
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from certs.devpki import DevPki
from client.api import EcxClient
from client.identity import Identity
from ecx.v1 import (
    audit_pb2,
    audit_pb2_grpc,
    consultation_pb2,
    consultation_pb2_grpc,
    denial_pb2,
    denial_pb2_grpc,
)
from tests.helpers import (
    RunningHub,
    current_dual_use_payload,
    dual_use_payload,
    hub_process,
    military_payload,
    running_hub,
    served_connections,
    submitted_by_nl,
)

NOT_A_CURSOR = "invalid argument: cursor: not a cursor from a previous response"
NOT_A_TOKEN = "invalid argument: page_token: not a token from a previous page"


@dataclass
class Stubs:
    denials: denial_pb2_grpc.DenialServiceStub
    consultations: consultation_pb2_grpc.ConsultationServiceStub
    audit: audit_pb2_grpc.AuditServiceStub


@contextlib.asynccontextmanager
async def stubs(address: str, identity: Identity) -> AsyncIterator[Stubs]:
    credentials = grpc.ssl_channel_credentials(identity.ca_pem, identity.key_pem, identity.cert_pem)
    async with grpc.aio.secure_channel(address, credentials) as channel:
        yield Stubs(
            denial_pb2_grpc.DenialServiceStub(channel),
            consultation_pb2_grpc.ConsultationServiceStub(channel),
            audit_pb2_grpc.AuditServiceStub(channel),
        )


async def sync(stub: Stubs, cursor: str, batch_size: int = 0) -> list[tuple[str, list[str]]]:
    """(cursor, "reference:version" of each change) of every response after `cursor`."""
    request = denial_pb2.SyncDenialsRequest(cursor=cursor, batch_size=batch_size)
    return [
        (r.cursor, [f"{d.reference}:{d.version}" for d in r.changes])
        async for r in stub.denials.SyncDenials(request, timeout=20)
    ]


async def refused_sync(stub: Stubs, cursor: str) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await sync(stub, cursor)
    return caught.value


async def refused_list(stub: Stubs, token: str) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await stub.denials.ListDenials(denial_pb2.ListDenialsRequest(page_token=token))
    return caught.value


def assert_not_a_cursor(error: grpc.aio.AioRpcError) -> None:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert error.details() == NOT_A_CURSOR


def assert_not_a_token(error: grpc.aio.AioRpcError) -> None:
    assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, error.details()
    assert error.details() == NOT_A_TOKEN


async def _history(hub: RunningHub) -> list[str]:
    """Denial versions by NL and DE in both regimes; "reference:version" in the order written."""
    async with hub.client("nl") as nl, hub.client("de") as de:
        await nl.submit_denial(dual_use_payload("NL-2026-K001"))
        await de.submit_denial(military_payload("DE-2026-K001"))
        await de.submit_denial(military_payload("DE-2026-K002"))
        await nl.amend_denial("NL-2026-K001", dual_use_payload("NL-2026-K001", quantity="2"))
        await de.submit_denial(dual_use_payload("DE-2026-K003", "DE"))
    return [
        "NL-2026-K001:1",
        "DE-2026-K001:1",
        "DE-2026-K002:1",
        "NL-2026-K001:2",
        "DE-2026-K003:1",
    ]


@pytest.fixture
async def de(hub: RunningHub) -> AsyncIterator[Stubs]:
    async with stubs(hub.address, hub.identity("de")) as found:
        yield found


# Cursors that were never issued


@pytest.mark.parametrize(
    "cursor",
    [
        "9223372036854775807",  # the largest SQLite row id: resuming after it overflowed
        "9223372036854775806",
        "0",
        "3",
        "-1",
        "99999999999999999999",
    ],
)
async def test_a_position_written_as_a_number_is_not_a_cursor(
    hub: RunningHub, de: Stubs, cursor: str
) -> None:
    await _history(hub)
    assert_not_a_cursor(await refused_sync(de, cursor))
    assert [c for _, changes in await sync(de, "") for c in changes]  # the hub still answers


async def test_a_page_token_of_the_old_form_is_refused(hub: RunningHub, de: Stubs) -> None:
    await _history(hub)
    old = base64.urlsafe_b64encode(b"ecx-page:1").decode()
    assert_not_a_token(await refused_list(de, old))


# Cursors and tokens for one reader and one listing


async def test_a_cursor_issued_to_one_participant_is_refused_for_another(
    hub: RunningHub, de: Stubs
) -> None:
    await _history(hub)
    steps = await sync(de, "", batch_size=1)
    async with stubs(hub.address, hub.identity("fr")) as fr:
        for cursor, _ in steps:
            assert_not_a_cursor(await refused_sync(fr, cursor))
        # FR's own cursors work for FR, and are not DE's.
        own = await sync(fr, "", batch_size=1)
    assert [c for _, c in own] == [c for _, c in steps]
    assert {c for c, _ in own}.isdisjoint(c for c, _ in steps)
    for cursor, _ in own:
        assert_not_a_cursor(await refused_sync(de, cursor))


async def test_a_page_token_issued_to_one_participant_is_refused_for_another(
    hub: RunningHub, de: Stubs
) -> None:
    await _history(hub)
    page = await de.denials.ListDenials(denial_pb2.ListDenialsRequest(page_size=2))
    assert page.next_page_token
    following = await de.denials.ListDenials(
        denial_pb2.ListDenialsRequest(page_size=2, page_token=page.next_page_token)
    )
    assert len(following.denials) == 2
    async with stubs(hub.address, hub.identity("fr")) as fr:
        assert_not_a_token(await refused_list(fr, page.next_page_token))
    # The exchange log's pages are sealed for their reader too.
    async with stubs(hub.address, hub.identity("nl")) as nl:
        logged = await nl.audit.QueryLog(audit_pb2.QueryLogRequest(page_size=1))
    assert logged.next_page_token
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await de.audit.QueryLog(audit_pb2.QueryLogRequest(page_token=logged.next_page_token))
    assert_not_a_token(caught.value)


async def test_a_token_of_one_listing_is_refused_by_another(hub: RunningHub, de: Stubs) -> None:
    await _history(hub)
    page = await de.denials.ListDenials(denial_pb2.ListDenialsRequest(page_size=1))
    logged = await de.audit.QueryLog(audit_pb2.QueryLogRequest(page_size=1))
    (cursor, _), *_ = await sync(de, "", batch_size=1)
    denial_token, log_token = page.next_page_token, logged.next_page_token
    assert denial_token
    assert log_token

    for token in (denial_token, log_token, cursor):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await de.consultations.ListConsultations(
                consultation_pb2.ListConsultationsRequest(page_token=token)
            )
        assert_not_a_token(caught.value)
    for token in (log_token, cursor):
        assert_not_a_token(await refused_list(de, token))
    for token in (denial_token, log_token):
        assert_not_a_cursor(await refused_sync(de, token))


# Strict parsing


def _mutations(token: str) -> Iterator[tuple[str, str]]:
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    for at in (0, len(token) // 2, len(token) - 1):
        other = alphabet[(alphabet.index(token[at]) + 1) % len(alphabet)]
        yield f"changed-{at}", token[:at] + other + token[at + 1 :]
    yield "padded-1", token + "="
    yield "padded-2", token + "=="
    yield "shortened", token[:-1]
    yield "lengthened", token + "A"
    yield "doubled", token + token
    for name, outsider in [
        ("dot", "."),
        ("plus", "+"),
        ("slash", "/"),
        ("space", " "),
        ("newline", "\n"),
        ("nul", "\0"),
        ("e-acute", "é"),
        ("fullwidth-a", "Ａ"),
        ("zero-width-space", "\u200b"),
    ]:
        yield f"appended-{name}", token + outsider
        yield f"inserted-{name}", token[:10] + outsider + token[10:]
        yield f"replaced-{name}", token[:10] + outsider + token[11:]
    yield "standard-alphabet", token.replace("-", "+").replace("_", "/") + "+/"


async def test_a_cursor_altered_in_any_way_is_refused(hub: RunningHub, de: Stubs) -> None:
    await _history(hub)
    steps = await sync(de, "", batch_size=2)
    cursor = steps[0][0]
    assert len(cursor) == 48
    for name, altered in _mutations(cursor):
        error = await refused_sync(de, altered)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, name
        assert error.details() == NOT_A_CURSOR, name
    # The genuine one still resumes where it should.
    assert [c for _, c in await sync(de, cursor, batch_size=2)] == [c for _, c in steps[1:]]


async def test_a_page_token_altered_in_any_way_is_refused(hub: RunningHub, de: Stubs) -> None:
    await _history(hub)
    token = (
        await de.denials.ListDenials(denial_pb2.ListDenialsRequest(page_size=1))
    ).next_page_token
    for name, altered in _mutations(token):
        error = await refused_list(de, altered)
        assert error.code() == grpc.StatusCode.INVALID_ARGUMENT, name
        assert error.details() == NOT_A_TOKEN, name


# What a cursor reveals


_SHIFT = 7_340_000_000_000  # sequence numbers whose encodings cannot occur in a token by chance


def _encodings(position: int) -> list[bytes]:
    """The position as text and bytes in the encodings a careless token might use."""
    text = [str(position), f"{position:x}", f"{position:X}", f"{position:o}"]
    raw = [position.to_bytes(8, order) for order in ("big", "little")]
    raw += [position.to_bytes(6, order) for order in ("big", "little")]
    varint = bytearray()
    rest = position
    while rest > 0x7F:
        varint.append(rest & 0x7F | 0x80)
        rest >>= 7
    varint.append(rest)
    return [t.encode() for t in text] + raw + [bytes(varint)]


def _decodings(token: str) -> list[bytes]:
    """The token itself and its base64 decodings, from every alignment and in both alphabets."""
    found = [token.encode()]
    for start in range(4):
        part = token[start:]
        part = part[: len(part) - len(part) % 4]
        for altchars in (b"-_", b"+/"):
            with contextlib.suppress(ValueError):
                found.append(base64.b64decode(part, altchars=altchars))
    return found


async def test_a_cursor_reveals_no_sequence_number(pki: DevPki, tmp_path: Path) -> None:
    store = tmp_path / "ecx.db"
    await submitted_by_nl(pki, store, [dual_use_payload("NL-2026-K100")])
    # As an operator could, number the store's versions from far away; new ones follow on.
    with contextlib.closing(sqlite3.connect(store)) as db, db:
        db.execute("UPDATE denial_versions SET seq = seq + ?", (_SHIFT,))
        db.execute("UPDATE denials SET latest_seq = latest_seq + ?", (_SHIFT,))
    async with running_hub(pki, store) as hub:
        async with hub.client("de") as de_client, hub.client("nl") as nl_client:
            await de_client.submit_denial(military_payload("DE-2026-K101"))
            await de_client.submit_denial(military_payload("DE-2026-K102"))
            await nl_client.submit_denial(dual_use_payload("NL-2026-K103"))
        with contextlib.closing(sqlite3.connect(store)) as db:
            seqs = [s for (s,) in db.execute("SELECT seq FROM denial_versions ORDER BY seq")]
        assert seqs == [_SHIFT + n for n in range(1, 5)]

        cursors: dict[str, list[str]] = {}
        for reader in ("de", "commission"):
            async with stubs(hub.address, hub.identity(reader)) as reader_stubs:
                steps = await sync(reader_stubs, "", batch_size=1)
                cursors[reader] = [cursor for cursor, _ in steps]
                # The whole history in one response ends at the same cursor.
                assert (await sync(reader_stubs, ""))[-1][0] == cursors[reader][-1]
        assert len(cursors["de"]) == 4
        assert len(cursors["commission"]) == 2  # dual-use only

    # Both readers reached the last version, at the same sequence number: not the same cursor.
    assert cursors["de"][-1] != cursors["commission"][-1]
    every = cursors["de"] + cursors["commission"]
    assert {len(c) for c in every} == {48}
    for cursor in every:
        for seq in seqs:
            for near in (seq - 1, seq, seq + 1):
                for encoded in _encodings(near):
                    for decoded in _decodings(cursor):
                        assert encoded not in decoded, (cursor, near)


# Cursors outlive the hub process and work on every worker


async def test_a_cursor_survives_a_restart_of_the_hub(pki: DevPki, tmp_path: Path) -> None:
    store = tmp_path / "ecx.db"
    async with running_hub(pki, store) as first:
        written = await _history(first)
        async with stubs(first.address, first.identity("de")) as de:
            steps = await sync(de, "", batch_size=1)
    assert [c for _, c in steps] == [[w] for w in written]

    async with running_hub(pki, store) as second:
        async with second.client("nl") as nl:
            await nl.submit_denial(dual_use_payload("NL-2026-K009"))
        async with stubs(second.address, second.identity("de")) as de:
            for i, (cursor, _) in enumerate(steps):
                rest = [c for _, changes in await sync(de, cursor) for c in changes]
                assert rest == [*written[i + 1 :], "NL-2026-K009:1"], f"after change {i}"
            # And the new hub issues the very same cursors for the same positions.
            again = await sync(de, "", batch_size=1)
    assert [c for c, _ in again[: len(steps)]] == [c for c, _ in steps]


CLIENTS = 12


@pytest.mark.slow
async def test_a_cursor_from_one_worker_resumes_on_another(pki: DevPki, tmp_path: Path) -> None:
    references = [f"NL-2026-KW{i:02d}" for i in range(4)]
    nl_identity = Identity.load(pki.identity("nl"))
    de_identity = Identity.load(pki.identity("de"))
    with hub_process(pki, tmp_path, workers=2) as hub:
        async with EcxClient(hub.address, nl_identity, timeout=20) as nl:
            for reference in references:
                await nl.submit_denial(current_dual_use_payload(reference))
        async with contextlib.AsyncExitStack() as stack:
            readers = [
                await stack.enter_async_context(stubs(hub.address, de_identity))
                for _ in range(CLIENTS)
            ]
            steps = await sync(readers[0], "", batch_size=1)
            assert [c for _, c in steps] == [[f"{r}:1"] for r in references]
            # Every reader resumes from every cursor, whichever worker holds its connection.
            results = await asyncio.gather(
                *(sync(reader, cursor) for reader in readers for cursor, _ in steps)
            )
            port = int(hub.address.rsplit(":", 1)[1])
            served = [served_connections(port, pid) for pid in hub.pids()]
        assert len(served) == 2, served
        assert all(n > 0 for n in served), served
        for n, result in enumerate(results):
            i = n % len(steps)
            assert [c for _, changes in result for c in changes] == [
                f"{r}:1" for r in references[i + 1 :]
            ]
    assert "Traceback" not in hub.log.read_text()
