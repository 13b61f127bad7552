"""Who may call what: every ParticipantService and DenialService RPC against every kind of caller,
over real mutual TLS.

The table below is the expected policy, cell by cell. Callers: `nl` is the issuer of the seeded
denials, `de` another member state, then the Commission, an auditor, an operator, and certificates
the hub must refuse: `rogue` (another CA, claims to be nl), `revoked` (on the CRL), `expired`,
`ghost` (network CA, but unknown to the registry) and no client certificate at all.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import re
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import pytest

from certs.devpki import DevPki, issue_identity
from client.api import EcxClient
from client.core.envelope import (
    DENIAL_CHANGE_PAYLOAD_TYPE,
    DENIAL_PAYLOAD_TYPE,
    ENCRYPTION_KEY_PAYLOAD_TYPE,
    sign,
)
from client.core.published_keys import KeyStatement
from client.core.sealing import EncryptionPrivateKey, Suite
from client.errors import RemoteError
from client.identity import Identity
from ecx.v1 import (
    common_pb2,
    denial_pb2,
    denial_pb2_grpc,
    participant_pb2,
    participant_pb2_grpc,
)
from server.app import Hub
from server.clock import FixedClock
from tests.helpers import (
    START,
    TODAY,
    RunningHub,
    dual_use_payload,
    first_version,
    hub_config,
    military_payload,
)

OK = grpc.StatusCode.OK
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED
NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE

KEY_NOT_AFTER = TODAY + dt.timedelta(days=365)
MILITARY_REF = "NL-2026-M001"
DUAL_USE_REF = "NL-2026-D001"
SEEDED = {MILITARY_REF, DUAL_USE_REF}
NO_CERT = "no-cert"

# What a successful ListDenials / SyncDenials must contain for each reader: the Commission
# reads dual-use denials only (Reg. 2021/821 Art. 16(6)); military ones stay among the states.
VISIBLE = {
    "nl": SEEDED,
    "de": SEEDED,
    "it": SEEDED,
    "commission": {DUAL_USE_REF},
}

# Member state each caller would speak for when it submits a denial of its own.
OWN_STATE = {"nl": "NL", "de": "DE", "revoked": "PT", "expired": "AT", "rogue": "NL", "it": "IT"}

# (RPC, caller, expected status). GetDenial is exercised on both regimes.
TABLE = [
    # ParticipantService: every registered participant with a valid certificate.
    ("WhoAmI", "nl", OK),
    ("WhoAmI", "de", OK),
    ("WhoAmI", "commission", OK),
    ("WhoAmI", "auditor", OK),
    ("WhoAmI", "operator", OK),
    ("WhoAmI", "rogue", UNAVAILABLE),
    ("WhoAmI", "revoked", UNAUTHENTICATED),
    ("WhoAmI", "expired", UNAVAILABLE),
    ("WhoAmI", "ghost", UNAUTHENTICATED),
    ("WhoAmI", NO_CERT, UNAVAILABLE),
    ("ListParticipants", "nl", OK),
    ("ListParticipants", "de", OK),
    ("ListParticipants", "commission", OK),
    ("ListParticipants", "auditor", OK),
    ("ListParticipants", "operator", OK),
    ("ListParticipants", "rogue", UNAVAILABLE),
    ("ListParticipants", "revoked", UNAUTHENTICATED),
    ("ListParticipants", "expired", UNAVAILABLE),
    ("ListParticipants", "ghost", UNAUTHENTICATED),
    ("ListParticipants", NO_CERT, UNAVAILABLE),
    # Encryption keys: those who may receive notices (authorities, the Commission) publish one.
    ("PublishEncryptionKey", "nl", OK),
    ("PublishEncryptionKey", "de", OK),
    ("PublishEncryptionKey", "commission", OK),
    ("PublishEncryptionKey", "auditor", PERMISSION_DENIED),
    ("PublishEncryptionKey", "operator", PERMISSION_DENIED),
    ("PublishEncryptionKey", "rogue", UNAVAILABLE),
    ("PublishEncryptionKey", "revoked", UNAUTHENTICATED),
    ("PublishEncryptionKey", "expired", UNAVAILABLE),
    ("PublishEncryptionKey", "ghost", UNAUTHENTICATED),
    ("PublishEncryptionKey", NO_CERT, UNAVAILABLE),
    # Writes: authorities only, and only the issuer changes its own denial.
    ("SubmitDenial", "nl", OK),
    ("SubmitDenial", "de", OK),
    ("SubmitDenial", "commission", PERMISSION_DENIED),
    ("SubmitDenial", "auditor", PERMISSION_DENIED),
    ("SubmitDenial", "operator", PERMISSION_DENIED),
    ("SubmitDenial", "rogue", UNAVAILABLE),
    ("SubmitDenial", "revoked", UNAUTHENTICATED),
    ("SubmitDenial", "expired", UNAVAILABLE),
    ("SubmitDenial", "ghost", UNAUTHENTICATED),
    ("SubmitDenial", NO_CERT, UNAVAILABLE),
    ("AmendDenial", "nl", OK),
    ("AmendDenial", "de", PERMISSION_DENIED),
    ("AmendDenial", "commission", PERMISSION_DENIED),
    ("AmendDenial", "auditor", PERMISSION_DENIED),
    ("AmendDenial", "operator", PERMISSION_DENIED),
    ("AmendDenial", "rogue", UNAVAILABLE),
    ("AmendDenial", "revoked", UNAUTHENTICATED),
    ("AmendDenial", "expired", UNAVAILABLE),
    ("AmendDenial", "ghost", UNAUTHENTICATED),
    ("AmendDenial", NO_CERT, UNAVAILABLE),
    ("RevokeDenial", "nl", OK),
    ("RevokeDenial", "de", PERMISSION_DENIED),
    ("RevokeDenial", "commission", PERMISSION_DENIED),
    ("RevokeDenial", "auditor", PERMISSION_DENIED),
    ("RevokeDenial", "operator", PERMISSION_DENIED),
    ("RevokeDenial", "rogue", UNAVAILABLE),
    ("RevokeDenial", "revoked", UNAUTHENTICATED),
    ("RevokeDenial", "expired", UNAVAILABLE),
    ("RevokeDenial", "ghost", UNAUTHENTICATED),
    ("RevokeDenial", NO_CERT, UNAVAILABLE),
    ("RenewDenial", "nl", OK),
    ("RenewDenial", "de", PERMISSION_DENIED),
    ("RenewDenial", "commission", PERMISSION_DENIED),
    ("RenewDenial", "auditor", PERMISSION_DENIED),
    ("RenewDenial", "operator", PERMISSION_DENIED),
    ("RenewDenial", "rogue", UNAVAILABLE),
    ("RenewDenial", "revoked", UNAUTHENTICATED),
    ("RenewDenial", "expired", UNAVAILABLE),
    ("RenewDenial", "ghost", UNAUTHENTICATED),
    ("RenewDenial", NO_CERT, UNAVAILABLE),
    # Reads: authorities see every regime; the Commission dual-use only, and a military denial
    # is reported absent to it rather than forbidden, so its existence does not leak.
    ("GetDenial.military", "nl", OK),
    ("GetDenial.military", "de", OK),
    ("GetDenial.military", "commission", NOT_FOUND),
    ("GetDenial.military", "auditor", PERMISSION_DENIED),
    ("GetDenial.military", "operator", PERMISSION_DENIED),
    ("GetDenial.military", "rogue", UNAVAILABLE),
    ("GetDenial.military", "revoked", UNAUTHENTICATED),
    ("GetDenial.military", "expired", UNAVAILABLE),
    ("GetDenial.military", "ghost", UNAUTHENTICATED),
    ("GetDenial.military", NO_CERT, UNAVAILABLE),
    ("GetDenial.dual-use", "nl", OK),
    ("GetDenial.dual-use", "de", OK),
    ("GetDenial.dual-use", "commission", OK),
    ("GetDenial.dual-use", "auditor", PERMISSION_DENIED),
    ("GetDenial.dual-use", "operator", PERMISSION_DENIED),
    ("GetDenial.dual-use", "rogue", UNAVAILABLE),
    ("GetDenial.dual-use", "revoked", UNAUTHENTICATED),
    ("GetDenial.dual-use", "expired", UNAVAILABLE),
    ("GetDenial.dual-use", "ghost", UNAUTHENTICATED),
    ("GetDenial.dual-use", NO_CERT, UNAVAILABLE),
    ("ListDenials", "nl", OK),
    ("ListDenials", "de", OK),
    ("ListDenials", "commission", OK),
    ("ListDenials", "auditor", PERMISSION_DENIED),
    ("ListDenials", "operator", PERMISSION_DENIED),
    ("ListDenials", "rogue", UNAVAILABLE),
    ("ListDenials", "revoked", UNAUTHENTICATED),
    ("ListDenials", "expired", UNAVAILABLE),
    ("ListDenials", "ghost", UNAUTHENTICATED),
    ("ListDenials", NO_CERT, UNAVAILABLE),
    ("SyncDenials", "nl", OK),
    ("SyncDenials", "de", OK),
    ("SyncDenials", "commission", OK),
    ("SyncDenials", "auditor", PERMISSION_DENIED),
    ("SyncDenials", "operator", PERMISSION_DENIED),
    ("SyncDenials", "rogue", UNAVAILABLE),
    ("SyncDenials", "revoked", UNAUTHENTICATED),
    ("SyncDenials", "expired", UNAVAILABLE),
    ("SyncDenials", "ghost", UNAUTHENTICATED),
    ("SyncDenials", NO_CERT, UNAVAILABLE),
]

RPCS = list(dict.fromkeys(rpc for rpc, _, _ in TABLE))
WRITES = {"SubmitDenial", "AmendDenial", "RevokeDenial", "RenewDenial"}


def _cell_id(rpc: str, caller: str, expected: grpc.StatusCode) -> str:
    return f"{rpc}-{caller}-{expected.name}"


# Operations through the client library, as each caller would issue them. Each one checks what a
# successful call returned; a refusal surfaces as RemoteError.


async def _who_am_i(ecx: EcxClient, caller: str) -> None:
    me = await ecx.whoami()
    assert me.id == caller
    assert me.spiffe_id == f"spiffe://ecx.eu/participant/{caller}"


async def _list_participants(ecx: EcxClient, caller: str) -> None:
    ids = {p.id for p in await ecx.participants()}
    assert {"nl", "de", "commission", "auditor", "operator", caller} <= ids
    assert "rogue" not in ids


async def _publish_key(ecx: EcxClient, caller: str) -> None:
    # (auditors and operators hold no key of their own: they try with a fresh one)
    key = ecx.identity.encryption_key or EncryptionPrivateKey.generate(Suite.HYBRID)
    published = await ecx.publish_encryption_key(key, KEY_NOT_AFTER)
    assert published.signer == caller
    assert (await ecx.recipient_keys([caller])) == [key.recipient(caller)]


async def _submit(ecx: EcxClient, caller: str) -> None:
    state = OWN_STATE.get(caller, "NL")
    denial = await ecx.submit_denial(dual_use_payload(reference=f"{state}-2026-0100", state=state))
    assert (denial.reference, denial.version, denial.signer) == (f"{state}-2026-0100", 1, caller)


# Version 1 of the seeded military denial: changes follow it (without a read of their own).
SEEDED_MILITARY = first_version(military_payload(reference=MILITARY_REF, state="NL"))


async def _amend(ecx: EcxClient, caller: str) -> None:
    amended = military_payload(reference=MILITARY_REF, state="NL", quantity="6 units")
    denial = await ecx.amend_denial(MILITARY_REF, amended, follows=SEEDED_MILITARY)
    assert (denial.version, denial.change, denial.signer) == (2, denial_pb2.AMEND, caller)


async def _revoke(ecx: EcxClient, caller: str) -> None:
    denial = await ecx.revoke_denial(
        MILITARY_REF, "Licence granted on appeal", effective=TODAY, follows=SEEDED_MILITARY
    )
    assert (denial.version, denial.status) == (2, denial_pb2.REVOKED)


async def _renew(ecx: EcxClient, caller: str) -> None:
    denial = await ecx.renew_denial(
        MILITARY_REF, reason="Reviewed", effective=TODAY, follows=SEEDED_MILITARY
    )
    assert (denial.version, denial.change) == (2, denial_pb2.RENEW)
    assert denial.status == denial_pb2.ACTIVE


async def _get_military(ecx: EcxClient, caller: str) -> None:
    got = await ecx.get_denial(MILITARY_REF)
    assert (got.denial.reference, got.denial.regime) == (MILITARY_REF, denial_pb2.MILITARY)


async def _get_dual_use(ecx: EcxClient, caller: str) -> None:
    got = await ecx.get_denial(DUAL_USE_REF)
    assert (got.denial.reference, got.denial.regime) == (DUAL_USE_REF, denial_pb2.DUAL_USE)


async def _list(ecx: EcxClient, caller: str) -> None:
    seen = [d.reference async for d in ecx.list_denials()]
    assert sorted(seen) == sorted(VISIBLE.get(caller, set()))
    military_only = [d.reference async for d in ecx.list_denials(regime=denial_pb2.MILITARY)]
    assert set(military_only) == VISIBLE.get(caller, set()) - {DUAL_USE_REF}


async def _sync(ecx: EcxClient, caller: str) -> None:
    seen = [change.reference async for batch in ecx.sync_denials() for change in batch.changes]
    assert sorted(seen) == sorted(VISIBLE.get(caller, set()))


OPERATIONS: dict[str, Callable[[EcxClient, str], Awaitable[None]]] = {
    "WhoAmI": _who_am_i,
    "ListParticipants": _list_participants,
    "PublishEncryptionKey": _publish_key,
    "SubmitDenial": _submit,
    "AmendDenial": _amend,
    "RevokeDenial": _revoke,
    "RenewDenial": _renew,
    "GetDenial.military": _get_military,
    "GetDenial.dual-use": _get_dual_use,
    "ListDenials": _list,
    "SyncDenials": _sync,
}


def test_table_covers_every_rpc_and_caller() -> None:
    """A new RPC or caller cannot slip past the table."""
    services = (
        participant_pb2.DESCRIPTOR.services_by_name["ParticipantService"],
        denial_pb2.DESCRIPTOR.services_by_name["DenialService"],
    )
    methods = {m.name for s in services for m in s.methods}
    assert {rpc.split(".")[0] for rpc in RPCS} == methods
    assert set(OPERATIONS) == set(RPCS)
    callers = {caller for _, caller, _ in TABLE}
    assert callers == {
        "nl",
        "de",
        "commission",
        "auditor",
        "operator",
        "rogue",
        "revoked",
        "expired",
        "ghost",
        NO_CERT,
    }
    cells = [(rpc, caller) for rpc, caller, _ in TABLE]
    assert len(cells) == len(set(cells)) == len(RPCS) * len(callers)


def _captured_requests(hub: RunningHub) -> dict[str, tuple[str, str, object]]:
    """nl's own signed requests, as an eavesdropper who captured them would replay them:
    RPC -> (service, method, request)."""
    key = hub.identity("nl").require_signing_key()

    def payload_envelope(payload: denial_pb2.DenialPayload) -> common_pb2.Envelope:
        return sign(payload.SerializeToString(deterministic=True), DENIAL_PAYLOAD_TYPE, key)

    def change_envelope(change: denial_pb2.DenialChange.ValueType) -> common_pb2.Envelope:
        statement = denial_pb2.DenialStatusChange(
            reference=MILITARY_REF,
            change=change,
            reason="Licence granted on appeal",
            effective_date=TODAY.isoformat(),
        )
        data = statement.SerializeToString(deterministic=True)
        return sign(data, DENIAL_CHANGE_PAYLOAD_TYPE, key)

    submitted = payload_envelope(dual_use_payload(reference="NL-2026-0100", state="NL"))
    amended = payload_envelope(military_payload(reference=MILITARY_REF, state="NL"))
    rid = uuid.uuid4().hex
    return {
        "WhoAmI": ("participants", "WhoAmI", participant_pb2.WhoAmIRequest()),
        "ListParticipants": (
            "participants",
            "ListParticipants",
            participant_pb2.ListParticipantsRequest(),
        ),
        "PublishEncryptionKey": (
            "participants",
            "PublishEncryptionKey",
            participant_pb2.PublishEncryptionKeyRequest(
                request_id=rid,
                envelope=sign(
                    KeyStatement.of(
                        hub.identity("nl").require_encryption_key(), "nl", KEY_NOT_AFTER
                    ).to_payload(),
                    ENCRYPTION_KEY_PAYLOAD_TYPE,
                    key,
                ),
            ),
        ),
        "SubmitDenial": (
            "denials",
            "SubmitDenial",
            denial_pb2.SubmitDenialRequest(request_id=rid, envelope=submitted),
        ),
        "AmendDenial": (
            "denials",
            "AmendDenial",
            denial_pb2.AmendDenialRequest(request_id=rid, reference=MILITARY_REF, envelope=amended),
        ),
        "RevokeDenial": (
            "denials",
            "RevokeDenial",
            denial_pb2.RevokeDenialRequest(
                request_id=rid, reference=MILITARY_REF, envelope=change_envelope(denial_pb2.REVOKE)
            ),
        ),
        "RenewDenial": (
            "denials",
            "RenewDenial",
            denial_pb2.RenewDenialRequest(
                request_id=rid, reference=MILITARY_REF, envelope=change_envelope(denial_pb2.RENEW)
            ),
        ),
        "GetDenial.military": (
            "denials",
            "GetDenial",
            denial_pb2.GetDenialRequest(reference=MILITARY_REF),
        ),
        "GetDenial.dual-use": (
            "denials",
            "GetDenial",
            denial_pb2.GetDenialRequest(reference=DUAL_USE_REF),
        ),
        "ListDenials": ("denials", "ListDenials", denial_pb2.ListDenialsRequest()),
        "SyncDenials": ("denials", "SyncDenials", denial_pb2.SyncDenialsRequest()),
    }


async def _call_without_certificate(hub: RunningHub, rpc: str) -> grpc.StatusCode:
    """One RPC over a channel that trusts the network CA but presents no client certificate."""
    service, method, request = _captured_requests(hub)[rpc]
    credentials = grpc.ssl_channel_credentials(root_certificates=hub.pki.ca_cert.read_bytes())
    async with grpc.aio.secure_channel(hub.address, credentials) as channel:
        stubs = {
            "participants": participant_pb2_grpc.ParticipantServiceStub(channel),
            "denials": denial_pb2_grpc.DenialServiceStub(channel),
        }
        call = getattr(stubs[service], method)
        try:
            if rpc == "SyncDenials":
                async for _ in call(request, timeout=10):
                    pass
            else:
                await call(request, timeout=10)
        except grpc.aio.AioRpcError as e:
            return e.code()
    return OK


async def _call_as(hub: RunningHub, identity: Identity, rpc: str, caller: str) -> grpc.StatusCode:
    async with EcxClient(hub.address, identity, timeout=10) as ecx:
        try:
            await OPERATIONS[rpc](ecx, caller)
        except RemoteError as e:
            return e.code
    return OK


def _identity(hub: RunningHub, caller: str, tmp_path: Path) -> Identity:
    if caller == "ghost":
        return Identity.load(issue_identity(hub.pki.root, "ghost", out=tmp_path / "ghost"))
    return hub.identity(caller)


async def _seed(hub: RunningHub) -> None:
    """nl's two denials, one per regime; every cell acts on these."""
    async with hub.client("nl") as nl:
        await nl.submit_denial(military_payload(reference=MILITARY_REF, state="NL"))
        await nl.submit_denial(dual_use_payload(reference=DUAL_USE_REF, state="NL"))


