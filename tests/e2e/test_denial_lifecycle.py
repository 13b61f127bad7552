"""Denials end to end over real mTLS against the real SQLite file: submit, amend, revoke, renew,
expiry, re-verification by recipients, listing, paging, sync and idempotent retries."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import hashlib
import sqlite3
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from certs.devpki import DevPki
from client.api import EcxClient
from client.errors import RemoteError, VerificationError
from ecx.v1 import audit_pb2, denial_pb2, denial_pb2_grpc
from server.app import Hub
from server.clock import FixedClock
from server.errors import StoreUnavailable
from server.store import sqlite as sqlite_store
from server.store.sqlite import queries as sqlite_queries
from server.store.sqlite import version_record
from tests.helpers import (
    START,
    TODAY,
    RunningHub,
    dual_use_payload,
    following,
    hub_config,
    military_payload,
)

ACTIVE, REVOKED, EXPIRED = denial_pb2.ACTIVE, denial_pb2.REVOKED, denial_pb2.EXPIRED
MILITARY, DUAL_USE = denial_pb2.MILITARY, denial_pb2.DUAL_USE


# Small helpers


def plus_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` later (the tests never use 29 February)."""
    return day.replace(year=day.year + years)


def today(hub: RunningHub) -> dt.date:
    return hub.clock.now().date()


def move_clock_to(hub: RunningHub, day: dt.date) -> None:
    target = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
    hub.clock.advance(target - hub.clock.now())


def signed(
    payload: denial_pb2.DenialPayload, follows: denial_pb2.Denial | None = None
) -> denial_pb2.DenialPayload:
    """The payload as the client signs it: linked as version 1, or after `follows`."""
    copy = denial_pb2.DenialPayload()
    copy.CopyFrom(payload)
    if follows is not None:
        copy.link.CopyFrom(following(follows))
    return copy


def payload_bytes(
    payload: denial_pb2.DenialPayload, follows: denial_pb2.Denial | None = None
) -> bytes:
    """The bytes the client signs for a payload."""
    return signed(payload, follows).SerializeToString(deterministic=True)


def payload_of(denial: denial_pb2.Denial) -> denial_pb2.DenialPayload:
    return denial_pb2.DenialPayload.FromString(denial.envelope.payload)


def query(hub: RunningHub, sql: str, params: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Read the hub's store file directly, as an operator with sqlite3 would."""
    with contextlib.closing(sqlite3.connect(hub.store_path)) as db:
        return db.execute(sql, params).fetchall()


WRITE_ACTIONS = ("SubmitDenial", "AmendDenial", "RevokeDenial", "RenewDenial")


def logged_writes(hub: RunningHub) -> list[audit_pb2.LogEntry]:
    """The exchange-log entries of acknowledged denial writes, in log order."""
    rows = query(
        hub,
        "SELECT idx, entry FROM log_entries WHERE outcome = 'OK'"
        f" AND action IN ({','.join('?' * len(WRITE_ACTIONS))}) ORDER BY idx",
        WRITE_ACTIONS,
    )
    entries = [audit_pb2.LogEntry.FromString(entry) for _, entry in rows]
    assert [e.index for e in entries] == [idx for idx, _ in rows]
    return entries


def event_count(hub: RunningHub) -> int:
    """How many denial writes the store has acknowledged."""
    return len(logged_writes(hub))


async def refused(call: Awaitable[object], code: grpc.StatusCode) -> RemoteError:
    with pytest.raises(RemoteError) as info:
        await call
    assert info.value.code == code, str(info.value)
    return info.value


async def listed(client: EcxClient, **filters: Any) -> list[denial_pb2.Denial]:
    return [d async for d in client.list_denials(**filters)]


async def synced(client: EcxClient, cursor: str = "", batch_size: int = 0) -> list[tuple[str, Any]]:
    """(cursor, changes) of every SyncDenials response after `cursor`."""
    return [
        (r.cursor, list(r.changes))
        async for r in client.sync_denials(cursor, batch_size=batch_size)
    ]


@contextlib.asynccontextmanager
async def raw_denials(hub: RunningHub, name: str) -> AsyncIterator[Any]:
    """The DenialService stub itself, to look at single pages and tokens."""
    identity = hub.identity(name)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=identity.ca_pem,
        private_key=identity.key_pem,
        certificate_chain=identity.cert_pem,
    )
    async with grpc.aio.secure_channel(hub.address, credentials) as channel:
        yield denial_pb2_grpc.DenialServiceStub(channel)


# Submit


@pytest.mark.parametrize(
    ("issuer", "make"),
    [
        pytest.param("nl", lambda: dual_use_payload("NL-2026-0042", "NL"), id="dual-use-by-nl"),
        pytest.param("de", lambda: military_payload("DE-2026-0042", "DE"), id="military-by-de"),
    ],
)
async def test_submit_records_version_1_active_for_three_years_from_the_denial_date(
    hub: RunningHub, issuer: str, make: Callable[[], denial_pb2.DenialPayload]
) -> None:
    denial_date = dt.date(2025, 3, 14)
    payload = make()
    payload.denial_date = denial_date.isoformat()
    async with hub.client(issuer) as client:
        denial = await client.submit_denial(payload)
        got = await client.get_denial(payload.reference)

    assert denial.reference == payload.reference
    assert denial.version == 1
    assert denial.status == ACTIVE
    assert denial.change == denial_pb2.SUBMIT
    assert denial.valid_until == "2028-03-14"
    assert denial.signer == issuer
    assert denial.issuing_state == issuer.upper()
    assert denial.regime == payload.regime
    assert denial.recorded_at.ToDatetime(dt.UTC) == hub.clock.now()
    assert denial.envelope.payload == payload_bytes(payload)
    [entry] = logged_writes(hub)
    assert denial.log_index == entry.index
    assert denial.log_entry == entry.SerializeToString(deterministic=True)
    assert list(entry.object_ids) == [f"denial:{payload.reference}:v1"]
    assert entry.actor == issuer
    assert entry.action == "SubmitDenial"
    assert got.denial == denial
    assert list(got.versions) == []


