"""The exchange log over real mutual TLS against the real store: which events become leaves, what a
leaf says (and never says), signed checkpoints, proofs, queries, and the `ecx audit` commands."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import os
import re
import sqlite3
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import load_pem_public_key
from google.protobuf.timestamp_pb2 import Timestamp

from certs.devpki import DevPki
from client.api import EcxClient
from client.core.checkpoint import CheckpointError, verifier_key, verify_checkpoint
from client.core.envelope import DENIAL_PAYLOAD_TYPE, sign
from client.core.merkle import (
    ProofError,
    TreeBuilder,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from client.errors import RemoteError, VerificationError
from client.identity import Identity
from ecx.v1 import audit_pb2, audit_pb2_grpc, denial_pb2, denial_pb2_grpc
from server.app import Hub
from server.clock import FixedClock
from tests.helpers import (
    ROOT,
    START,
    TODAY,
    HubProcess,
    RunningHub,
    dual_use_payload,
    hub_config,
    hub_process,
    military_payload,
    submitted_by_nl,
)

REF = "NL-2026-L001"

# Helpers: the log as the auditor sees it, and raw stubs for calls whose exact bytes matter.


async def log_entries(hub: RunningHub) -> list[bytes]:
    """Every entry of the log, in index order, as the auditor reads it."""
    async with hub.client("auditor") as auditor:
        checkpoint, _ = await auditor.audit.checkpoint()
        got = [e async for batch in auditor.audit.entries(0, checkpoint.size) for e in batch]
    assert [e.index for e in got] == list(range(checkpoint.size))
    return [e.entry for e in got]


async def decoded_log(hub: RunningHub) -> list[audit_pb2.LogEntry]:
    return [audit_pb2.LogEntry.FromString(e) for e in await log_entries(hub)]


async def log_size(hub: RunningHub) -> int:
    async with hub.client("auditor") as auditor:
        checkpoint, _ = await auditor.audit.checkpoint()
    return checkpoint.size


@dataclasses.dataclass
class Stubs:
    audit: Any
    denials: Any


@contextlib.asynccontextmanager
async def stubs(hub: RunningHub, name: str) -> AsyncIterator[Stubs]:
    identity = hub.identity(name)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=identity.ca_pem,
        private_key=identity.key_pem,
        certificate_chain=identity.cert_pem,
    )
    async with grpc.aio.secure_channel(hub.address, credentials) as channel:
        yield Stubs(
            audit_pb2_grpc.AuditServiceStub(channel),
            denial_pb2_grpc.DenialServiceStub(channel),
        )


def sha256(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def timestamp(when: dt.datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def pinned_log_key(pki: DevPki) -> ed25519.Ed25519PublicKey:
    """The hub's log key as distributed out of band, in every identity directory."""
    key = load_pem_public_key((pki.identity("auditor") / "log-key.pub").read_bytes())
    assert isinstance(key, ed25519.Ed25519PublicKey)
    return key


def roots_of(entries: list[bytes]) -> list[bytes]:
    """roots[m] is the root of the first m entries."""
    builder = TreeBuilder()
    roots = [builder.root()]
    for entry in entries:
        builder.append(leaf_hash(entry))
        roots.append(builder.root())
    return roots


# Every mutating RPC appends exactly one leaf, and the response points to it.

Mutation = Callable[[EcxClient, str, denial_pb2.Denial | None], Awaitable[denial_pb2.Denial]]


async def _submit(
    nl: EcxClient, request_id: str, follows: denial_pb2.Denial | None = None
) -> denial_pb2.Denial:
    return await nl.submit_denial(military_payload(REF, "NL"), request_id=request_id)


async def _amend(
    nl: EcxClient, request_id: str, follows: denial_pb2.Denial | None = None
) -> denial_pb2.Denial:
    amended = military_payload(REF, "NL", quantity="6 units")
    return await nl.amend_denial(REF, amended, request_id=request_id, follows=follows)


async def _revoke(
    nl: EcxClient, request_id: str, follows: denial_pb2.Denial | None = None
) -> denial_pb2.Denial:
    return await nl.revoke_denial(
        REF, "Licence granted on appeal", effective=TODAY, request_id=request_id, follows=follows
    )


async def _renew(
    nl: EcxClient, request_id: str, follows: denial_pb2.Denial | None = None
) -> denial_pb2.Denial:
    return await nl.renew_denial(
        REF, reason="Reviewed", effective=TODAY, request_id=request_id, follows=follows
    )


MUTATIONS: dict[str, tuple[Mutation, int]] = {
    "SubmitDenial": (_submit, 1),
    "AmendDenial": (_amend, 2),
    "RevokeDenial": (_revoke, 2),
    "RenewDenial": (_renew, 2),
}


@pytest.mark.parametrize("action", list(MUTATIONS))
async def test_a_mutation_appends_one_leaf_that_its_response_points_to(
    hub: RunningHub, action: str
) -> None:
    mutate, version = MUTATIONS[action]
    async with hub.client("de") as de:
        await de.submit_denial(military_payload("DE-2026-L000", "DE"))
    async with hub.client("nl") as nl:
        seeded = await _submit(nl, "seed") if action != "SubmitDenial" else None
        hub.clock.advance(dt.timedelta(minutes=5))
        before = await log_size(hub)
        denial = await mutate(nl, f"{action}-1", seeded)

        log = await log_entries(hub)
        assert len(log) == before + 1
        assert denial.log_index == before
        assert log[before] == denial.log_entry

        entry = audit_pb2.LogEntry.FromString(denial.log_entry)
        status_change = action in ("RevokeDenial", "RenewDenial")
        signed = denial.change_envelope if status_change else denial.envelope
        assert signed.payload
        assert entry.payload_sha256 == sha256(signed.payload)
        assert entry.index == before
        assert entry.time.ToDatetime(tzinfo=dt.UTC) == hub.clock.now()
        assert (entry.actor, entry.action, entry.outcome) == ("nl", action, "OK")
        assert list(entry.object_ids) == [f"denial:{REF}:v{version}"]
        assert list(entry.parties) == ["nl", "role:authority"]

        checkpoint = await nl.audit.prove_denial(denial)
        assert checkpoint.size == before + 1

        # A retry with the same request id answers the same and appends nothing.
        again = await mutate(nl, f"{action}-1", seeded)
    assert again == denial
    assert await log_size(hub) == before + 1


