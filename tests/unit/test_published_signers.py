"""What a client takes from a ListParticipants answer: the signing certificates and the CRL that
its own pinned network CA vouches for, and nothing the hub could have put in their place."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from google.protobuf.timestamp_pb2 import Timestamp

from certs.devpki import DevPki
from client.core.signers import SignerError, published_signers, signing_time
from ecx.v1 import audit_pb2, participant_pb2

NOW = dt.datetime.now(dt.UTC)


def _network_ca(pki: DevPki) -> x509.Certificate:
    return x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())


def _answer(
    pki: DevPki, crl: str | None = None, **certificates: str
) -> participant_pb2.ListParticipantsResponse:
    """The answer a hub gives with nl's and de's own signing certificates, or those named."""
    participants = [
        participant_pb2.Participant(
            id=name,
            member_state=name.upper(),
            signing_certificate=(
                pki.identity(certificates.get(name, name)) / "signing-cert.pem"
            ).read_text(),
        )
        for name in ("nl", "de")
    ]
    return participant_pb2.ListParticipantsResponse(
        participants=participants, crl=pki.crl.read_text() if crl is None else crl
    )


def _crl(pki: DevPki, key: ec.EllipticCurvePrivateKey | None, next_update: dt.datetime) -> str:
    """A CRL in the network CA's name, signed with key (the CA's own if None)."""
    if key is None:
        loaded = serialization.load_pem_private_key(pki.ca_key.read_bytes(), None)
        assert isinstance(loaded, ec.EllipticCurvePrivateKey)
        key = loaded
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(_network_ca(pki).subject)
        .last_update(next_update - dt.timedelta(days=2))
        .next_update(next_update)
        .sign(key, hashes.SHA256())
    )
    return crl.public_bytes(serialization.Encoding.PEM).decode()


def _owners(pki: DevPki, answer: participant_pb2.ListParticipantsResponse) -> list[str]:
    published = published_signers(answer, _network_ca(pki), NOW)
    return sorted(owner for owner, _ in published.signers.keys.values())


def test_the_certificates_the_network_ca_issued_are_kept(pki: DevPki) -> None:
    answer = _answer(pki)
    assert _owners(pki, answer) == ["de", "nl"]
    published = published_signers(answer, _network_ca(pki), NOW)
    assert published.revocations.pem.decode() == pki.crl.read_text()
    assert dict(published.states) == {"nl": "NL", "de": "DE"}


@pytest.mark.parametrize(
    "substitute",
    ["rogue", "fr", "stranger"],
    ids=["another-ca-naming-nl", "another-participants", "a-stranger-of-the-network-ca"],
)
def test_a_certificate_not_issued_to_its_participant_is_left_out(
    pki: DevPki, substitute: str
) -> None:
    assert _owners(pki, _answer(pki, nl=substitute)) == ["de"]


@pytest.mark.parametrize(
    ("crl", "message"),
    [
        pytest.param("", "the hub's CRL cannot be used: not a PEM CRL", id="none"),
        pytest.param(
            "signed-by-another-key",
            "the hub's CRL cannot be used: not signed by the network CA",
            id="another-key",
        ),
        pytest.param(
            "out-of-date", "the hub's CRL is out of date: its next update was due at", id="stale"
        ),
    ],
)
def test_a_crl_the_client_cannot_rely_on_is_refused(pki: DevPki, crl: str, message: str) -> None:
    if crl == "signed-by-another-key":
        crl = _crl(pki, ec.generate_private_key(ec.SECP256R1()), NOW + dt.timedelta(days=1))
    elif crl == "out-of-date":
        crl = _crl(pki, None, NOW - dt.timedelta(seconds=1))
    with pytest.raises(SignerError) as refused:
        published_signers(_answer(pki, crl), _network_ca(pki), NOW)
    assert str(refused.value).startswith(message)


def _entry(*object_ids: str, at: dt.datetime | None = None) -> bytes:
    entry = audit_pb2.LogEntry(index=7, object_ids=object_ids, outcome="OK")
    if at is not None:
        stamp = Timestamp()
        stamp.FromDatetime(at)
        entry.time.CopyFrom(stamp)
    return entry.SerializeToString()


def test_the_signing_time_is_the_time_of_the_statements_own_log_entry() -> None:
    at = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
    assert signing_time(_entry("denial:NL-2026-0001:v2", at=at), "denial:NL-2026-0001:v2") == at
    for entry, reason in (
        (_entry("denial:NL-2026-0001:v1", at=at), "not about denial:NL-2026-0001:v2"),
        (_entry("denial:NL-2026-0001:v2"), "carries no log entry"),
        (b"", "carries no log entry"),
        (b"\xff\xff", "cannot be decoded"),
    ):
        with pytest.raises(SignerError, match=reason):
            signing_time(entry, "denial:NL-2026-0001:v2")
