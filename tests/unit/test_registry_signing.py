"""What the hub accepts as a participant's signature: by a key the network CA certified for that
participant; a new one only while its certificate has neither expired nor been revoked, a stored
one as of when it was signed."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from client.core.envelope import DENIAL_PAYLOAD_TYPE, sign
from server.domain.participants import SPIFFE_PREFIX, Participant, ParticipantStatus, Role
from server.errors import BadSignature, ConfigError
from server.registry import Registry
from server.revocation import RevocationList

ISSUED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
EXPIRES = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
REVOKED = dt.datetime(2025, 6, 1, 12, 0, tzinfo=dt.UTC)
CA_NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test network CA")])
KEYID = "envelope.signatures[0].keyid"


class Ca:
    """A network CA of the test's own: issues signing certificates and CRLs."""

    def __init__(self) -> None:
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.cert = (
            x509.CertificateBuilder()
            .subject_name(CA_NAME)
            .issuer_name(CA_NAME)
            .public_key(self.key.public_key())
            .serial_number(1)
            .not_valid_before(ISSUED)
            .not_valid_after(ISSUED + dt.timedelta(days=3650))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .sign(self.key, hashes.SHA256())
        )

    def signing_certificate(self, key: ed25519.Ed25519PrivateKey, owner: str) -> x509.Certificate:
        return (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, owner)]))
            .issuer_name(CA_NAME)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(ISSUED)
            .not_valid_after(EXPIRES)
            .add_extension(
                x509.SubjectAlternativeName(
                    [x509.UniformResourceIdentifier(SPIFFE_PREFIX + owner)]
                ),
                critical=False,
            )
            .sign(self.key, hashes.SHA256())
        )

    def crl(
        self,
        path: Path,
        revoked: dict[int, dt.datetime],
        *,
        invalid_from: dt.datetime | None = None,
    ) -> Path:
        builder = (
            x509.CertificateRevocationListBuilder()
            .issuer_name(CA_NAME)
            .last_update(ISSUED)
            .next_update(EXPIRES + dt.timedelta(days=365))
        )
        for serial, when in revoked.items():
            entry = x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when)
            if invalid_from is not None:
                entry = entry.add_extension(x509.InvalidityDate(invalid_from), critical=False)
            builder = builder.add_revoked_certificate(entry.build())
        crl = builder.sign(self.key, hashes.SHA256())
        path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
        return path


def _nl(certificate: x509.Certificate) -> Participant:
    pem = certificate.public_bytes(serialization.Encoding.PEM).decode()
    return Participant(
        "nl", "NL", "Netherlands", frozenset({Role.AUTHORITY}), ParticipantStatus.ACTIVE, pem
    )


def test_a_signature_by_a_key_whose_certificate_expired_is_refused() -> None:
    ca = Ca()
    key = ed25519.Ed25519PrivateKey.generate()
    registry = Registry([_nl(ca.signing_certificate(key, "nl"))], RevocationList(None, ca.cert))
    envelope = sign(b"payload", DENIAL_PAYLOAD_TYPE, key)
    verified = registry.verify(envelope, DENIAL_PAYLOAD_TYPE, EXPIRES - dt.timedelta(days=1))
    assert verified.signer == "nl"
    with pytest.raises(BadSignature) as refused:
        registry.verify(envelope, DENIAL_PAYLOAD_TYPE, EXPIRES + dt.timedelta(seconds=1))
    assert [v.field for v in refused.value.violations] == [KEYID]
    assert "expired on 2026-01-01" in refused.value.message
    # A stored signature stays good after its certificate expired.
    assert registry.verify_as_of(envelope, DENIAL_PAYLOAD_TYPE, EXPIRES).signer == "nl"