# Reads of denials are exchange events: one entry per GetDenial, ListDenials page, SyncDenials call.


@pytest.mark.parametrize(
    ("versions", "expected_objects"),
    [
        pytest.param(False, [f"denial:{REF}:v2"], id="latest-version"),
        pytest.param(True, [f"denial:{REF}:v1", f"denial:{REF}:v2"], id="with-versions"),
    ],
)
async def test_get_denial_appends_one_entry(
    hub: RunningHub, versions: bool, expected_objects: list[str]
) -> None:
    async with hub.client("nl") as nl:
        v1 = await _submit(nl, "s")
        await _amend(nl, "a", v1)
    before = await log_size(hub)
    async with stubs(hub, "de") as de:
        request = denial_pb2.GetDenialRequest(reference=REF, include_versions=versions)
        response = await de.denials.GetDenial(request)
    log = await decoded_log(hub)
    assert len(log) == before + 1
    entry = log[-1]
    assert (entry.index, entry.actor, entry.action, entry.outcome) == (
        before,
        "de",
        "GetDenial",
        "OK",
    )
    assert list(entry.object_ids) == expected_objects
    assert list(entry.parties) == ["nl"]
    assert entry.payload_sha256 == sha256(response.SerializeToString(deterministic=True))


async def test_each_list_page_appends_one_entry(hub: RunningHub) -> None:
    async with hub.client("nl") as nl, hub.client("de") as de:
        await nl.submit_denial(dual_use_payload("NL-2026-L101", "NL"))
        await de.submit_denial(military_payload("DE-2026-L102", "DE"))
        await nl.submit_denial(military_payload("NL-2026-L103", "NL"))
    expected_pages = [
        (["denial:NL-2026-L101:v1", "denial:DE-2026-L102:v1"], ["de", "nl"]),
        (["denial:NL-2026-L103:v1"], ["nl"]),
    ]
    token = ""
    async with stubs(hub, "fr") as fr:
        for objects, parties in expected_pages:
            before = await log_size(hub)
            page = await fr.denials.ListDenials(
                denial_pb2.ListDenialsRequest(page_size=2, page_token=token)
            )
            log = await decoded_log(hub)
            assert len(log) == before + 1
            entry = log[-1]
            assert (entry.actor, entry.action, entry.outcome) == ("fr", "ListDenials", "OK")
            assert list(entry.object_ids) == objects
            assert list(entry.parties) == parties
            assert entry.payload_sha256 == sha256(page.SerializeToString(deterministic=True))
            token = page.next_page_token
    assert token == ""


async def test_a_sync_call_appends_one_entry(hub: RunningHub) -> None:
    async with hub.client("nl") as nl, hub.client("de") as de:
        v1 = await _submit(nl, "s")
        await de.submit_denial(dual_use_payload("DE-2026-L201", "DE"))
        await _amend(nl, "a", v1)
    before = await log_size(hub)
    async with hub.client("commission") as commission:
        # Three versions in batches of two: two responses, one call, one entry.
        responses = [r async for r in commission.sync_denials(batch_size=2)]
        assert len(responses) == 1  # the Commission reads dual-use denials only
        log = await decoded_log(hub)
        assert len(log) == before + 1
        entry = log[-1]
        assert (entry.actor, entry.action, entry.outcome) == ("commission", "SyncDenials", "OK")
        # The range from the first version returned to the last, never by sequence number (the
        # Commission may read this entry, and the numbers would count military versions).
        assert list(entry.object_ids) == ["denial-changes:DE-2026-L201:v1..DE-2026-L201:v1"]
        assert list(entry.parties) == ["de"]
        # The range names what was returned; the digest is of the request that asked for it.
        request = denial_pb2.SyncDenialsRequest(batch_size=2)
        expected = hashlib.sha256(request.SerializeToString(deterministic=True)).digest()
        assert entry.payload_sha256 == expected

    async with hub.client("it") as it:
        responses = [r async for r in it.sync_denials(batch_size=2)]
        assert [len(r.changes) for r in responses] == [2, 1]
        log = await decoded_log(hub)
        assert len(log) == before + 2
        assert list(log[-1].object_ids) == [f"denial-changes:{REF}:v1..{REF}:v2"]
        assert list(log[-1].parties) == ["de", "nl"]

        # A call with nothing new is an event too.
        cursor = responses[-1].cursor
        assert [r async for r in it.sync_denials(cursor)] == []
    log = await decoded_log(hub)
    assert len(log) == before + 3
    assert (log[-1].actor, log[-1].action) == ("it", "SyncDenials")
    assert list(log[-1].object_ids) == []
    assert list(log[-1].parties) == []

    # The parties are the issuers of the versions in the range returned, and of no others.
    async with hub.client("es") as es:
        await es.submit_denial(military_payload("ES-2026-L301", "ES"))
    async with hub.client("it") as it:
        responses = [r async for r in it.sync_denials(cursor)]
    assert [len(r.changes) for r in responses] == [1]
    log = await decoded_log(hub)
    assert list(log[-1].object_ids) == ["denial-changes:ES-2026-L301:v1..ES-2026-L301:v1"]
    assert list(log[-1].parties) == ["es"]


# A refused call appends one entry with the refusal's status code.


@dataclasses.dataclass(frozen=True)
class Refusal:
    caller: str
    method: str
    request: Any
    code: grpc.StatusCode
    actor: str
    object_ids: list[str]
    # The owners of the object refused, who see the attempt.
    parties: list[str]