# Amend


async def test_amend_records_version_2_and_keeps_version_1_with_its_original_bytes(
    hub: RunningHub,
) -> None:
    original = dual_use_payload("NL-2026-0100", denial_date="2026-11-25")
    amended = dual_use_payload(
        "NL-2026-0100",
        denial_date="2026-11-20",
        goods_description="Lithography exposure tool with 38 nm resolution",
        value_eur=2_100_000,
    )
    async with hub.client("nl") as nl:
        v1 = await nl.submit_denial(original)
        hub.clock.advance(dt.timedelta(hours=1))
        v2 = await nl.amend_denial("NL-2026-0100", amended)
        got = await nl.get_denial("NL-2026-0100", versions=True)
        latest = await nl.get_denial("NL-2026-0100")

    assert v2.version == 2
    assert v2.change == denial_pb2.AMEND
    assert v2.status == ACTIVE
    assert v2.valid_until == "2029-11-20"
    assert v2.log_index > v1.log_index
    assert v2.recorded_at.ToDatetime(dt.UTC) > v1.recorded_at.ToDatetime(dt.UTC)

    assert latest.denial == v2
    assert payload_of(latest.denial).goods_description.endswith("38 nm resolution")
    assert payload_of(latest.denial).value_eur == 2_100_000

    assert [v.version for v in got.versions] == [1, 2]
    assert got.versions[0] == v1
    assert got.versions[0].envelope.payload == payload_bytes(original)
    assert got.versions[0].valid_until == "2029-11-25"
    assert got.versions[1].envelope.payload == payload_bytes(amended, v1)
    assert got.denial == got.versions[-1]


# Revoke