async def _assert_seeded_unchanged(hub: RunningHub) -> None:
    """A refused write left nothing behind: the issuer still sees exactly its two first versions."""
    async with hub.client("nl") as nl:
        denials = [d async for d in nl.list_denials()]
        assert sorted(d.reference for d in denials) == sorted(SEEDED)
        for denial in denials:
            assert (denial.version, denial.status, denial.signer) == (1, denial_pb2.ACTIVE, "nl")
            got = await nl.get_denial(denial.reference, versions=True)
            assert len(got.versions) == 1


@pytest.fixture
async def seeded_hub(hub: RunningHub) -> RunningHub:
    await _seed(hub)
    return hub


@pytest.mark.parametrize(
    ("rpc", "caller", "expected"),
    [pytest.param(*cell, id=_cell_id(*cell)) for cell in TABLE],
)
async def test_policy(
    seeded_hub: RunningHub,
    tmp_path: Path,
    rpc: str,
    caller: str,
    expected: grpc.StatusCode,
) -> None:
    if caller == NO_CERT:
        got = await _call_without_certificate(seeded_hub, rpc)
    else:
        got = await _call_as(seeded_hub, _identity(seeded_hub, caller, tmp_path), rpc, caller)
    assert got == expected
    if rpc in WRITES and got != OK:
        await _assert_seeded_unchanged(seeded_hub)
    if rpc == "PublishEncryptionKey" and got != OK:
        async with seeded_hub.client("nl") as nl:
            assert not any(p.encryption_keys for p in await nl.participants())