def _refusals(hub: RunningHub) -> dict[str, Refusal]:
    de_key = hub.identity("de").require_signing_key()
    nl_key = hub.identity("nl").require_signing_key()
    amended = military_payload(REF, "NL", quantity="6 units")
    submitted = military_payload("NL-2026-L301", "NL")
    return {
        "PERMISSION_DENIED": Refusal(
            "de",
            "AmendDenial",
            denial_pb2.AmendDenialRequest(
                request_id="amend-by-de",
                reference=REF,
                envelope=sign(
                    amended.SerializeToString(deterministic=True), DENIAL_PAYLOAD_TYPE, de_key
                ),
            ),
            grpc.StatusCode.PERMISSION_DENIED,
            "de",
            [f"denial:{REF}"],
            ["nl"],
        ),
        "INVALID_ARGUMENT": Refusal(
            "nl",
            "SubmitDenial",
            denial_pb2.SubmitDenialRequest(
                envelope=sign(
                    submitted.SerializeToString(deterministic=True), DENIAL_PAYLOAD_TYPE, nl_key
                )
            ),
            grpc.StatusCode.INVALID_ARGUMENT,
            "nl",
            [],
            [],
        ),
        "NOT_FOUND": Refusal(
            "de",
            "GetDenial",
            denial_pb2.GetDenialRequest(reference="NL-2026-0404"),
            grpc.StatusCode.NOT_FOUND,
            "de",
            ["denial:NL-2026-0404"],
            [],
        ),
    }


@pytest.mark.parametrize("kind", ["PERMISSION_DENIED", "INVALID_ARGUMENT", "NOT_FOUND"])
async def test_a_refused_call_appends_one_entry_with_its_status(hub: RunningHub, kind: str) -> None:
    async with hub.client("nl") as nl:
        await _submit(nl, "s")
    hub.clock.advance(dt.timedelta(minutes=1))
    refusal = _refusals(hub)[kind]
    before = await log_size(hub)
    async with stubs(hub, refusal.caller) as caller:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await getattr(caller.denials, refusal.method)(refusal.request)
    assert refused.value.code() == refusal.code

    log = await decoded_log(hub)
    assert len(log) == before + 1
    entry = log[-1]
    assert entry.index == before
    assert entry.time.ToDatetime(tzinfo=dt.UTC) == hub.clock.now()
    assert (entry.actor, entry.action, entry.outcome) == (
        refusal.actor,
        refusal.method,
        refusal.code.name,
    )
    assert list(entry.object_ids) == refusal.object_ids
    assert list(entry.parties) == refusal.parties
    assert entry.payload_sha256 == sha256(refusal.request.SerializeToString(deterministic=True))


async def test_a_refusal_before_authentication_is_counted_into_a_summary_entry(
    hub: RunningHub,
) -> None:
    before = await log_size(hub)
    async with stubs(hub, "revoked") as caller:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await caller.denials.GetDenial(denial_pb2.GetDenialRequest(reference=REF))
    assert refused.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert await log_size(hub) == before
    assert await hub.hub.refusals.flush() == 1
    log = await decoded_log(hub)
    assert len(log) == before + 1
    entry = log[-1]
    assert (entry.actor, entry.action, entry.outcome, entry.count) == (
        "unauthenticated",
        "GetDenial",
        "UNAUTHENTICATED",
        1,
    )
    assert [o.split(":")[0] for o in entry.object_ids] == ["peer-certificate"]


# No entry ever carries confidential content.

SECRETS = {
    "end_user": "Zephyrine Optronics Holding",
    "end_user_alias": "Zephyrine Procurement Bureau",
    "end_user_address": "17 Quillon Embankment",
    "consignee": "Marraquet Logistics Partners",
    "goods_description": "Cryogenically cooled quartzite seeker heads",
    "end_use": "Stated: glacier survey instruments",
    "explanation": "Procurement network of a listed entity",
    "amended_goods": "Vanadium-doped sapphire windows",
}


def _confidential_payload(reference: str, state: str, **fields: object) -> denial_pb2.DenialPayload:
    content: dict[str, object] = {
        "end_user": denial_pb2.Party(
            name=SECRETS["end_user"],
            aliases=[SECRETS["end_user_alias"]],
            address=SECRETS["end_user_address"],
            country="RU",
        ),
        "consignee": denial_pb2.Party(name=SECRETS["consignee"], address="Pier 4", country="RU"),
        "goods_description": SECRETS["goods_description"],
        "end_use": SECRETS["end_use"],
        "reasons": [
            denial_pb2.Reason(ground=denial_pb2.SANCTIONS, explanation=SECRETS["explanation"])
        ],
    }
    return dual_use_payload(reference, state, **{**content, **fields})


async def test_no_entry_carries_confidential_content(hub: RunningHub) -> None:
    payload = _confidential_payload(REF, "NL")
    amended = _confidential_payload(REF, "NL", goods_description=SECRETS["amended_goods"])
    async with (
        hub.client("nl") as nl,
        hub.client("de") as de,
        hub.client("commission") as commission,
    ):
        first = await nl.submit_denial(payload)
        second = await nl.amend_denial(REF, amended, follows=first)
        got = await de.get_denial(REF, versions=True)
        listed = [d async for d in commission.list_denials()]
        synced = [r async for r in de.sync_denials()]
        # Refused requests that carry the same content: another state amending, a bad submit.
        with pytest.raises(RemoteError):
            await de.amend_denial(REF, amended, follows=second)
        with pytest.raises(RemoteError):
            await de.submit_denial(_confidential_payload("NL-2026-L401", "NL"))
        await nl.revoke_denial(REF, "Licence granted on appeal", effective=TODAY, follows=second)

    # The content really went through the hub and back to its readers ...
    shown = [d.envelope.payload for d in got.versions] + [d.envelope.payload for d in listed]
    shown += [c.envelope.payload for r in synced for c in r.changes]
    for secret in SECRETS.values():
        assert any(secret.encode() in p for p in shown), secret
    # ... and into no entry of the log.
    entries = await log_entries(hub)
    assert len(entries) == 8
    for entry in entries:
        for secret in SECRETS.values():
            assert secret.encode() not in entry, secret
        assert payload.SerializeToString(deterministic=True) not in entry


# Signed checkpoints.


