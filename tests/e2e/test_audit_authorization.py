"""Who may call which AuditService RPC, and exactly which log entries each caller gets to read,
over real mutual TLS.

Every cell runs against the same small log, seeded before the cell:

    0  nl               SubmitDenial  OK                 denial:NL-2026-A001:v1   parties [nl,
                                                                            role:authority]
    1  de               GetDenial     OK                 denial:NL-2026-A001:v1   parties [nl]
    2  fr               GetDenial     NOT_FOUND          denial:FR-2026-0404      parties []
    3  commission       ListDenials   OK                 (no dual-use denials)    parties []
    4  operator         ListDenials   PERMISSION_DENIED                           parties []
    5  unauthenticated  GetDenial     UNAUTHENTICATED    peer-certificate:…       parties []
                        (the revoked certificate's refusal, counted and summarised: count 1)

Auditors read every entry. Anyone else reads the entries it acted in or whose object is its own
(the denial's issuer is listed as a party), and the writes of a denial it may read (its readers'
role is a party, so each can tell the latest version from the log): nl reads its submission and
de's read of its denial, de and fr the military denial's submission and their own acts, the
Commission and the operator only what they did themselves, and nobody but the auditors the
entry of a refused certificate. Checkpoints and proofs are for every authenticated caller; the
inclusion proof carries the entry only for a caller who may read it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Awaitable, Callable
from pathlib import Path

import grpc
import pytest

from certs.devpki import issue_identity
from client.api import EcxClient
from client.core.merkle import TreeBuilder, leaf_hash, verify_consistency, verify_inclusion
from client.errors import RemoteError
from client.identity import Identity
from ecx.v1 import audit_pb2, audit_pb2_grpc
from tests.helpers import RunningHub, military_payload

OK = grpc.StatusCode.OK
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
NOT_FOUND = grpc.StatusCode.NOT_FOUND

REF = "NL-2026-A001"
MISSING_REF = "FR-2026-0404"
REVOKED_REF = "PT-2026-0001"
NO_CERT = "no-cert"
SEEDED_SIZE = 6

# The seeded entries, as (actor, action, object ids, outcome, parties).
SEEDED = [
    ("nl", "SubmitDenial", [f"denial:{REF}:v1"], "OK", ["nl", "role:authority"]),
    ("de", "GetDenial", [f"denial:{REF}:v1"], "OK", ["nl"]),
    ("fr", "GetDenial", [f"denial:{MISSING_REF}"], "NOT_FOUND", []),
    ("commission", "ListDenials", [], "OK", []),
    ("operator", "ListDenials", [], "PERMISSION_DENIED", []),
    ("unauthenticated", "GetDenial", ["peer-certificate:"], "UNAUTHENTICATED", []),
]

# Which seeded indexes each caller that gets through may read.
VISIBLE: dict[str, set[int]] = {
    "auditor": {0, 1, 2, 3, 4, 5},
    "nl": {0, 1},
    "de": {0, 1},
    "fr": {0, 2},
    "commission": {3},
    "operator": {4},
}

TABLE = [
    # Checkpoints: every authenticated participant.
    ("GetCheckpoint", "auditor", OK),
    ("GetCheckpoint", "nl", OK),
    ("GetCheckpoint", "de", OK),
    ("GetCheckpoint", "fr", OK),
    ("GetCheckpoint", "commission", OK),
    ("GetCheckpoint", "operator", OK),
    ("GetCheckpoint", "rogue", UNAVAILABLE),
    ("GetCheckpoint", "revoked", UNAUTHENTICATED),
    ("GetCheckpoint", "expired", UNAVAILABLE),
    ("GetCheckpoint", "ghost", UNAUTHENTICATED),
    ("GetCheckpoint", NO_CERT, UNAVAILABLE),
    # Inclusion proofs: everyone authenticated; the entry itself only to its readers.
    ("GetInclusionProof", "auditor", OK),
    ("GetInclusionProof", "nl", OK),
    ("GetInclusionProof", "de", OK),
    ("GetInclusionProof", "fr", OK),
    ("GetInclusionProof", "commission", OK),
    ("GetInclusionProof", "operator", OK),
    ("GetInclusionProof", "rogue", UNAVAILABLE),
    ("GetInclusionProof", "revoked", UNAUTHENTICATED),
    ("GetInclusionProof", "expired", UNAVAILABLE),
    ("GetInclusionProof", "ghost", UNAUTHENTICATED),
    ("GetInclusionProof", NO_CERT, UNAVAILABLE),
    # Consistency proofs: everyone authenticated.
    ("GetConsistencyProof", "auditor", OK),
    ("GetConsistencyProof", "nl", OK),
    ("GetConsistencyProof", "de", OK),
    ("GetConsistencyProof", "fr", OK),
    ("GetConsistencyProof", "commission", OK),
    ("GetConsistencyProof", "operator", OK),
    ("GetConsistencyProof", "rogue", UNAVAILABLE),
    ("GetConsistencyProof", "revoked", UNAUTHENTICATED),
    ("GetConsistencyProof", "expired", UNAVAILABLE),
    ("GetConsistencyProof", "ghost", UNAUTHENTICATED),
    ("GetConsistencyProof", NO_CERT, UNAVAILABLE),
    # Entries: the call succeeds for everyone authenticated; what comes back is VISIBLE[caller].
    ("GetEntries", "auditor", OK),
    ("GetEntries", "nl", OK),
    ("GetEntries", "de", OK),
    ("GetEntries", "fr", OK),
    ("GetEntries", "commission", OK),
    ("GetEntries", "operator", OK),
    ("GetEntries", "rogue", UNAVAILABLE),
    ("GetEntries", "revoked", UNAUTHENTICATED),
    ("GetEntries", "expired", UNAVAILABLE),
    ("GetEntries", "ghost", UNAUTHENTICATED),
    ("GetEntries", NO_CERT, UNAVAILABLE),
    ("QueryLog", "auditor", OK),
    ("QueryLog", "nl", OK),
    ("QueryLog", "de", OK),
    ("QueryLog", "fr", OK),
    ("QueryLog", "commission", OK),
    ("QueryLog", "operator", OK),
    ("QueryLog", "rogue", UNAVAILABLE),
    ("QueryLog", "revoked", UNAUTHENTICATED),
    ("QueryLog", "expired", UNAVAILABLE),
    ("QueryLog", "ghost", UNAUTHENTICATED),
    ("QueryLog", NO_CERT, UNAVAILABLE),
]

RPCS = list(dict.fromkeys(rpc for rpc, _, _ in TABLE))
CALLERS = list(dict.fromkeys(caller for _, caller, _ in TABLE))


@dataclasses.dataclass(frozen=True)
class Seeded:
    """The seeded log as the auditor read it: entry bytes and the root of every prefix."""

    entries: list[bytes]
    roots: list[bytes]  # roots[m] is the root of the first m entries


def _cell_id(rpc: str, caller: str, expected: grpc.StatusCode) -> str:
    return f"{rpc}-{caller}-{expected.name}"


# What each caller does with each RPC, and what a successful answer must hold.


async def _get_checkpoint(ecx: EcxClient, caller: str, seeded: Seeded) -> None:
    checkpoint, _ = await ecx.audit.checkpoint()  # verified with the pinned log key
    assert (checkpoint.size, checkpoint.root) == (SEEDED_SIZE, seeded.roots[SEEDED_SIZE])


async def _get_inclusion_proof(ecx: EcxClient, caller: str, seeded: Seeded) -> None:
    readable = set()
    for index in range(SEEDED_SIZE):
        response = await ecx.audit.inclusion_proof(index, SEEDED_SIZE)
        leaf = leaf_hash(seeded.entries[index])
        verify_inclusion(index, SEEDED_SIZE, leaf, list(response.proof), seeded.roots[-1])
        if response.entry:
            assert response.entry == seeded.entries[index]
            readable.add(index)
    assert readable == VISIBLE[caller]


async def _get_consistency_proof(ecx: EcxClient, caller: str, seeded: Seeded) -> None:
    for first in range(1, SEEDED_SIZE + 1):
        proof = await ecx.audit.consistency_proof(first, SEEDED_SIZE)
        verify_consistency(first, SEEDED_SIZE, proof, seeded.roots[first], seeded.roots[-1])


async def _get_entries(ecx: EcxClient, caller: str, seeded: Seeded) -> None:
    got = [e async for batch in ecx.audit.entries(0, SEEDED_SIZE) for e in batch]
    assert [e.index for e in got] == sorted(VISIBLE[caller])
    for e in got:
        assert e.entry == seeded.entries[e.index]


async def _query_log(ecx: EcxClient, caller: str, seeded: Seeded) -> None:
    async def indexes(**filters: str) -> list[int]:
        request = audit_pb2.QueryLogRequest(**filters)
        found = [e async for e in ecx.audit.query(request)]
        for e in found:
            assert e.entry == seeded.entries[e.index]
        return [e.index for e in found]

    everything = await indexes()
    visible = VISIBLE[caller]
    assert everything == sorted(visible)
    # A filter narrows what the caller may read; it never widens it.
    assert await indexes(object_id=f"denial:{REF}:v1") == sorted(visible & {0, 1})
    assert await indexes(actor="nl") == sorted(visible & {0})
    assert await indexes(outcome="UNAUTHENTICATED") == sorted(visible & {5})
    assert await indexes(action="ListDenials") == sorted(visible & {3, 4})


OPERATIONS: dict[str, Callable[[EcxClient, str, Seeded], Awaitable[None]]] = {
    "GetCheckpoint": _get_checkpoint,
    "GetInclusionProof": _get_inclusion_proof,
    "GetConsistencyProof": _get_consistency_proof,
    "GetEntries": _get_entries,
    "QueryLog": _query_log,
}

RAW_REQUESTS: dict[str, object] = {
    "GetCheckpoint": audit_pb2.GetCheckpointRequest(),
    "GetInclusionProof": audit_pb2.GetInclusionProofRequest(leaf_index=0, tree_size=1),
    "GetConsistencyProof": audit_pb2.GetConsistencyProofRequest(first_size=1, second_size=2),
    "GetEntries": audit_pb2.GetEntriesRequest(start=0, end=SEEDED_SIZE),
    "QueryLog": audit_pb2.QueryLogRequest(),
}


def test_table_covers_every_rpc_and_caller() -> None:
    """A new AuditService RPC or a new kind of caller cannot slip past the table."""
    service = audit_pb2.DESCRIPTOR.services_by_name["AuditService"]
    assert set(RPCS) == {m.name for m in service.methods}
    assert set(OPERATIONS) == set(RAW_REQUESTS) == set(RPCS)
    assert set(CALLERS) == {
        "auditor",
        "nl",
        "de",
        "fr",
        "commission",
        "operator",
        "rogue",
        "revoked",
        "expired",
        "ghost",
        NO_CERT,
    }
    cells = [(rpc, caller) for rpc, caller, _ in TABLE]
    assert len(cells) == len(set(cells)) == len(RPCS) * len(CALLERS)
    allowed = {caller for _, caller, expected in TABLE if expected == OK}
    assert allowed == set(VISIBLE)


async def _auditor_reads_all(hub: RunningHub) -> list[audit_pb2.LoggedEntry]:
    async with hub.client("auditor") as auditor:
        checkpoint, _ = await auditor.audit.checkpoint()
        return [e async for batch in auditor.audit.entries(0, checkpoint.size) for e in batch]


def _objects(entry: audit_pb2.LogEntry) -> list[str]:
    """Object ids, with a certificate's digest left out (it differs per test PKI)."""
    return [o[: len("peer-certificate:")] if o.startswith("peer-") else o for o in entry.object_ids]