async def test_revoke_records_version_3_with_reason_and_refuses_later_changes(
    hub: RunningHub,
) -> None:
    ref = "NL-2026-0200"
    amended = dual_use_payload(ref, goods_description="Exposure tool, refurbished")
    async with hub.client("nl") as nl:
        await nl.submit_denial(dual_use_payload(ref))
        v2 = await nl.amend_denial(ref, amended)
        v3 = await nl.revoke_denial(
            ref, "Licence granted on appeal; denial withdrawn", effective=today(hub)
        )
        writes = event_count(hub)

        assert v3.version == 3
        assert v3.change == denial_pb2.REVOKE
        assert v3.status == REVOKED
        assert v3.revocation_reason == "Licence granted on appeal; denial withdrawn"
        assert v3.log_index > v2.log_index
        assert v3.envelope.payload == v2.envelope.payload
        assert v3.HasField("change_envelope")
        statement = denial_pb2.DenialStatusChange.FromString(v3.change_envelope.payload)
        assert statement.change == denial_pb2.REVOKE
        assert statement.reason == v3.revocation_reason

        got = await nl.get_denial(ref, versions=True)
        assert got.denial.status == REVOKED
        assert got.denial.revocation_reason == v3.revocation_reason

        error = await refused(
            nl.renew_denial(ref, effective=today(hub)), grpc.StatusCode.FAILED_PRECONDITION
        )
        assert "revoked" in error.message
        await refused(nl.amend_denial(ref, amended), grpc.StatusCode.FAILED_PRECONDITION)
        await refused(
            nl.revoke_denial(ref, "again", effective=today(hub)),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        after = await nl.get_denial(ref, versions=True)

    assert [v.version for v in after.versions] == [1, 2, 3]
    assert after.denial == got.denial
    assert event_count(hub) == writes


# Renew


async def test_renewing_an_active_denial_moves_valid_until_to_three_years_after_the_effective_date(
    hub: RunningHub,
) -> None:
    ref = "NL-2026-0300"
    async with hub.client("nl") as nl:
        v1 = await nl.submit_denial(dual_use_payload(ref, denial_date="2026-11-25"))
        assert v1.valid_until == "2029-11-25"
        move_clock_to(hub, dt.date(2028, 1, 10))
        v2 = await nl.renew_denial(ref, reason="Reviewed", effective=dt.date(2028, 1, 5))
        got = await nl.get_denial(ref)

    assert v2.version == 2
    assert v2.change == denial_pb2.RENEW
    assert v2.status == ACTIVE
    assert v2.valid_until == "2031-01-05"
    assert v2.envelope == v1.envelope
    assert v2.revocation_reason == ""
    assert got.denial == v2


async def test_amending_after_a_renewal_keeps_the_renewed_validity(hub: RunningHub) -> None:
    ref = "NL-2026-0310"
    async with hub.client("nl") as nl:
        await nl.submit_denial(dual_use_payload(ref, denial_date="2026-11-25"))
        move_clock_to(hub, dt.date(2028, 6, 1))
        renewed = await nl.renew_denial(ref, effective=today(hub))
        amended = await nl.amend_denial(
            ref, dual_use_payload(ref, denial_date="2026-11-25", quantity="2 units")
        )

    assert renewed.valid_until == "2031-06-01"
    assert amended.version == 3
    assert amended.status == ACTIVE
    assert amended.valid_until == "2031-06-01"


async def test_a_renewed_denial_can_still_be_amended_after_its_original_three_years(
    hub: RunningHub,
) -> None:
    # Denied 2023-12-10: in force until 2026-12-10 unless renewed. Renewed on 2026-12-05, it is in
    # force until 2029-12-05, and the issuer may amend it at any time while it is in force.
    ref = "NL-2023-0001"
    async with hub.client("nl") as nl:
        await nl.submit_denial(dual_use_payload(ref, denial_date="2023-12-10"))
        move_clock_to(hub, dt.date(2026, 12, 5))
        await nl.renew_denial(ref, effective=today(hub))
        move_clock_to(hub, dt.date(2026, 12, 20))
        assert (await nl.get_denial(ref)).denial.status == ACTIVE
        amended = await nl.amend_denial(
            ref, dual_use_payload(ref, denial_date="2023-12-10", quantity="3 units")
        )

    assert amended.version == 3
    assert amended.status == ACTIVE
    assert amended.valid_until == "2029-12-05"


# Expiry


async def test_expiry_status_filters_amendment_and_renewal(hub: RunningHub) -> None:
    start = today(hub)
    # Each denial date is as old as the hub still accepts, so valid_until is today.
    oldest = start.replace(year=start.year - 3)
    lapsing, revoked = "NL-2023-0010", "NL-2023-0011"
    async with hub.client("nl") as nl, hub.client("de") as de:
        a = await nl.submit_denial(dual_use_payload(lapsing, denial_date=oldest.isoformat()))
        b = await nl.submit_denial(dual_use_payload(revoked, denial_date=oldest.isoformat()))
        await nl.revoke_denial(revoked, "Withdrawn", effective=start)
        assert a.valid_until == b.valid_until == start.isoformat()

        # The last day in force is still ACTIVE.
        assert (await de.get_denial(lapsing)).denial.status == ACTIVE
        assert [d.reference for d in await listed(de, status=ACTIVE)] == [lapsing]
        assert await listed(de, status=EXPIRED) == []

        hub.clock.advance(dt.timedelta(days=1))
        fresh = "NL-2026-0400"
        await nl.submit_denial(dual_use_payload(fresh, denial_date=today(hub).isoformat()))

        got = await de.get_denial(lapsing, versions=True)
        assert got.denial.status == EXPIRED
        assert got.versions[-1].status == EXPIRED
        assert (await de.get_denial(revoked)).denial.status == REVOKED
        statuses = {d.reference: d.status for d in await listed(de)}
        assert statuses == {lapsing: EXPIRED, revoked: REVOKED, fresh: ACTIVE}
        assert [d.reference for d in await listed(de, status=ACTIVE)] == [fresh]
        assert [d.reference for d in await listed(de, status=EXPIRED)] == [lapsing]
        assert [d.reference for d in await listed(de, status=REVOKED)] == [revoked]

        # An expired denial cannot be amended, not even into a fresh denial date.
        writes = event_count(hub)
        await refused(
            nl.amend_denial(lapsing, dual_use_payload(lapsing, denial_date=today(hub).isoformat())),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        with pytest.raises(RemoteError):
            await nl.amend_denial(
                lapsing, dual_use_payload(lapsing, denial_date=oldest.isoformat(), quantity="9")
            )
        assert event_count(hub) == writes

        # Renewal after review brings it back into force for three years from the renewal.
        renewed = await nl.renew_denial(lapsing, reason="Reviewed", effective=today(hub))
        assert renewed.version == 2
        assert renewed.status == ACTIVE
        assert renewed.valid_until == plus_years(today(hub), 3).isoformat()
        assert (await de.get_denial(lapsing)).denial.status == ACTIVE
        assert [d.reference for d in await listed(de, status=ACTIVE)] == [lapsing, fresh]
        assert await listed(de, status=EXPIRED) == []


# Recipients re-verify


async def test_a_recipient_reverifies_the_signature_of_every_version(hub: RunningHub) -> None:
    ref, renewed_ref = "NL-2026-0500", "NL-2026-0501"
    v1_payload = dual_use_payload(ref)
    v2_payload = dual_use_payload(ref, end_use="Stated: university research")
    async with hub.client("nl") as nl:
        first = await nl.submit_denial(v1_payload)
        await nl.amend_denial(ref, v2_payload)
        await nl.revoke_denial(ref, "Superseded", effective=today(hub))
        await nl.submit_denial(dual_use_payload(renewed_ref))
        await nl.renew_denial(renewed_ref, effective=today(hub))

    async with hub.client("de") as de:
        history = await de.get_denial(ref, versions=True)
        verified = [await de.verify_denial(v) for v in history.versions]
        renewal = await de.get_denial(renewed_ref, versions=True)
        for version in renewal.versions:
            assert (await de.verify_denial(version)).reference == renewed_ref
        for _, changes in await synced(de):
            for change in changes:
                await de.verify_denial(change)

    assert [v.version for v in history.versions] == [1, 2, 3]
    v2_signed = signed(v2_payload, first)
    assert verified == [signed(v1_payload), v2_signed, v2_signed]
    assert [v.change for v in renewal.versions] == [denial_pb2.SUBMIT, denial_pb2.RENEW]


def _flip_payload_byte(d: denial_pb2.Denial) -> None:
    data = bytearray(d.envelope.payload)
    data[len(data) // 2] ^= 0x01
    d.envelope.payload = bytes(data)


def _replace_payload(d: denial_pb2.Denial) -> None:
    payload = payload_of(d)
    payload.value_eur = 1
    d.envelope.payload = payload_bytes(payload)


def _append_to_payload(d: denial_pb2.Denial) -> None:
    d.envelope.payload += denial_pb2.DenialPayload(quantity="0 units").SerializeToString()


def _flip_signature(d: denial_pb2.Denial) -> None:
    sig = bytearray(d.envelope.signatures[0].sig)
    sig[0] ^= 0x80
    d.envelope.signatures[0].sig = bytes(sig)


def _misreport_signer(d: denial_pb2.Denial) -> None:
    d.signer = "de"


def _alter_revocation_statement(d: denial_pb2.Denial) -> None:
    statement = denial_pb2.DenialStatusChange.FromString(d.change_envelope.payload)
    statement.reason = "Something else"
    d.change_envelope.payload = statement.SerializeToString(deterministic=True)


def _drop_signatures(d: denial_pb2.Denial) -> None:
    del d.envelope.signatures[:]


@pytest.mark.parametrize(
    "tamper",
    [
        pytest.param(_flip_payload_byte, id="payload-byte-flipped"),
        pytest.param(_replace_payload, id="payload-re-encoded-with-new-value"),
        pytest.param(_append_to_payload, id="payload-field-appended"),
        pytest.param(_flip_signature, id="signature-altered"),
        pytest.param(_drop_signatures, id="signature-removed"),
        pytest.param(_misreport_signer, id="signer-misreported"),
        pytest.param(_alter_revocation_statement, id="revocation-statement-altered"),
    ],
)
async def test_tampering_with_a_returned_record_fails_verification(
    hub: RunningHub, tamper: Callable[[denial_pb2.Denial], None]
) -> None:
    ref = "NL-2026-0600"
    async with hub.client("nl") as nl:
        await nl.submit_denial(dual_use_payload(ref))
        await nl.revoke_denial(ref, "Withdrawn", effective=today(hub))
    async with hub.client("de") as de:
        record = (await de.get_denial(ref)).denial
        assert (await de.verify_denial(record)).reference == ref
        tampered = denial_pb2.Denial()
        tampered.CopyFrom(record)
        tamper(tampered)
        assert tampered != record
        with pytest.raises(VerificationError):
            await de.verify_denial(tampered)


# Listing


async def _seed_for_filters(hub: RunningHub) -> None:
    async with hub.client("nl") as nl, hub.client("de") as de, hub.client("fr") as fr:
        await nl.submit_denial(dual_use_payload("NL-2026-0701", destination_country="RU"))
        await nl.submit_denial(dual_use_payload("NL-2026-0702", destination_country="EL"))
        await nl.submit_denial(military_payload("NL-2026-0703", "NL", destination_country="AE"))
        await de.submit_denial(military_payload("DE-2026-0701", "DE", destination_country="GR"))
        await de.submit_denial(dual_use_payload("DE-2026-0702", "DE", destination_country="CN"))
        await fr.submit_denial(military_payload("FR-2026-0701", "FR", destination_country="RU"))
        await de.revoke_denial("DE-2026-0701", "Withdrawn", effective=today(hub))


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        pytest.param(
            {}, ["NL-0701", "NL-0702", "NL-0703", "DE-0701", "DE-0702", "FR-0701"], id="no-filter"
        ),
        pytest.param({"issuing_state": "NL"}, ["NL-0701", "NL-0702", "NL-0703"], id="state-NL"),
        pytest.param({"issuing_state": "DE"}, ["DE-0701", "DE-0702"], id="state-DE"),
        pytest.param({"destination_country": "GR"}, ["NL-0702", "DE-0701"], id="destination-GR"),
        pytest.param(
            {"destination_country": "EL"}, ["NL-0702", "DE-0701"], id="destination-EL-means-GR"
        ),
        pytest.param({"destination_country": "RU"}, ["NL-0701", "FR-0701"], id="destination-RU"),
        pytest.param({"regime": MILITARY}, ["NL-0703", "DE-0701", "FR-0701"], id="military"),
        pytest.param({"regime": DUAL_USE}, ["NL-0701", "NL-0702", "DE-0702"], id="dual-use"),
        pytest.param({"status": REVOKED}, ["DE-0701"], id="revoked"),
        pytest.param(
            {"status": ACTIVE},
            ["NL-0701", "NL-0702", "NL-0703", "DE-0702", "FR-0701"],
            id="active",
        ),
        pytest.param({"status": EXPIRED}, [], id="expired-none"),
        pytest.param(
            {"issuing_state": "NL", "regime": DUAL_USE, "destination_country": "EL"},
            ["NL-0702"],
            id="state-regime-destination",
        ),
        pytest.param(
            {"regime": MILITARY, "status": ACTIVE}, ["NL-0703", "FR-0701"], id="military-active"
        ),
    ],
)
async def test_list_denials_filters(
    hub: RunningHub, filters: dict[str, Any], expected: list[str]
) -> None:
    await _seed_for_filters(hub)
    async with hub.client("it") as reader:
        found = await listed(reader, **filters)
    refs = [d.reference for d in found]
    assert refs == [f"{short[:2]}-2026-{short[3:]}" for short in expected]


async def test_greek_destination_is_stored_as_gr_but_signed_as_sent(hub: RunningHub) -> None:
    payload = dual_use_payload("NL-2026-0710", destination_country="EL")
    async with hub.client("nl") as nl:
        await nl.submit_denial(payload)
        got = await nl.get_denial("NL-2026-0710")
    [(stored,)] = query(hub, "SELECT destination_country FROM denials")
    assert stored == "GR"
    assert got.denial.envelope.payload == payload_bytes(payload)
    assert payload_of(got.denial).destination_country == "EL"


@pytest.mark.parametrize(
    ("filters", "field"),
    [
        pytest.param({"destination_country": "ZZ"}, "destination_country", id="unknown-country"),
        pytest.param({"issuing_state": "nl"}, "issuing_state", id="lowercase-state"),
    ],
)
async def test_list_denials_refuses_bad_country_filters(
    hub: RunningHub, filters: dict[str, Any], field: str
) -> None:
    async with hub.client("nl") as nl:
        error = await refused(listed(nl, **filters), grpc.StatusCode.INVALID_ARGUMENT)
    assert [f for f, _ in error.violations] == [field]


@pytest.mark.parametrize(
    ("count", "pages"),
    [
        pytest.param(25, [7, 7, 7, 4], id="25-denials"),
        pytest.param(21, [7, 7, 7], id="21-denials-exact-multiple"),
    ],
)
async def test_pagination_returns_every_denial_exactly_once_in_order(
    hub: RunningHub, count: int, pages: list[int]
) -> None:
    refs = [f"NL-2026-P{i:03d}" for i in range(count)]
    async with hub.client("nl") as nl:
        for ref in refs:
            await nl.submit_denial(dual_use_payload(ref))
        followed = [d.reference for d in await listed(nl, page_size=7)]

    sizes: list[int] = []
    seen: list[str] = []
    token = ""
    async with raw_denials(hub, "de") as stub:
        while True:
            page = await stub.ListDenials(
                denial_pb2.ListDenialsRequest(page_size=7, page_token=token)
            )
            sizes.append(len(page.denials))
            seen += [d.reference for d in page.denials]
            token = page.next_page_token
            if not token:
                break

    assert sizes == pages
    assert seen == refs
    assert followed == refs


async def test_pagination_with_a_status_filter(hub: RunningHub) -> None:
    refs = [f"NL-2026-Q{i:03d}" for i in range(25)]
    async with hub.client("nl") as nl:
        for ref in refs:
            await nl.submit_denial(dual_use_payload(ref))
        for ref in refs[::3]:
            await nl.revoke_denial(ref, "Withdrawn", effective=today(hub))
        revoked = [d.reference for d in await listed(nl, status=REVOKED, page_size=3)]
        active = [d.reference for d in await listed(nl, status=ACTIVE, page_size=4)]
    assert revoked == refs[::3]
    assert active == [r for r in refs if r not in refs[::3]]


async def test_a_page_token_that_was_not_issued_is_invalid_argument(hub: RunningHub) -> None:
    async with raw_denials(hub, "nl") as stub:
        with pytest.raises(grpc.aio.AioRpcError) as info:
            await stub.ListDenials(denial_pb2.ListDenialsRequest(page_token="not-a-token"))
    assert info.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "page_token" in (info.value.details() or "")


# Sync


async def _history(hub: RunningHub) -> list[tuple[str, int, int]]:
    """Writes by NL and DE in a known order; returns (reference, version, regime) in order."""
    async with hub.client("nl") as nl, hub.client("de") as de:
        await nl.submit_denial(dual_use_payload("NL-2026-0801"))
        await de.submit_denial(military_payload("DE-2026-0801"))
        await nl.amend_denial("NL-2026-0801", dual_use_payload("NL-2026-0801", quantity="2"))
        await de.submit_denial(dual_use_payload("DE-2026-0802", "DE"))
        await nl.submit_denial(military_payload("NL-2026-0802", "NL"))
        await de.amend_denial("DE-2026-0801", military_payload("DE-2026-0801", quantity="8"))
        await nl.revoke_denial("NL-2026-0801", "Withdrawn", effective=today(hub))
        await de.renew_denial("DE-2026-0802", effective=today(hub))
        await de.revoke_denial("DE-2026-0801", "Withdrawn", effective=today(hub))
    return [
        ("NL-2026-0801", 1, DUAL_USE),
        ("DE-2026-0801", 1, MILITARY),
        ("NL-2026-0801", 2, DUAL_USE),
        ("DE-2026-0802", 1, DUAL_USE),
        ("NL-2026-0802", 1, MILITARY),
        ("DE-2026-0801", 2, MILITARY),
        ("NL-2026-0801", 3, DUAL_USE),
        ("DE-2026-0802", 2, DUAL_USE),
        ("DE-2026-0801", 3, MILITARY),
    ]


@pytest.mark.parametrize(
    ("reader", "regimes"),
    [
        pytest.param("de", {MILITARY, DUAL_USE}, id="authority-sees-both-regimes"),
        pytest.param("commission", {DUAL_USE}, id="commission-sees-dual-use-only"),
    ],
)
async def test_sync_from_the_start_returns_every_visible_change_in_order(
    hub: RunningHub, reader: str, regimes: set[int]
) -> None:
    history = await _history(hub)
    async with hub.client(reader) as client:
        one_by_one = await synced(client, batch_size=1)
        batched = await synced(client)
    expected_refs = [(ref, version) for ref, version, regime in history if regime in regimes]

    changes = [c for _, batch in one_by_one for c in batch]
    assert all(len(batch) == 1 for _, batch in one_by_one)
    assert [(c.reference, c.version) for c in changes] == expected_refs
    assert {c.regime for c in changes} == regimes
    cursors = [cursor for cursor, _ in one_by_one]
    assert len(set(cursors)) == len(cursors)
    log_indexes = [c.log_index for c in changes]
    assert log_indexes == sorted(set(log_indexes))
    assert [c for _, batch in batched for c in batch] == changes
    assert batched[-1][0] == one_by_one[-1][0]
    assert {c.change for c in changes} >= {denial_pb2.SUBMIT, denial_pb2.AMEND, denial_pb2.REVOKE}


@pytest.mark.parametrize("reader", ["de", "commission"])
async def test_sync_resumed_from_any_cursor_returns_exactly_the_rest(
    hub: RunningHub, reader: str
) -> None:
    await _history(hub)
    async with hub.client(reader) as client:
        steps = await synced(client, batch_size=1)
        changes = [batch[0] for _, batch in steps]
        for i, (cursor, _) in enumerate(steps):
            rest = [c for _, batch in await synced(client, cursor) for c in batch]
            assert rest == changes[i + 1 :], f"resuming after change {i}"
        done = 0
        for cursor, batch in await synced(client, batch_size=3):
            done += len(batch)
            rest = [c for _, b in await synced(client, cursor, batch_size=3) for c in b]
            assert rest == changes[done:], f"resuming after {done} changes in batches of 3"
        assert done == len(changes)
        hub.clock.advance(dt.timedelta(minutes=5))
    async with hub.client("nl") as nl:
        later = await nl.submit_denial(dual_use_payload("NL-2026-0899"))
    async with hub.client(reader) as client:
        tail = await synced(client, steps[-1][0])
    assert [c for _, batch in tail for c in batch] == [later]


async def test_sync_refuses_a_cursor_it_did_not_issue(hub: RunningHub) -> None:
    async with hub.client("nl") as nl:
        error = await refused(synced(nl, "not-a-cursor"), grpc.StatusCode.INVALID_ARGUMENT)
    assert [f for f, _ in error.violations] == ["cursor"]


async def test_commission_cannot_read_military_denials(hub: RunningHub) -> None:
    async with hub.client("de") as de:
        await de.submit_denial(military_payload("DE-2026-0901"))
        await de.submit_denial(dual_use_payload("DE-2026-0902", "DE"))
    async with hub.client("commission") as commission:
        await refused(commission.get_denial("DE-2026-0901"), grpc.StatusCode.NOT_FOUND)
        refs = [d.reference for d in await listed(commission)]
        dual = await commission.get_denial("DE-2026-0902")
        assert (await commission.verify_denial(dual.denial)).reference == "DE-2026-0902"
    assert refs == ["DE-2026-0902"]


# Idempotent retries


async def _submit(nl: EcxClient, hub: RunningHub, request_id: str) -> denial_pb2.Denial:
    return await nl.submit_denial(dual_use_payload("NL-2026-1000"), request_id=request_id)


async def _amend(nl: EcxClient, hub: RunningHub, request_id: str) -> denial_pb2.Denial:
    payload = dual_use_payload("NL-2026-1000", quantity="5 units")
    return await nl.amend_denial("NL-2026-1000", payload, request_id=request_id)


async def _revoke(nl: EcxClient, hub: RunningHub, request_id: str) -> denial_pb2.Denial:
    return await nl.revoke_denial(
        "NL-2026-1000", "Withdrawn", effective=TODAY, request_id=request_id
    )


async def _renew(nl: EcxClient, hub: RunningHub, request_id: str) -> denial_pb2.Denial:
    return await nl.renew_denial("NL-2026-1000", effective=TODAY, request_id=request_id)


Operation = Callable[[EcxClient, RunningHub, str], Awaitable[denial_pb2.Denial]]


@pytest.mark.parametrize(
    ("operation", "version"),
    [
        pytest.param(_submit, 1, id="submit"),
        pytest.param(_amend, 2, id="amend"),
        pytest.param(_renew, 2, id="renew"),
        pytest.param(_revoke, 2, id="revoke"),
    ],
)
async def test_a_retry_with_the_same_request_id_returns_the_first_result(
    hub: RunningHub, operation: Operation, version: int
) -> None:
    async with hub.client("nl") as nl:
        if operation is not _submit:
            await nl.submit_denial(dual_use_payload("NL-2026-1000"))
        first = await operation(nl, hub, "retry-0001")
        writes = event_count(hub)
        hub.clock.advance(dt.timedelta(minutes=1))
        again = await operation(nl, hub, "retry-0001")
        hub.clock.advance(dt.timedelta(minutes=1))
        third = await operation(nl, hub, "retry-0001")
        got = await nl.get_denial("NL-2026-1000", versions=True)

    assert first.version == version
    assert again == first
    assert third == first
    assert again.log_index == first.log_index
    assert event_count(hub) == writes
    assert [v.version for v in got.versions] == list(range(1, version + 1))
    assert query(hub, "SELECT COUNT(*) FROM idempotency WHERE request_id = 'retry-0001'") == [(1,)]


async def test_a_retry_still_returns_the_first_result_after_later_changes(
    hub: RunningHub,
) -> None:
    async with hub.client("nl") as nl:
        submitted = await _submit(nl, hub, "req-submit")
        amended = await _amend(nl, hub, "req-amend")
        await _revoke(nl, hub, "req-revoke")
        writes = event_count(hub)
        assert await _submit(nl, hub, "req-submit") == submitted
        assert await _amend(nl, hub, "req-amend") == amended
    assert event_count(hub) == writes


async def test_a_request_id_reused_for_a_different_request_is_refused(hub: RunningHub) -> None:
    async with hub.client("nl") as nl:
        await nl.submit_denial(dual_use_payload("NL-2026-1100"), request_id="same-id")
        writes = event_count(hub)
        error = await refused(
            nl.submit_denial(dual_use_payload("NL-2026-1101"), request_id="same-id"),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        await refused(nl.get_denial("NL-2026-1101"), grpc.StatusCode.NOT_FOUND)
    assert [f for f, _ in error.violations] == ["request_id"]
    assert event_count(hub) == writes


async def test_request_ids_belong_to_their_caller(hub: RunningHub) -> None:
    async with hub.client("nl") as nl, hub.client("de") as de:
        mine = await nl.submit_denial(dual_use_payload("NL-2026-1200"), request_id="shared")
        theirs = await de.submit_denial(military_payload("DE-2026-1200"), request_id="shared")
    assert theirs.reference == "DE-2026-1200"
    assert theirs.log_index != mine.log_index


@pytest.mark.parametrize(
    "changed",
    [
        pytest.param({}, id="same-payload"),
        pytest.param({"goods_description": "Another tool"}, id="different-payload"),
    ],
)
async def test_a_known_reference_under_a_new_request_id_is_already_exists(
    hub: RunningHub, changed: dict[str, Any]
) -> None:
    async with hub.client("nl") as nl:
        first = await nl.submit_denial(dual_use_payload("NL-2026-1300"), request_id="first")
        writes = event_count(hub)
        await refused(
            nl.submit_denial(dual_use_payload("NL-2026-1300", **changed), request_id="second"),
            grpc.StatusCode.ALREADY_EXISTS,
        )
        got = await nl.get_denial("NL-2026-1300", versions=True)
    assert list(got.versions) == [first]
    assert event_count(hub) == writes
    assert query(hub, "SELECT request_id FROM idempotency") == [("first",)]


# Log indexes and the store file


async def test_log_indexes_are_distinct_and_increasing_across_writes(hub: RunningHub) -> None:
    async with hub.client("nl") as nl, hub.client("de") as de:
        results = [
            await nl.submit_denial(dual_use_payload("NL-2026-1400")),
            await de.submit_denial(military_payload("DE-2026-1400")),
            await nl.amend_denial("NL-2026-1400", dual_use_payload("NL-2026-1400", quantity="7")),
            await de.renew_denial("DE-2026-1400", effective=today(hub)),
            await nl.revoke_denial("NL-2026-1400", "Withdrawn", effective=today(hub)),
            await nl.submit_denial(dual_use_payload("NL-2026-1401")),
        ]
    indexes = [d.log_index for d in results]
    assert indexes == sorted(set(indexes))
    rows = [(e.index, list(e.object_ids)) for e in logged_writes(hub)]
    assert rows == [(d.log_index, [f"denial:{d.reference}:v{d.version}"]) for d in results]


async def test_the_store_file_holds_one_event_per_acknowledged_write_and_every_version(
    hub: RunningHub,
) -> None:
    acknowledged: list[tuple[denial_pb2.Denial, str, bytes]] = []
    async with hub.client("nl") as nl, hub.client("de") as de:
        p1 = dual_use_payload("NL-2026-1500")
        acknowledged.append((await nl.submit_denial(p1), "SubmitDenial", payload_bytes(p1)))
        p2 = military_payload("DE-2026-1500")
        acknowledged.append((await de.submit_denial(p2), "SubmitDenial", payload_bytes(p2)))
        p3 = dual_use_payload("NL-2026-1500", quantity="3 units")
        acknowledged.append(
            (
                await nl.amend_denial("NL-2026-1500", p3),
                "AmendDenial",
                payload_bytes(p3, acknowledged[0][0]),
            )
        )
        revoked = await nl.revoke_denial("NL-2026-1500", "Withdrawn", effective=today(hub))
        acknowledged.append((revoked, "RevokeDenial", revoked.change_envelope.payload))
        renewed = await de.renew_denial("DE-2026-1500", effective=today(hub))
        acknowledged.append((renewed, "RenewDenial", renewed.change_envelope.payload))

        # Refused writes leave nothing behind.
        await refused(nl.submit_denial(p1), grpc.StatusCode.ALREADY_EXISTS)
        await refused(
            nl.renew_denial("NL-2026-1500", effective=today(hub)),
            grpc.StatusCode.FAILED_PRECONDITION,
        )
        await refused(
            nl.submit_denial(dual_use_payload("NL-2026-1501", destination_country="ZZ")),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        await refused(nl.amend_denial("NL-2026-1599", p3), grpc.StatusCode.NOT_FOUND)
        histories = {
            ref: list((await de.get_denial(ref, versions=True)).versions)
            for ref in ("NL-2026-1500", "DE-2026-1500")
        }

    entries = logged_writes(hub)
    assert [
        (e.index, e.actor, e.action, list(e.object_ids), e.payload_sha256) for e in entries
    ] == [
        (
            d.log_index,
            d.signer,
            action,
            [f"denial:{d.reference}:v{d.version}"],
            hashlib.sha256(signed).digest(),
        )
        for d, action, signed in acknowledged
    ]
    assert [e.SerializeToString(deterministic=True) for e in entries] == [
        d.log_entry for d, _, _ in acknowledged
    ]
    assert query(hub, "SELECT COUNT(*) FROM idempotency") == [(len(acknowledged),)]

    versions = query(
        hub,
        "SELECT d.reference, v.version, v.record FROM denial_versions v"
        " JOIN denials d ON d.id = v.denial_id ORDER BY v.seq",
    )
    assert [(ref, version) for ref, version, _ in versions] == [
        (d.reference, d.version) for d, _, _ in acknowledged
    ]
    for ref, version, record in versions:
        # Stored as the one change of a SyncDenialsResponse, byte for byte.
        stored = denial_pb2.SyncDenialsResponse.FromString(record)
        assert list(stored.changes) == [histories[ref][version - 1]]
        assert stored.SerializeToString() == record
    assert query(hub, "SELECT reference, version FROM denials ORDER BY id") == [
        ("NL-2026-1500", 3),
        ("DE-2026-1500", 2),
    ]
    assert query(hub, "PRAGMA journal_mode") == [("wal",)]


async def test_a_store_written_before_versions_were_stored_as_changes_reads_the_same(
    pki: DevPki, tmp_path: Path
) -> None:
    clock = FixedClock(START)
    store = tmp_path / "ecx.db"
    config = hub_config(pki, store)

    async def seen(hub: RunningHub) -> list[Any]:
        async with hub.client("de") as de:
            return [
                [
                    await de.get_denial(ref, versions=True)
                    for ref in ("NL-2026-0801", "DE-2026-0801")
                ],
                await listed(de),
                await synced(de),
                await synced(de, batch_size=2),
            ]

    async with Hub(config, clock=clock) as running:
        hub = RunningHub(running, pki, clock, store)
        await _history(hub)
        before = await seen(hub)
    with contextlib.closing(sqlite3.connect(store)) as db, db:
        # Back to the bare Denial per version, as the hub stored it before migration 6.
        db.create_function("bare", 1, version_record)
        db.execute("UPDATE denial_versions SET record = bare(record)")
        db.execute("DELETE FROM schema_migrations WHERE version = 6")
        (record,) = db.execute("SELECT record FROM denial_versions LIMIT 1").fetchone()
        assert denial_pb2.Denial.FromString(record).reference == "NL-2026-0801"

    async with Hub(config, clock=clock) as running:
        hub = RunningHub(running, pki, clock, store)
        assert await seen(hub) == before
        async with hub.client("nl") as nl:
            renewed = await nl.renew_denial("NL-2026-0802", effective=today(hub))
        assert renewed.version == 2
        versions = query(hub, "SELECT record FROM denial_versions ORDER BY seq")
        assert [version_record(r) for (r,) in versions[:-1]] == [
            c.SerializeToString() for _, batch in before[2] for c in batch
        ]


async def test_idempotency_records_of_a_store_from_before_migration_10_still_answer_retries(
    pki: DevPki, tmp_path: Path
) -> None:
    clock = FixedClock(START)
    store = tmp_path / "ecx.db"
    config = hub_config(pki, store)
    async with Hub(config, clock=clock) as running:
        hub = RunningHub(running, pki, clock, store)
        async with hub.client("nl") as nl:
            first = await _submit(nl, hub, "before-10")
            amended = await _amend(nl, hub, "amend-before-10")
    with contextlib.closing(sqlite3.connect(store)) as db, db:
        records = db.execute(
            "SELECT caller, request_id, method, request_sha256, response, created_at"
            " FROM idempotency ORDER BY id"
        ).fetchall()
        # The table as migration 1 made it: clustered on its key.
        db.execute("DROP TABLE idempotency")
        db.execute(
            "CREATE TABLE idempotency (caller TEXT NOT NULL, request_id TEXT NOT NULL,"
            " method TEXT NOT NULL, request_sha256 BLOB NOT NULL, response BLOB NOT NULL,"
            " created_at TEXT NOT NULL, PRIMARY KEY (caller, request_id)) WITHOUT ROWID"
        )
        db.executemany("INSERT INTO idempotency VALUES (?, ?, ?, ?, ?, ?)", records)
        db.execute("DELETE FROM schema_migrations WHERE version = 10")
    assert [r[1] for r in records] == ["before-10", "amend-before-10"]

    async with Hub(config, clock=clock) as running:
        hub = RunningHub(running, pki, clock, store)
        migrated = query(
            hub,
            "SELECT caller, request_id, method, request_sha256, response, created_at"
            " FROM idempotency ORDER BY id",
        )
        assert migrated == records
        writes = event_count(hub)
        async with hub.client("nl") as nl:
            assert await _submit(nl, hub, "before-10") == first
            assert await _amend(nl, hub, "amend-before-10") == amended
            await refused(
                nl.amend_denial(
                    "NL-2026-1000",
                    dual_use_payload("NL-2026-1000", quantity="9 units"),
                    request_id="amend-before-10",
                ),
                grpc.StatusCode.INVALID_ARGUMENT,
            )
            again = await _amend(nl, hub, "amend-after-10")
        assert again.version == 3
        assert event_count(hub) == writes + 1


async def test_a_store_migrated_by_a_newer_hub_is_not_opened(tmp_path: Path) -> None:
    """An older hub would write such a store without what the newer one keeps up to date."""
    store = tmp_path / "ecx.db"
    async with sqlite_store.SqliteStore(store):
        pass
    newest = max(version for version, _ in sqlite_store.migrations())
    with contextlib.closing(sqlite3.connect(store)) as db, db:
        db.execute("INSERT INTO schema_migrations (version) VALUES (?)", (newest + 1,))
        before = db.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    with pytest.raises(StoreUnavailable, match=f"schema version {newest + 1}, newer than"):
        await sqlite_store.SqliteStore(store).open()
    with contextlib.closing(sqlite3.connect(store)) as db:
        after = db.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()
    assert after == before


async def test_a_sync_that_names_no_batch_size_gets_pages_of_the_hubs_limit(
    pki: DevPki, tmp_path: Path
) -> None:
    clock = FixedClock(START)
    store = tmp_path / "ecx.db"
    async with Hub(hub_config(pki, store, max_sync_batch=600), clock=clock) as running:
        hub = RunningHub(running, pki, clock, store)
        async with hub.client("nl") as nl:
            await asyncio.gather(
                *(nl.submit_denial(dual_use_payload(f"NL-2026-B{i:04d}")) for i in range(601))
            )
        async with hub.client("de") as de:
            sizes = [len(batch) for _, batch in await synced(de)]
            fewer = [len(batch) for _, batch in await synced(de, batch_size=250)]
    assert sizes == [600, 1]
    assert fewer == [250, 250, 101]


async def test_a_sync_page_stays_under_the_message_size_bound(
    hub: RunningHub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Versions per message are bounded by size too: a page that would be larger is cut, and
    the sync goes on after it rather than ending there."""
    async with hub.client("nl") as nl:
        for i in range(12):
            await nl.submit_denial(
                dual_use_payload(f"NL-2026-S{i:03d}", goods_description=f"Item {i} " + "x" * 900)
            )
        await _submit(nl, hub, "submit-s")
        await _amend(nl, hub, "amend-s")
    async with hub.client("de") as de:
        whole = [c for _, batch in await synced(de) for c in batch]
        monkeypatch.setattr(sqlite_queries, "_PAGE_BYTES", 4_000)
        # one page per read of the store, so that each cut page is where reading resumes
        monkeypatch.setattr(sqlite_queries, "_CHANGES_PER_HANDOFF", 1)
        responses = [r async for r in de.sync_denials()]
    assert len(whole) == 14
    sizes = [len(r.SerializeToString()) - len(r.cursor) - 2 for r in responses]
    assert all(size <= 4_000 for size in sizes), sizes
    assert len(responses) > 3
    assert [c for r in responses for c in r.changes] == whole