async def test_the_checkpoint_verifies_with_the_pinned_key(hub: RunningHub) -> None:
    async with hub.client("nl") as nl:
        v1 = await _submit(nl, "s")
        await _amend(nl, "a", v1)
    entries = await log_entries(hub)
    origin = hub.hub.config.log_origin
    key = pinned_log_key(hub.pki)
    async with stubs(hub, "de") as de:
        response = await de.audit.GetCheckpoint(audit_pb2.GetCheckpointRequest())
    checkpoint = verify_checkpoint(response.signed_checkpoint, origin, key, origin=origin)
    assert checkpoint.size == response.tree_size == len(entries)
    assert checkpoint.root == response.root_hash == roots_of(entries)[-1]
    assert response.verifier_key == verifier_key(origin, key)

    other = ed25519.Ed25519PrivateKey.generate().public_key()
    with pytest.raises(CheckpointError):
        verify_checkpoint(response.signed_checkpoint, origin, other, origin=origin)


async def test_a_checkpoint_with_any_byte_of_its_body_changed_does_not_verify(
    hub: RunningHub,
) -> None:
    async with hub.client("nl") as nl:
        await _submit(nl, "s")
        _, note = await nl.audit.checkpoint()
    origin = hub.hub.config.log_origin
    key = pinned_log_key(hub.pki)
    body_end = note.rfind("\n\n") + 1
    assert body_end > 0
    for i in range(body_end):
        replacement = "A" if note[i] != "A" else "B"
        changed = note[:i] + replacement + note[i + 1 :]
        with pytest.raises(CheckpointError):
            verify_checkpoint(changed, origin, key, origin=origin)
    assert verify_checkpoint(note, origin, key, origin=origin).size == 1


async def test_checkpoints_are_kept_and_only_grow(hub: RunningHub) -> None:
    async with hub.client("nl") as nl:
        v1 = await _submit(nl, "s")
        v2 = await _amend(nl, "a", v1)
    async with stubs(hub, "de") as de:
        first = await de.audit.GetCheckpoint(audit_pb2.GetCheckpointRequest())
        hub.clock.advance(dt.timedelta(hours=1))
        again = await de.audit.GetCheckpoint(audit_pb2.GetCheckpointRequest())
        assert again == first
        assert first.tree_size == 2
        with contextlib.closing(sqlite3.connect(f"file:{hub.store_path}?mode=ro", uri=True)) as db:
            stored = db.execute("SELECT tree_size, root, note FROM checkpoints").fetchall()
        assert stored == [(2, first.root_hash, first.signed_checkpoint)]

        async with hub.client("nl") as nl:
            await _revoke(nl, "r", v2)
        grown = await de.audit.GetCheckpoint(audit_pb2.GetCheckpointRequest())
        assert grown.tree_size == 3
        assert grown.signed_checkpoint != first.signed_checkpoint
        proof = await de.audit.GetConsistencyProof(
            audit_pb2.GetConsistencyProofRequest(first_size=2, second_size=3)
        )
        verify_consistency(2, 3, list(proof.proof), first.root_hash, grown.root_hash)
    with contextlib.closing(sqlite3.connect(f"file:{hub.store_path}?mode=ro", uri=True)) as db:
        sizes = db.execute("SELECT tree_size FROM checkpoints ORDER BY tree_size").fetchall()
    assert sizes == [(2,), (3,)]


async def test_a_checkpoint_of_the_empty_log_does_not_stop_the_log_growing(
    hub: RunningHub,
) -> None:
    origin = hub.hub.config.log_origin
    key = pinned_log_key(hub.pki)
    async with stubs(hub, "de") as de:
        empty = await de.audit.GetCheckpoint(audit_pb2.GetCheckpointRequest())
        checkpoint = verify_checkpoint(empty.signed_checkpoint, origin, key, origin=origin)
        assert (checkpoint.size, checkpoint.root) == (0, sha256(b""))

        async with hub.client("nl") as nl:
            denial = await _submit(nl, "s")
        grown = await de.audit.GetCheckpoint(audit_pb2.GetCheckpointRequest())
    checkpoint = verify_checkpoint(grown.signed_checkpoint, origin, key, origin=origin)
    assert (checkpoint.size, checkpoint.root) == (1, leaf_hash(denial.log_entry))


# Proofs: every inclusion proof and every consistency proof of a 30-entry log.

PROOF_LOG_SIZE = 30


