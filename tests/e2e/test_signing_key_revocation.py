"""Signing keys and the network CA's CRL, end to end over mutual TLS.

A signing certificate counts only if the network CA issued it, at the hub and at every client
(the hub could otherwise swap a participant's key); and only until the CRL says it was revoked:
the hub takes no new signature by a revoked key, and a recipient judges each stored signature
as of its signing time, the time of its log entry, so what was signed before the revocation
stays valid. Recipients take the CRL from the hub, but check it against their own pinned CA.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import os
import re
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certs.devpki import DevPki, issue_identity
from client.api import EcxClient
from client.core.signers import published_signers
from client.errors import RemoteError, VerificationError
from client.identity import Identity
from ecx.v1 import consultation_pb2, denial_pb2, participant_pb2, participant_pb2_grpc
from server.app import Hub
from server.clock import FixedClock
from server.errors import ConfigError
from server.revocation import RevocationList
from tests.helpers import START, RunningHub, dual_use_payload, hub_config, party

KEYID = "envelope.signatures[0].keyid"
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT


def _certificate(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def signing_serial(pki: DevPki, name: str) -> int:
    return _certificate(pki.identity(name) / "signing-cert.pem").serial_number


def dev_revocations(pki: DevPki) -> dict[int, dt.datetime]:
    """What the dev PKI's CRL revokes (the `revoked` identity's certificates), and when."""
    crl = x509.load_pem_x509_crl(pki.crl.read_bytes())
    return {entry.serial_number: entry.revocation_date_utc for entry in crl}


def write_crl(
    pki: DevPki,
    path: Path,
    revoked: dict[int, dt.datetime],
    *,
    last_update: dt.datetime,
    next_update: dt.datetime,
) -> None:
    """A CRL signed with the dev network CA's key, put in place of path in one step, with a
    modification time of its own so that the hub sees it is new."""
    key = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_certificate(pki.ca_cert).subject)
        .last_update(last_update)
        .next_update(next_update)
    )
    for serial, when in revoked.items():
        entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
        builder = builder.add_revoked_certificate(entry.build())
    fresh = path.with_name(path.name + ".new")
    fresh.write_bytes(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    mtime = path.stat().st_mtime_ns + 1_000_000_000 if path.exists() else None
    if mtime is not None:
        os.utime(fresh, ns=(mtime, mtime))
    fresh.replace(path)


@contextlib.asynccontextmanager
async def hub_with_crl(
    pki: DevPki, tmp_path: Path, registry: Path | None = None
) -> AsyncIterator[RunningHub]:
    """A hub like the `hub` fixture's, but with a CRL file (tmp_path/crl.pem) of its own, written
    by the test before or while the hub runs; the hub re-reads it at the next call."""
    crl = tmp_path / "crl.pem"
    if not crl.exists():
        shutil.copyfile(pki.crl, crl)
    store = tmp_path / "ecx.db"
    config = hub_config(pki, store)
    config = dataclasses.replace(
        config,
        tls=dataclasses.replace(config.tls, crl=crl),
        registry=registry or config.registry,
    )
    clock = FixedClock(START)
    async with Hub(config, clock=clock) as running:
        yield RunningHub(running, pki, clock, store)


@pytest.fixture
def crl_rechecked_at_every_call(monkeypatch: pytest.MonkeyPatch) -> None:
    """A replaced CRL takes effect at the hub's next call, not up to a second later."""
    monkeypatch.setattr(RevocationList, "RECHECK_SECONDS", 0.0)


def revoke_nl_signing_key(hub: RunningHub, tmp_path: Path, on: dt.datetime) -> None:
    """The network CA revokes nl's signing certificate as of `on` (published now)."""
    now = dt.datetime.now(dt.UTC)
    revoked = dev_revocations(hub.pki) | {signing_serial(hub.pki, "nl"): on}
    write_crl(
        hub.pki,
        tmp_path / "crl.pem",
        revoked,
        last_update=now,
        next_update=now + dt.timedelta(days=30),
    )


def assert_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    assert [r.getMessage() for r in caplog.records if r.exc_info] == []
    assert "Traceback" not in caplog.text