# A participant the operator suspended keeps a valid certificate; the registry status refuses it.

SUSPENDED_TABLE = [
    ("WhoAmI", "it", UNAUTHENTICATED),
    ("ListParticipants", "it", UNAUTHENTICATED),
    ("PublishEncryptionKey", "it", UNAUTHENTICATED),
    ("SubmitDenial", "it", UNAUTHENTICATED),
    ("AmendDenial", "it", UNAUTHENTICATED),
    ("RevokeDenial", "it", UNAUTHENTICATED),
    ("RenewDenial", "it", UNAUTHENTICATED),
    ("GetDenial.military", "it", UNAUTHENTICATED),
    ("GetDenial.dual-use", "it", UNAUTHENTICATED),
    ("ListDenials", "it", UNAUTHENTICATED),
    ("SyncDenials", "it", UNAUTHENTICATED),
]


def _registry_with_status(pki: DevPki, dest: Path, participant: str, status: str) -> Path:
    """A copy of the dev registry in which one participant has another status."""
    text = pki.registry.read_text(encoding="utf-8")
    # Signing-certificate paths are relative to the registry file, which moves.
    text = re.sub(
        r'signing_certificate = "([^"]+)"',
        lambda m: f'signing_certificate = "{(pki.root / m.group(1)).as_posix()}"',
        text,
    )
    blocks = text.split("[[participant]]")
    changed = [i for i, block in enumerate(blocks) if f'\nid = "{participant}"\n' in block]
    assert len(changed) == 1
    blocks[changed[0]] = blocks[changed[0]].replace('status = "active"', f'status = "{status}"')
    dest.write_text("[[participant]]".join(blocks), encoding="utf-8")
    return dest