async def _thirty_events(hub: RunningHub) -> None:
    async with hub.client("nl") as nl, hub.client("de") as de, hub.client("fr") as fr:
        for i in range(PROOF_LOG_SIZE // 3):
            reference = f"NL-2026-P{i:03d}"
            await nl.submit_denial(dual_use_payload(reference, "NL"))
            await de.get_denial(reference)
            with pytest.raises(RemoteError):
                await fr.get_denial(f"FR-2026-P{i:03d}")


async def test_every_inclusion_proof_verifies(hub: RunningHub) -> None:
    await _thirty_events(hub)
    entries = await log_entries(hub)
    assert len(entries) == PROOF_LOG_SIZE
    roots = roots_of(entries)
    leaves = [leaf_hash(e) for e in entries]
    async with hub.client("auditor") as auditor:
        checkpoint, _ = await auditor.audit.checkpoint()
        assert checkpoint.root == roots[PROOF_LOG_SIZE]
        for size in range(1, PROOF_LOG_SIZE + 1):
            for index in range(size):
                response = await auditor.audit.inclusion_proof(index, size)
                assert response.entry == entries[index]
                verify_inclusion(index, size, leaves[index], list(response.proof), roots[size])
        # The same proof does not vouch for a neighbouring leaf.
        response = await auditor.audit.inclusion_proof(7, PROOF_LOG_SIZE)
    with pytest.raises(ProofError):
        verify_inclusion(7, PROOF_LOG_SIZE, leaves[8], list(response.proof), roots[-1])


async def test_every_consistency_proof_verifies(hub: RunningHub) -> None:
    await _thirty_events(hub)
    entries = await log_entries(hub)
    roots = roots_of(entries)
    async with hub.client("de") as de:
        for second in range(1, PROOF_LOG_SIZE + 1):
            for first in range(1, second + 1):
                proof = await de.audit.consistency_proof(first, second)
                verify_consistency(first, second, proof, roots[first], roots[second])
        proof = await de.audit.consistency_proof(11, PROOF_LOG_SIZE)
    with pytest.raises(ProofError):
        verify_consistency(11, PROOF_LOG_SIZE, proof, roots[12], roots[-1])


# Invalid proof and entry requests name the field.

BadRequest = Callable[[int], tuple[str, Any]]

INVALID_REQUESTS: list[tuple[str, BadRequest, str]] = [
    (
        "inclusion-index-at-size",
        lambda n: (
            "GetInclusionProof",
            audit_pb2.GetInclusionProofRequest(leaf_index=n, tree_size=n),
        ),
        "leaf_index",
    ),
    (
        "inclusion-size-beyond-log",
        lambda n: (
            "GetInclusionProof",
            audit_pb2.GetInclusionProofRequest(leaf_index=0, tree_size=n + 1),
        ),
        "tree_size",
    ),
    (
        "inclusion-size-zero",
        lambda n: ("GetInclusionProof", audit_pb2.GetInclusionProofRequest(leaf_index=0)),
        "tree_size",
    ),
    (
        "consistency-first-zero",
        lambda n: (
            "GetConsistencyProof",
            audit_pb2.GetConsistencyProofRequest(first_size=0, second_size=n),
        ),
        "first_size",
    ),
    (
        "consistency-second-below-first",
        lambda n: (
            "GetConsistencyProof",
            audit_pb2.GetConsistencyProofRequest(first_size=3, second_size=2),
        ),
        "second_size",
    ),
    (
        "consistency-second-beyond-log",
        lambda n: (
            "GetConsistencyProof",
            audit_pb2.GetConsistencyProofRequest(first_size=1, second_size=n + 1),
        ),
        "second_size",
    ),
    (
        "entries-end-below-start",
        lambda n: ("GetEntries", audit_pb2.GetEntriesRequest(start=3, end=2)),
        "end",
    ),
    (
        "entries-end-beyond-log",
        lambda n: ("GetEntries", audit_pb2.GetEntriesRequest(start=0, end=n + 1)),
        "end",
    ),
    (
        "query-page-size-too-large",
        lambda n: ("QueryLog", audit_pb2.QueryLogRequest(page_size=100_000)),
        "page_size",
    ),
    (
        "query-foreign-page-token",
        lambda n: ("QueryLog", audit_pb2.QueryLogRequest(page_token="ZWN4LXBhZ2U6Mw==")),
        "page_token",
    ),
    *[
        (
            f"query-object-{name}",
            lambda n, text=text: ("QueryLog", audit_pb2.QueryLogRequest(object_id=text)),
            "object_id",
        )
        for name, text in (
            ("lowercase-reference", "nl-2026-0001"),
            ("unknown-kind", "treaty-case:NL-2026-0001"),
            ("version-without-kind", "NL-2026-0001:v2"),
            ("version-0", "denial:NL-2026-0001:v0"),
            ("sql-wildcard", "denial:NL-2026-%"),
        )
    ],
]


async def _raw_audit_call(stubs: Stubs, method: str, request: Any) -> None:
    call = getattr(stubs.audit, method)
    if method == "GetEntries":
        async for _ in call(request):
            pass
    else:
        await call(request)


@pytest.mark.parametrize(
    ("make", "field"),
    [pytest.param(make, field, id=name) for name, make, field in INVALID_REQUESTS],
)
async def test_an_invalid_request_is_refused_naming_the_field(
    hub: RunningHub, make: BadRequest, field: str
) -> None:
    async with hub.client("nl") as nl:
        v1 = await _submit(nl, "s")
        v2 = await _amend(nl, "a", v1)
        await _revoke(nl, "r", v2)
    size = await log_size(hub)
    method, request = make(size)
    async with stubs(hub, "auditor") as auditor:
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await _raw_audit_call(auditor, method, request)
    error = RemoteError.from_rpc_error(refused.value)
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in error.violations] == [field]
    assert field in error.message

    log = await decoded_log(hub)
    assert len(log) == size + 1
    assert (log[-1].actor, log[-1].action, log[-1].outcome) == (
        "auditor",
        method,
        "INVALID_ARGUMENT",
    )


# QueryLog: filters and pages.

Q_REF = "NL-2026-Q001"
Q_DE_REF = "DE-2026-Q002"
HOUR = dt.timedelta(hours=1)


@pytest.fixture
async def query_log(hub: RunningHub) -> RunningHub:
    """Six events an hour apart, from START:

    0 nl  SubmitDenial  OK                 denial:NL-2026-Q001:v1
    1 de  SubmitDenial  OK                 denial:DE-2026-Q002:v1
    2 de  GetDenial     OK                 denial:NL-2026-Q001:v1
    3 fr  AmendDenial   PERMISSION_DENIED  denial:NL-2026-Q001
    4 nl  AmendDenial   OK                 denial:NL-2026-Q001:v2
    5 nl  GetDenial     OK                 denial:DE-2026-Q002:v1
    """
    async with hub.client("nl") as nl, hub.client("de") as de, hub.client("fr") as fr:
        first = await nl.submit_denial(military_payload(Q_REF, "NL"))
        hub.clock.advance(HOUR)
        await de.submit_denial(military_payload(Q_DE_REF, "DE"))
        hub.clock.advance(HOUR)
        await de.get_denial(Q_REF)
        hub.clock.advance(HOUR)
        with pytest.raises(RemoteError) as refused:
            await fr.amend_denial(Q_REF, military_payload(Q_REF, "NL"), follows=first)
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
        hub.clock.advance(HOUR)
        await nl.amend_denial(
            Q_REF, military_payload(Q_REF, "NL", quantity="6 units"), follows=first
        )
        hub.clock.advance(HOUR)
        await nl.get_denial(Q_DE_REF)
    log = await decoded_log(hub)
    assert [e.time.ToDatetime(tzinfo=dt.UTC) for e in log] == [START + i * HOUR for i in range(6)]
    return hub