async def _seed(hub: RunningHub) -> Seeded:
    async with hub.client("nl") as nl:
        await nl.submit_denial(military_payload(reference=REF, state="NL"))
    async with hub.client("de") as de:
        await de.get_denial(REF)
    async with hub.client("fr") as fr:
        with pytest.raises(RemoteError) as refused:
            await fr.get_denial(MISSING_REF)
        assert refused.value.code == NOT_FOUND
    async with hub.client("revoked") as revoked:
        with pytest.raises(RemoteError) as refused:
            await revoked.get_denial(REVOKED_REF)
        assert refused.value.code == UNAUTHENTICATED
    async with hub.client("commission") as commission:
        assert [d async for d in commission.list_denials()] == []
    async with hub.client("operator") as operator:
        with pytest.raises(RemoteError) as refused:
            [d async for d in operator.list_denials()]
        assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    assert await hub.hub.refusals.flush() == 1

    logged = await _auditor_reads_all(hub)
    assert [e.index for e in logged] == list(range(SEEDED_SIZE))
    decoded = [audit_pb2.LogEntry.FromString(e.entry) for e in logged]
    shape = [(d.actor, d.action, _objects(d), d.outcome, list(d.parties)) for d in decoded]
    assert shape == SEEDED
    assert [d.count for d in decoded] == [0, 0, 0, 0, 0, 1]
    builder = TreeBuilder()
    roots = [builder.root()]
    for e in logged:
        builder.append(leaf_hash(e.entry))
        roots.append(builder.root())
    return Seeded([e.entry for e in logged], roots)