# A new signature by a key on the CRL


def _revoked_with_a_fresh_tls_certificate(hub: RunningHub, tmp_path: Path) -> Identity:
    """The `revoked` participant with a new, valid TLS certificate, still signing with the key
    whose certificate is on the CRL."""
    fresh = issue_identity(
        hub.pki.root, "revoked-fresh", participant_id="revoked", out=tmp_path / "revoked-fresh"
    )
    shutil.copyfile(hub.pki.identity("revoked") / "signing-key.pem", fresh / "signing-key.pem")
    return Identity.load(fresh)


async def _submit(client: EcxClient) -> object:
    return await client.submit_denial(dual_use_payload("PT-2026-0001", "PT"))


async def _open_consultation(client: EcxClient) -> object:
    return await client.consultations.open(
        "PT-C-2026-0001",
        ["NL-2026-0001"],
        consultation_pb2.Transaction(
            regime=denial_pb2.DUAL_USE,
            destination_country="RU",
            end_user=party("JSC Radio Engineering Plant", "RU"),
            control_entries=["3B001.f.1"],
        ),
        "Do you maintain your denial?",
        "export-control@example.org",
    )


@pytest.mark.parametrize("step", [_submit, _open_consultation], ids=["denial", "consultation"])
async def test_a_key_on_the_crl_signs_nothing_new_even_with_a_fresh_tls_certificate(
    hub: RunningHub,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
    step: Callable[[EcxClient], Awaitable[object]],
) -> None:
    identity = _revoked_with_a_fresh_tls_certificate(hub, tmp_path)
    revoked_on = dev_revocations(hub.pki)[signing_serial(hub.pki, "revoked")]
    async with hub.client("nl") as nl:
        await nl.submit_denial(dual_use_payload("NL-2026-0001"))
    async with EcxClient(hub.address, identity, timeout=10) as revoked:
        assert (await revoked.whoami()).id == "revoked"  # the TLS certificate is good
        with pytest.raises(RemoteError) as refused:
            await step(revoked)
    assert refused.value.code == INVALID_ARGUMENT
    assert refused.value.violations == [
        (KEYID, f"the signing certificate of revoked was revoked on {revoked_on.date()}")
    ]
    async with hub.client("de") as de:
        with pytest.raises(RemoteError) as missing:
            await de.get_denial("PT-2026-0001")
        assert missing.value.code == grpc.StatusCode.NOT_FOUND
        with pytest.raises(RemoteError) as missing:
            await de.consultations.get("PT-C-2026-0001")
        assert missing.value.code == grpc.StatusCode.NOT_FOUND
    assert_no_traceback(caplog)


# A key revoked while the hub runs


async def test_a_key_revoked_after_it_signed_signs_nothing_new_but_what_it_signed_stays_valid(
    pki: DevPki, tmp_path: Path, crl_rechecked_at_every_call: None
) -> None:
    ref = "NL-2026-0101"
    async with hub_with_crl(pki, tmp_path) as hub:
        async with hub.client("nl") as nl:
            v1 = await nl.submit_denial(dual_use_payload(ref))
            revoke_nl_signing_key(hub, tmp_path, START + dt.timedelta(hours=1))
            hub.clock.advance(dt.timedelta(hours=2))
            amended = dual_use_payload(ref, quantity="2 units")
            with pytest.raises(RemoteError) as refused:
                await nl.amend_denial(ref, amended, follows=v1)
            assert refused.value.code == INVALID_ARGUMENT
            assert refused.value.violations == [
                (KEYID, f"the signing certificate of nl was revoked on {START.date()}")
            ]
        async with hub.client("de") as de:
            shown = await de.get_denial(ref, versions=True)
            assert [v.version for v in shown.versions] == [1]
            assert (await de.verify_denial(shown.denial)).reference == ref
            assert [p.quantity for p in await de.verify_versions(shown.versions)] == ["1 unit"]
        # What de judged by: the CRL now in use, as the hub serves it.
        assert (await _list_participants(hub, "de")).crl == (tmp_path / "crl.pem").read_text()