QUERIES = [
    ("no-filter", {}, [0, 1, 2, 3, 4, 5]),
    ("since-between-events", {"since": START + 1.5 * HOUR}, [2, 3, 4, 5]),
    ("since-at-an-event-includes-it", {"since": START + 2 * HOUR}, [2, 3, 4, 5]),
    ("until-between-events", {"until": START + 2.5 * HOUR}, [0, 1, 2]),
    ("time-window", {"since": START + 1.5 * HOUR, "until": START + 3.5 * HOUR}, [2, 3]),
    ("time-window-empty", {"since": START + 0.25 * HOUR, "until": START + 0.75 * HOUR}, []),
    ("actor-de", {"actor": "de"}, [1, 2]),
    ("actor-unknown", {"actor": "nobody"}, []),
    ("action-submit", {"action": "SubmitDenial"}, [0, 1]),
    ("action-and-actor", {"action": "GetDenial", "actor": "nl"}, [5]),
    ("object-version", {"object_id": f"denial:{Q_REF}:v1"}, [0, 2]),
    ("object-every-version-and-refusal", {"object_id": f"denial:{Q_REF}"}, [0, 2, 3, 4]),
    ("reference", {"object_id": Q_REF}, [0, 2, 3, 4]),
    ("reference-of-another", {"object_id": Q_DE_REF}, [1, 5]),
    ("outcome-refused", {"outcome": "PERMISSION_DENIED"}, [3]),
    ("outcome-ok", {"outcome": "OK"}, [0, 1, 2, 4, 5]),
    (
        "everything-combined",
        {"since": START + 0.5 * HOUR, "actor": "nl", "action": "AmendDenial", "outcome": "OK"},
        [4],
    ),
]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [pytest.param(filters, expected, id=name) for name, filters, expected in QUERIES],
)
async def test_query_filters(
    query_log: RunningHub, filters: dict[str, Any], expected: list[int]
) -> None:
    request = audit_pb2.QueryLogRequest()
    for name, value in filters.items():
        if isinstance(value, dt.datetime):
            getattr(request, name).CopyFrom(timestamp(value))
        else:
            setattr(request, name, value)
    async with query_log.client("auditor") as auditor:
        found = [e async for e in auditor.audit.query(request)]
    assert [e.index for e in found] == expected
    for e in found:
        assert audit_pb2.LogEntry.FromString(e.entry).index == e.index


async def test_query_pages_return_each_entry_once_in_order(hub: RunningHub) -> None:
    async with hub.client("nl") as nl, hub.client("de") as de, hub.client("fr") as fr:
        await nl.submit_denial(military_payload(Q_REF, "NL"))
        for _ in range(10):
            await de.get_denial(Q_REF)
            with pytest.raises(RemoteError):
                await fr.get_denial("FR-2026-0404")
    expected = list(range(1, 21, 2))  # de's reads, between fr's refusals
    pages: list[list[int]] = []
    token = ""
    async with stubs(hub, "auditor") as auditor:
        while True:
            page = await auditor.audit.QueryLog(
                audit_pb2.QueryLogRequest(
                    actor="de", action="GetDenial", page_size=3, page_token=token
                )
            )
            pages.append([e.index for e in page.entries])
            token = page.next_page_token
            if not token:
                break
            assert len(pages) < 10, "page tokens do not advance"
    assert pages == [expected[0:3], expected[3:6], expected[6:9], expected[9:]]

    # The same pages for de itself: they are its own reads.
    async with hub.client("de") as de:
        request = audit_pb2.QueryLogRequest(action="GetDenial", page_size=3)
        assert [e.index async for e in de.audit.query(request)] == expected


# prove_denial: each version of an amended denial is in the signed log, exactly as signed.


async def _amended_versions(hub: RunningHub) -> list[denial_pb2.Denial]:
    async with hub.client("nl") as nl:
        v1 = await _submit(nl, "s")
        v2 = await _amend(nl, "a1", v1)
        v3 = await nl.amend_denial(REF, military_payload(REF, "NL", quantity="8 units"), follows=v2)
        await _revoke(nl, "r", v3)
    async with hub.client("de") as de:
        got = await de.get_denial(REF, versions=True)
    versions = list(got.versions)
    assert [v.version for v in versions] == [1, 2, 3, 4]
    return versions


async def test_prove_denial_passes_for_every_version(hub: RunningHub) -> None:
    versions = await _amended_versions(hub)
    async with hub.client("de") as de:
        for v in versions:
            checkpoint = await de.audit.prove_denial(v)
            assert checkpoint.size > v.log_index
    assert [v.log_index for v in versions] == [0, 1, 2, 3]


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


ALTERATIONS: dict[str, Callable[[denial_pb2.Denial], None]] = {
    "payload-byte": lambda d: setattr(d.envelope, "payload", _flip_last_byte(d.envelope.payload)),
    "other-payload": lambda d: setattr(
        d.envelope,
        "payload",
        military_payload(REF, "NL", quantity="600 units").SerializeToString(deterministic=True),
    ),
    "log-entry-byte": lambda d: setattr(d, "log_entry", _flip_last_byte(d.log_entry)),
    "log-index": lambda d: setattr(d, "log_index", d.log_index + 1),
}


@pytest.mark.parametrize("alteration", list(ALTERATIONS))
async def test_prove_denial_fails_for_an_altered_version(hub: RunningHub, alteration: str) -> None:
    versions = await _amended_versions(hub)
    async with hub.client("de") as de:
        for v in versions[:3]:  # submitted and amended: the payload is what was signed
            altered = denial_pb2.Denial()
            altered.CopyFrom(v)
            ALTERATIONS[alteration](altered)
            with pytest.raises(VerificationError):
                await de.audit.prove_denial(altered)


async def test_prove_denial_fails_for_an_altered_status_change(hub: RunningHub) -> None:
    revoked = (await _amended_versions(hub))[-1]
    assert revoked.HasField("change_envelope")
    revoked.change_envelope.payload = _flip_last_byte(revoked.change_envelope.payload)
    async with hub.client("de") as de:
        with pytest.raises(VerificationError):
            await de.audit.prove_denial(revoked)