@pytest.fixture
async def seeded(hub: RunningHub) -> tuple[RunningHub, Seeded]:
    return hub, await _seed(hub)


async def _call_without_certificate(hub: RunningHub, rpc: str) -> grpc.StatusCode:
    """One RPC over a channel that trusts the network CA but presents no client certificate."""
    credentials = grpc.ssl_channel_credentials(root_certificates=hub.pki.ca_cert.read_bytes())
    async with grpc.aio.secure_channel(hub.address, credentials) as channel:
        call = getattr(audit_pb2_grpc.AuditServiceStub(channel), rpc)
        try:
            if rpc == "GetEntries":
                async for _ in call(RAW_REQUESTS[rpc], timeout=10):
                    pass
            else:
                await call(RAW_REQUESTS[rpc], timeout=10)
        except grpc.aio.AioRpcError as e:
            return e.code()
    return OK


async def _call_as(
    hub: RunningHub, identity: Identity, rpc: str, caller: str, seeded: Seeded
) -> grpc.StatusCode:
    async with EcxClient(hub.address, identity, timeout=10) as ecx:
        try:
            await OPERATIONS[rpc](ecx, caller, seeded)
        except RemoteError as e:
            return e.code
    return OK


def _identity(hub: RunningHub, caller: str, tmp_path: Path) -> Identity:
    if caller == "ghost":
        return Identity.load(issue_identity(hub.pki.root, "ghost", out=tmp_path / "ghost"))
    return hub.identity(caller)