def test_a_key_on_the_crl_signs_nothing_new_and_counts_only_for_what_it_signed_before(
    tmp_path: Path,
) -> None:
    ca = Ca()
    key = ed25519.Ed25519PrivateKey.generate()
    certificate = ca.signing_certificate(key, "nl")
    crl = RevocationList(
        ca.crl(tmp_path / "crl.pem", {certificate.serial_number: REVOKED}), ca.cert
    )
    registry = Registry([_nl(certificate)], crl)
    envelope = sign(b"payload", DENIAL_PAYLOAD_TYPE, key)
    for now in (REVOKED + dt.timedelta(seconds=1), REVOKED - dt.timedelta(days=1)):
        with pytest.raises(BadSignature) as refused:
            registry.verify(envelope, DENIAL_PAYLOAD_TYPE, now)
        assert [v.field for v in refused.value.violations] == [KEYID]
        assert "the signing certificate of nl was revoked on 2025-06-01" in refused.value.message

    before = REVOKED - dt.timedelta(seconds=1)
    assert registry.verify_as_of(envelope, DENIAL_PAYLOAD_TYPE, before).signer == "nl"
    for signed_at in (REVOKED, REVOKED + dt.timedelta(days=1)):
        with pytest.raises(BadSignature) as refused:
            registry.verify_as_of(envelope, DENIAL_PAYLOAD_TYPE, signed_at)
        assert [v.field for v in refused.value.violations] == [KEYID]


def test_a_stored_signature_counts_only_before_the_key_became_invalid(tmp_path: Path) -> None:
    """RFC 5280 §5.3.2: a compromised key is invalid from the invalidity date, which may come
    before the date the CA revoked it."""
    ca = Ca()
    key = ed25519.Ed25519PrivateKey.generate()
    certificate = ca.signing_certificate(key, "nl")
    compromised = REVOKED - dt.timedelta(days=30)
    path = ca.crl(
        tmp_path / "crl.pem", {certificate.serial_number: REVOKED}, invalid_from=compromised
    )
    registry = Registry([_nl(certificate)], RevocationList(path, ca.cert))
    envelope = sign(b"payload", DENIAL_PAYLOAD_TYPE, key)
    before = compromised - dt.timedelta(seconds=1)
    assert registry.verify_as_of(envelope, DENIAL_PAYLOAD_TYPE, before).signer == "nl"
    with pytest.raises(BadSignature, match="revoked on 2025-05-02"):
        registry.verify_as_of(envelope, DENIAL_PAYLOAD_TYPE, compromised + dt.timedelta(days=1))


def test_the_crl_in_use_stays_with_a_registry_replaced(tmp_path: Path) -> None:
    ca = Ca()
    key = ed25519.Ed25519PrivateKey.generate()
    certificate = ca.signing_certificate(key, "nl")
    crl = RevocationList(
        ca.crl(tmp_path / "crl.pem", {certificate.serial_number: REVOKED}), ca.cert
    )
    registry = Registry([], crl)
    registry.replace(Registry([_nl(certificate)], RevocationList(None, ca.cert)))
    with pytest.raises(BadSignature, match="revoked"):
        registry.verify(sign(b"payload", DENIAL_PAYLOAD_TYPE, key), DENIAL_PAYLOAD_TYPE, REVOKED)


def test_a_signing_certificate_the_network_ca_did_not_issue_is_refused() -> None:
    ca = Ca()
    # The impostor takes the network CA's name: only the signature tells them apart.
    impostor = Ca()
    certificate = impostor.signing_certificate(ed25519.Ed25519PrivateKey.generate(), "nl")
    with pytest.raises(ConfigError) as refused:
        Registry([_nl(certificate)], RevocationList(None, ca.cert))
    assert refused.value.message == (
        "participant nl: signing_certificate is not issued by the network CA"
    )


def test_a_signing_certificate_issued_to_another_participant_is_refused() -> None:
    ca = Ca()
    certificate = ca.signing_certificate(ed25519.Ed25519PrivateKey.generate(), "de")
    with pytest.raises(
        ConfigError, match="participant nl: signing_certificate is not issued to nl"
    ):
        Registry([_nl(certificate)], RevocationList(None, ca.cert))