async def test_a_version_signed_after_its_key_was_revoked_does_not_verify(
    pki: DevPki, tmp_path: Path, crl_rechecked_at_every_call: None
) -> None:
    """The CA dates a key compromise before a version the hub already took: recipients refuse
    that version."""
    ref = "NL-2026-0102"
    async with hub_with_crl(pki, tmp_path) as hub:
        async with hub.client("nl") as nl:
            await nl.submit_denial(dual_use_payload(ref))
        async with hub.client("de") as de:
            shown = await de.get_denial(ref, versions=True)
            await de.verify_versions(shown.versions)  # the control: before the revocation
        revoke_nl_signing_key(hub, tmp_path, START - dt.timedelta(hours=1))
        async with hub.client("de") as de:
            # The hub no longer serves it (its own replay judges the signature as of its time).
            with pytest.raises(RemoteError) as caught:
                await de.get_denial(ref, versions=True)
            assert caught.value.code == grpc.StatusCode.DATA_LOSS
            expected = f"{ref}: .*the signing certificate of nl was revoked on {START.date()}"
            with pytest.raises(VerificationError, match=expected):
                await de.verify_denial(shown.denial)
            with pytest.raises(VerificationError, match=expected):
                await de.verify_versions(shown.versions)


@pytest.mark.parametrize(
    ("revoked_after", "verifies"),
    [(dt.timedelta(hours=2), True), (dt.timedelta(minutes=30), False)],
    ids=["revoked-after-the-answer", "revoked-before-the-answer"],
)
async def test_each_consultation_step_is_judged_as_of_its_own_signing_time(
    pki: DevPki,
    tmp_path: Path,
    crl_rechecked_at_every_call: None,
    revoked_after: dt.timedelta,
    verifies: bool,
) -> None:
    """de opens at START; nl answers an hour later; nl's key is revoked at START + revoked_after
    (the hub took the answer before it knew)."""
    ref = "DE-C-2026-0101"
    async with hub_with_crl(pki, tmp_path) as hub:
        async with hub.client("nl") as nl, hub.client("de") as de:
            await nl.submit_denial(dual_use_payload("NL-2026-0103"))
            opened = await de.consultations.open(
                ref,
                ["NL-2026-0103"],
                consultation_pb2.Transaction(
                    regime=denial_pb2.DUAL_USE,
                    destination_country="RU",
                    end_user=party("JSC Radio Engineering Plant", "RU"),
                    control_entries=["3B001.f.1"],
                ),
                "Do you maintain your denial?",
                "export-control@bafa.example",
            )
            hub.clock.advance(dt.timedelta(hours=1))
            await nl.consultations.respond(
                ref, consultation_pb2.DENIAL_MAINTAINED, "Maintained.", follows=opened
            )
            shown = await de.consultations.get(ref)
        revoke_nl_signing_key(hub, tmp_path, START + revoked_after)
        async with hub.client("de") as de:
            if verifies:
                await de.consultations.verify(shown)
                assert await de.consultations.get(ref) == shown
            else:
                # A client shown the answer refuses it; the hub no longer serves it at all.
                with pytest.raises(VerificationError, match=f"{ref} v2: .*nl was revoked"):
                    await de.consultations.verify(shown)
                with pytest.raises(RemoteError) as caught:
                    await de.consultations.get(ref)
                assert caught.value.code == grpc.StatusCode.DATA_LOSS


# The CRL a client is shown


async def _list_participants(
    hub: RunningHub, name: str
) -> participant_pb2.ListParticipantsResponse:
    """ListParticipants as the hub answers it, over a participant's own mTLS channel."""
    identity = hub.identity(name)
    credentials = grpc.ssl_channel_credentials(identity.ca_pem, identity.key_pem, identity.cert_pem)
    async with grpc.aio.secure_channel(hub.address, credentials) as channel:
        stub = participant_pb2_grpc.ParticipantServiceStub(channel)
        response: participant_pb2.ListParticipantsResponse = await stub.ListParticipants(
            participant_pb2.ListParticipantsRequest(), timeout=10
        )
    return response