@pytest.fixture
async def hub_with_it_suspended(pki: DevPki, tmp_path: Path) -> AsyncIterator[RunningHub]:
    registry = _registry_with_status(pki, tmp_path / "participants.toml", "it", "suspended")
    store = tmp_path / "suspended.db"
    config = dataclasses.replace(hub_config(pki, store), registry=registry)
    clock = FixedClock(START)
    async with Hub(config, clock=clock) as running:
        yield RunningHub(running, pki, clock, store)


@pytest.mark.parametrize(
    ("rpc", "caller", "expected"),
    [pytest.param(*cell, id=_cell_id(*cell)) for cell in SUSPENDED_TABLE],
)
async def test_suspended_participant(
    hub_with_it_suspended: RunningHub, rpc: str, caller: str, expected: grpc.StatusCode
) -> None:
    hub = hub_with_it_suspended
    await _seed(hub)
    async with hub.client("nl") as nl:
        status = {p.id: p.status for p in await nl.participants()}
    assert status[caller] == participant_pb2.PARTICIPANT_SUSPENDED
    assert await _call_as(hub, hub.identity(caller), rpc, caller) == expected
    if rpc in WRITES:
        await _assert_seeded_unchanged(hub)


def test_suspended_table_covers_every_rpc() -> None:
    assert [rpc for rpc, _, _ in SUSPENDED_TABLE] == RPCS


async def test_same_identity_is_served_while_active(seeded_hub: RunningHub) -> None:
    """Control for the suspension cases: `it` itself is a working authority on the normal hub."""
    assert await _call_as(seeded_hub, seeded_hub.identity("it"), "WhoAmI", "it") == OK
    assert await _call_as(seeded_hub, seeded_hub.identity("it"), "ListDenials", "it") == OK