@pytest.mark.parametrize(
    ("rpc", "caller", "expected"),
    [pytest.param(*cell, id=_cell_id(*cell)) for cell in TABLE],
)
async def test_policy(
    seeded: tuple[RunningHub, Seeded],
    tmp_path: Path,
    rpc: str,
    caller: str,
    expected: grpc.StatusCode,
) -> None:
    hub, log = seeded
    if caller == NO_CERT:
        got = await _call_without_certificate(hub, rpc)
    else:
        got = await _call_as(hub, _identity(hub, caller, tmp_path), rpc, caller, log)
    assert got == expected

    # Reading the log is not itself an exchange event; a certificate refused during the TLS
    # handshake never reaches the hub; a refused identity is counted and summarised.
    assert await hub.hub.refusals.flush() == (1 if expected == UNAUTHENTICATED else 0)
    after = await _auditor_reads_all(hub)
    assert [e.entry for e in after[:SEEDED_SIZE]] == log.entries
    if expected == UNAUTHENTICATED:
        assert len(after) == SEEDED_SIZE + 1
        refusal = audit_pb2.LogEntry.FromString(after[-1].entry)
        assert (refusal.actor, refusal.action, refusal.outcome, refusal.count) == (
            "unauthenticated",
            rpc,
            "UNAUTHENTICATED",
            1,
        )
        assert list(refusal.parties) == []
    else:
        assert len(after) == SEEDED_SIZE