async def test_a_crl_past_its_next_update_is_refused_by_the_client(
    pki: DevPki, tmp_path: Path
) -> None:
    """Current by the hub's clock (START), out of date by the client's."""
    write_crl(
        pki,
        tmp_path / "crl.pem",
        dev_revocations(pki),
        last_update=START - dt.timedelta(days=1),
        next_update=START + dt.timedelta(days=1),
    )
    async with hub_with_crl(pki, tmp_path) as hub:
        async with hub.client("nl") as nl:
            denial = await nl.submit_denial(dual_use_payload("NL-2026-0104"))
        async with hub.client("de") as de:
            expected = "the hub's CRL is out of date"
            with pytest.raises(VerificationError, match=expected):
                await de.signing_keys()
            with pytest.raises(VerificationError, match=expected):
                await de.verify_denial(denial)


# Signing certificates the network CA did not issue


def _registry_with(pki: DevPki, dest: Path, participant: str, certificate: Path) -> Path:
    """A copy of the dev registry in which one participant has another signing certificate."""
    text = re.sub(
        r'signing_certificate = "([^"]+)"',
        lambda m: f'signing_certificate = "{(pki.root / m.group(1)).as_posix()}"',
        pki.registry.read_text(encoding="utf-8"),
    )
    mine = f'signing_certificate = "{(pki.identity(participant) / "signing-cert.pem").as_posix()}"'
    assert mine in text
    dest.write_text(
        text.replace(mine, f'signing_certificate = "{certificate.as_posix()}"'), encoding="utf-8"
    )
    return dest


async def test_a_hub_refuses_to_start_with_a_signing_certificate_of_another_ca(
    pki: DevPki, tmp_path: Path
) -> None:
    rogue = pki.identity("rogue") / "signing-cert.pem"  # claims nl, issued by the rogue CA
    registry = _registry_with(pki, tmp_path / "participants.toml", "nl", rogue)
    with pytest.raises(ConfigError) as refused:
        async with hub_with_crl(pki, tmp_path, registry):
            pass
    assert refused.value.message == (
        f"{registry}: participant nl: signing_certificate is not issued by the network CA"
    )


async def test_a_reload_with_a_signing_certificate_of_another_ca_is_refused(
    pki: DevPki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    registry = _registry_with(
        pki, tmp_path / "participants.toml", "nl", pki.identity("nl") / "signing-cert.pem"
    )
    async with hub_with_crl(pki, tmp_path, registry) as hub:
        good = registry.read_text(encoding="utf-8")
        _registry_with(pki, registry, "nl", pki.identity("rogue") / "signing-cert.pem")
        assert registry.read_text(encoding="utf-8") != good
        with caplog.at_level(logging.ERROR):
            assert not hub.hub.reload_registry()
        assert (
            f"registry not reloaded, the one in use stays: {registry}: participant nl:"
            " signing_certificate is not issued by the network CA"
        ) in caplog.text
        async with hub.client("nl") as nl:  # nl's own key, in use, still signs
            denial = await nl.submit_denial(dual_use_payload("NL-2026-0105"))
        async with hub.client("de") as de:
            await de.verify_denial(denial)


@pytest.mark.parametrize("substitute", ["rogue", "de"], ids=["another-ca", "another-participant"])
async def test_a_client_never_uses_a_signing_certificate_the_network_ca_did_not_issue_to_its_owner(
    hub: RunningHub, substitute: str
) -> None:
    """The hub's answer with nl's certificate swapped for one of the rogue CA (which names nl)
    or for de's: the client drops nl's key and keeps everyone else's."""
    response = await _list_participants(hub, "de")
    assert response.crl == hub.pki.crl.read_text()
    network_ca = _certificate(hub.pki.ca_cert)
    now = dt.datetime.now(dt.UTC)
    honest = published_signers(response, network_ca, now)
    owners = sorted(owner for owner, _ in honest.signers.keys.values())
    assert owners == sorted(p.id for p in response.participants if p.signing_certificate)

    swapped = (hub.pki.identity(substitute) / "signing-cert.pem").read_text()
    for p in response.participants:
        if p.id == "nl":
            p.signing_certificate = swapped
    shown = published_signers(response, network_ca, now)
    assert sorted(owner for owner, _ in shown.signers.keys.values()) == [
        o for o in owners if o != "nl"
    ]
