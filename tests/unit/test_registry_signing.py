"""What the hub accepts as a participant's signature: a registered key, whose certificate has not
expired by the hub's clock."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import NameOID

from client.core.envelope import DENIAL_PAYLOAD_TYPE, sign
from server.domain.participants import Participant, ParticipantStatus, Role
from server.errors import BadSignature
from server.registry import Registry

ISSUED = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
EXPIRES = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _signing_certificate(key: ed25519.Ed25519PrivateKey) -> str:
    ca_key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nl")])
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(ISSUED)
        .not_valid_after(EXPIRES)
        .sign(ca_key, hashes.SHA256())
    )
    return cert.public_bytes(serialization.Encoding.PEM).decode()


def test_a_signature_by_a_key_whose_certificate_expired_is_refused() -> None:
    key = ed25519.Ed25519PrivateKey.generate()
    registry = Registry(
        [
            Participant(
                "nl",
                "NL",
                "Netherlands",
                frozenset({Role.AUTHORITY}),
                ParticipantStatus.ACTIVE,
                _signing_certificate(key),
            )
        ]
    )
    envelope = sign(b"payload", DENIAL_PAYLOAD_TYPE, key)
    verified = registry.verify(envelope, DENIAL_PAYLOAD_TYPE, EXPIRES - dt.timedelta(days=1))
    assert verified.signer == "nl"
    with pytest.raises(BadSignature) as refused:
        registry.verify(envelope, DENIAL_PAYLOAD_TYPE, EXPIRES + dt.timedelta(seconds=1))
    assert [v.field for v in refused.value.violations] == ["envelope.signatures[0].keyid"]
    assert "expired on 2026-01-01" in refused.value.message