# The hub never signs a log that was altered behind its back.


def _flip_digest_byte(db: sqlite3.Connection, index: int) -> None:
    (entry,) = db.execute("SELECT entry FROM log_entries WHERE idx = ?", (index,)).fetchone()
    digest = audit_pb2.LogEntry.FromString(entry).payload_sha256
    at = entry.find(digest)
    assert at > 0
    changed = entry[:at] + bytes([entry[at] ^ 0xFF]) + entry[at + 1 :]
    db.execute("UPDATE log_entries SET entry = ? WHERE idx = ?", (changed, index))


def _flip_node(db: sqlite3.Connection, node: int) -> None:
    (value,) = db.execute("SELECT hash FROM log_nodes WHERE id = ?", (node,)).fetchone()
    db.execute("UPDATE log_nodes SET hash = ? WHERE id = ?", (_flip_last_byte(value), node))


SIGNED_SIZE = 6
# The root of a 6-entry tree is made of two stored perfect subtrees, keyed level << 40 | index:
# leaves 0-3 (level 2, index 0) and leaves 4-5 (level 1, index 2).
LEFT_SUBTREE = 2 << 40
RIGHT_SUBTREE = 1 << 40 | 2

TAMPERS: dict[str, Callable[[sqlite3.Connection], None] | None] = {
    "untouched": None,
    "entry-changed": lambda db: _flip_digest_byte(db, 2),
    "subtree-hash-changed": lambda db: _flip_node(db, LEFT_SUBTREE),
    "right-subtree-hash-changed": lambda db: _flip_node(db, RIGHT_SUBTREE),
    "last-entry-deleted": lambda db: db.execute(
        "DELETE FROM log_entries WHERE idx = ?", (SIGNED_SIZE - 1,)
    ),
}


@pytest.mark.parametrize("tamper", list(TAMPERS))
async def test_the_hub_signs_nothing_new_over_an_altered_log(
    pki: DevPki, tmp_path: Path, tamper: str, caplog: pytest.LogCaptureFixture
) -> None:
    store = tmp_path / "ecx.db"
    config = hub_config(pki, store)
    clock = FixedClock(START)
    async with Hub(config, clock=clock) as running:
        hub = RunningHub(running, pki, clock, store)
        async with hub.client("nl") as nl, hub.client("de") as de:
            for i in range(SIGNED_SIZE // 2):
                await nl.submit_denial(military_payload(f"NL-2026-T{i:03d}", "NL"))
                await de.get_denial(f"NL-2026-T{i:03d}")
            signed, _ = await nl.audit.checkpoint()
            _, note = await nl.audit.checkpoint()
        assert signed.size == SIGNED_SIZE

    change = TAMPERS[tamper]
    if change is not None:
        with contextlib.closing(sqlite3.connect(store)) as db:
            change(db)
            db.commit()

    async with Hub(config, clock=clock) as running:
        hub = RunningHub(running, pki, clock, store)
        async with stubs(hub, "auditor") as auditor:
            request = audit_pb2.GetCheckpointRequest()
            response = await auditor.audit.GetCheckpoint(request)
            # The last checkpoint signed before the alteration stays the answer.
            assert response.signed_checkpoint == note
            async with hub.client("fr") as fr:
                with pytest.raises(RemoteError):
                    await fr.get_denial("FR-2026-0404")  # one more (refused) event
            grown = await auditor.audit.GetCheckpoint(request)
            if change is None:
                assert grown.tree_size == SIGNED_SIZE + 1
                assert "not signing" not in caplog.text
            else:
                # Nor will it sign once the log has grown past the alteration.
                assert grown.signed_checkpoint == note
                assert "not signing" in caplog.text
                assert "Traceback" not in caplog.text


async def test_a_damaged_log_without_any_checkpoint_is_refused(pki: DevPki, tmp_path: Path) -> None:
    store = tmp_path / "ecx.db"
    config = hub_config(pki, store)
    clock = FixedClock(START)
    await submitted_by_nl(pki, store, [military_payload("NL-2026-T900", "NL")])
    with contextlib.closing(sqlite3.connect(store)) as db:
        _flip_digest_byte(db, 0)
        db.commit()
    async with Hub(config, clock=clock) as running:
        hub = RunningHub(running, pki, clock, store)
        async with stubs(hub, "auditor") as auditor:
            with pytest.raises(grpc.aio.AioRpcError) as refused:
                await auditor.audit.GetCheckpoint(audit_pb2.GetCheckpointRequest())
            _assert_internal_without_details(refused.value)


def _assert_internal_without_details(error: grpc.aio.AioRpcError) -> None:
    assert error.code() == grpc.StatusCode.INTERNAL
    shown = f"{error.details()} {error.trailing_metadata()}"
    for leak in ("Traceback", 'File "', "sqlite", ".py", str(Path.cwd())):
        assert leak not in shown, shown


# The command line against the hub as its own process.


def _real_today() -> dt.date:
    """The hub process runs on the machine's clock."""
    return dt.datetime.now(dt.UTC).date()


CLI_REF = "NL-2026-C001"
CLI_DE_REF = "DE-2026-C002"


@dataclasses.dataclass
class CliHub:
    hub: HubProcess
    pki: DevPki
    workdir: Path
    submits: dict[str, int]  # reference -> log index of its submission


@pytest.fixture(scope="module")
async def cli_hub(pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[CliHub]:
    workdir = tmp_path_factory.mktemp("audit-cli")
    denial_date = (_real_today() - dt.timedelta(days=3)).isoformat()
    with hub_process(pki, workdir) as hub:
        nl_id = Identity.load(pki.identity("nl"))
        de_id = Identity.load(pki.identity("de"))
        async with EcxClient(hub.address, nl_id) as nl, EcxClient(hub.address, de_id) as de:
            first = await nl.submit_denial(dual_use_payload(CLI_REF, denial_date=denial_date))
            own = await de.submit_denial(
                military_payload(CLI_DE_REF, "DE", denial_date=denial_date)
            )
            await nl.amend_denial(
                CLI_REF, dual_use_payload(CLI_REF, denial_date=denial_date, quantity="2 units")
            )
            await de.get_denial(CLI_REF)
        submits = {CLI_REF: first.log_index, CLI_DE_REF: own.log_index}
        yield CliHub(hub, pki, workdir, submits)


@dataclasses.dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


async def ecx(cli: CliHub, who: str, *args: str) -> Ran:
    env = {k: v for k, v in os.environ.items() if k not in ("ECX_SERVER", "ECX_IDENTITY")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "proto")])
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "client.cli",
        "--server",
        cli.hub.address,
        "--identity",
        str(cli.pki.identity(who)),
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cli.workdir,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode is not None
    ran = Ran(process.returncode, out.decode(), err.decode())
    assert "Traceback" not in ran.stderr, ran.stderr
    return ran


def _ok(ran: Ran) -> str:
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == ""
    return ran.stdout


def _one_line_failure(ran: Ran) -> str:
    assert ran.returncode == 1
    lines = ran.stderr.splitlines()
    assert len(lines) == 1, ran.stderr
    assert lines[0].startswith("ecx: ")
    return lines[0]


async def test_cli_audit_checkpoint(cli_hub: CliHub) -> None:
    origin = "ecx.eu/exchange-log"
    key = pinned_log_key(cli_hub.pki)
    data = json.loads(_ok(await ecx(cli_hub, "de", "audit", "checkpoint", "--json")))
    checkpoint = verify_checkpoint(data["signed_checkpoint"], origin, key, origin=origin)
    assert data["tree_size"] == checkpoint.size >= 4
    assert data["root_hash"] == checkpoint.root.hex()
    assert data["origin"] == origin
    assert data["signature_verified"] is True

    text = _ok(await ecx(cli_hub, "de", "audit", "checkpoint"))
    assert data["signed_checkpoint"].rstrip() in text
    assert f"signature verified: {checkpoint.size} entries" in text


async def test_cli_audit_query_by_action(cli_hub: CliHub) -> None:
    views = json.loads(
        _ok(await ecx(cli_hub, "auditor", "audit", "query", "--action", "SubmitDenial", "--json"))
    )
    assert [v["index"] for v in views] == sorted(cli_hub.submits.values())
    assert [v["actor"] for v in views] == ["nl", "de"]
    for v in views:
        assert v["action"] == "SubmitDenial"
        assert v["outcome"] == "OK"
        assert re.fullmatch(r"[0-9a-f]{64}", v["payload_sha256"])
    assert views[0]["object_ids"] == [f"denial:{CLI_REF}:v1"]

    # A state reads the writes of every denial it may read; the Commission those of dual-use
    # denials only (not DE's military one).
    seen = json.loads(
        _ok(await ecx(cli_hub, "de", "audit", "query", "--action", "SubmitDenial", "--json"))
    )
    assert [v["index"] for v in seen] == sorted(cli_hub.submits.values())
    commission = json.loads(
        _ok(
            await ecx(cli_hub, "commission", "audit", "query", "--action", "SubmitDenial", "--json")
        )
    )
    assert [v["index"] for v in commission] == [cli_hub.submits[CLI_REF]]


async def test_cli_audit_query_by_reference(cli_hub: CliHub) -> None:
    """A reference finds every entry naming it: both versions and the read of each."""
    views = json.loads(
        _ok(await ecx(cli_hub, "auditor", "audit", "query", "--object", CLI_REF, "--json"))
    )
    objects = {o for v in views for o in v["object_ids"]}
    assert {f"denial:{CLI_REF}:v1", f"denial:{CLI_REF}:v2"} <= objects
    assert all(CLI_REF in o for o in objects)
    writes = [v["action"] for v in views if v["action"] in ("SubmitDenial", "AmendDenial")]
    assert writes == ["SubmitDenial", "AmendDenial"]
    refused = await ecx(cli_hub, "auditor", "audit", "query", "--object", "nl-2026")
    assert "object_id" in _one_line_failure(refused)


async def test_cli_audit_prove(cli_hub: CliHub) -> None:
    index = cli_hub.submits[CLI_REF]
    text = _ok(await ecx(cli_hub, "nl", "audit", "prove", "--index", str(index)))
    assert re.search(rf"entry {index} \(SubmitDenial by nl\) is in the signed log of \d+", text)
    data = json.loads(
        _ok(await ecx(cli_hub, "nl", "audit", "prove", "--index", str(index), "--json"))
    )
    assert data["included"] is True
    assert data["index"] == index
    assert data["entry"]["action"] == "SubmitDenial"
    assert data["tree_size"] > index

    # The operator may not read nl's entry, so it has nothing to prove; nor can anyone prove
    # past the end.
    assert "not readable" in _one_line_failure(
        await ecx(cli_hub, "operator", "audit", "prove", "--index", str(index))
    )
    assert "not in the log" in _one_line_failure(
        await ecx(cli_hub, "nl", "audit", "prove", "--index", "100000")
    )


async def test_cli_denial_get_verify(cli_hub: CliHub) -> None:
    text = _ok(await ecx(cli_hub, "de", "denial", "get", CLI_REF, "--verify"))
    assert re.search(r"signature verified, in signed log of \d+", text)
    assert "the latest of 2 versions the log records" in text
    views = json.loads(
        _ok(await ecx(cli_hub, "de", "denial", "get", CLI_REF, "--versions", "--verify", "--json"))
    )
    assert [v["version"] for v in views] == [1, 2]
    for v in views:
        assert v["log_inclusion_verified"]["tree_size"] > v["log_index"]
    assert "latest_in_log_verified" not in views[0]
    assert views[-1]["latest_in_log_verified"]["versions_logged"] == 2
    # Without --verify nothing is claimed about the log.
    plain = json.loads(_ok(await ecx(cli_hub, "de", "denial", "get", CLI_REF, "--json")))
    assert "log_inclusion_verified" not in plain
