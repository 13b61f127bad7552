"""DSSE envelopes: sign the exact payload bytes, verify the bytes received.

Follows the DSSE v1 protocol (github.com/secure-systems-lab/dsse, "protocol.md"): the signature is
over PAE(payload_type, payload), so the payload is never re-serialised before verification.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from ecx.v1 import common_pb2

DENIAL_PAYLOAD_TYPE = "application/vnd.ecx.denial.v1+protobuf"
DENIAL_CHANGE_PAYLOAD_TYPE = "application/vnd.ecx.denial-change.v1+protobuf"
CONSULTATION_PAYLOAD_TYPE = "application/vnd.ecx.consultation.v1+protobuf"
ENCRYPTION_KEY_PAYLOAD_TYPE = "application/vnd.ecx.encryption-key.v1+protobuf"
NOTICE_PAYLOAD_TYPE = "application/vnd.ecx.notice.v1+protobuf"

SigningKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey
VerifyingKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey


class EnvelopeError(Exception):
    """An envelope does not verify; `field` names the part at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def pae(payload_type: str, payload: bytes) -> bytes:
    """DSSE pre-authentication encoding: the only bytes ever signed."""
    kind = payload_type.encode()
    return b"DSSEv1 %d %s %d %s" % (len(kind), kind, len(payload), payload)


def key_id(public_key: VerifyingKey) -> str:
    """Hex SHA-256 of the DER SubjectPublicKeyInfo: names a signing key without trusting a label."""
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def verifying_key_of(certificate: x509.Certificate) -> VerifyingKey:
    """The public key of a signing certificate, if it is of a kind ecx accepts."""
    key = certificate.public_key()
    if isinstance(key, ed25519.Ed25519PublicKey):
        return key
    if isinstance(key, ec.EllipticCurvePublicKey) and isinstance(key.curve, ec.SECP256R1):
        return key
    raise EnvelopeError("signing_certificate", "key must be Ed25519 or ECDSA P-256")


def sign(payload: bytes, payload_type: str, key: SigningKey) -> common_pb2.Envelope:
    """Wrap payload bytes in an envelope signed by key."""
    message = pae(payload_type, payload)
    if isinstance(key, ed25519.Ed25519PrivateKey):
        signature = key.sign(message)
    else:
        signature = key.sign(message, ec.ECDSA(hashes.SHA256()))
    return common_pb2.Envelope(
        payload=payload,
        payload_type=payload_type,
        signatures=[common_pb2.Signature(keyid=key_id(key.public_key()), sig=signature)],
    )


def _signature_valid(key: VerifyingKey, signature: bytes, message: bytes) -> bool:
    try:
        if isinstance(key, ed25519.Ed25519PublicKey):
            key.verify(signature, message)
        else:
            key.verify(signature, message, ec.ECDSA(hashes.SHA256()))
    except InvalidSignature:
        return False
    return True


@dataclass(frozen=True)
class VerifiedEnvelope:
    """An envelope whose single signature verified; `signer` is the key owner's name."""

    payload: bytes
    payload_type: str
    signer: str


def verify_envelope(
    envelope: common_pb2.Envelope,
    expected_type: str,
    keys: Mapping[str, tuple[str, VerifyingKey]],
) -> VerifiedEnvelope:
    """Verify an envelope carrying exactly one signature by one of `keys` (keyid -> (owner, key)).

    Raises EnvelopeError naming the field at fault.
    """
    if envelope.payload_type != expected_type:
        raise EnvelopeError("envelope.payload_type", f"must be {expected_type}")
    if not envelope.payload:
        raise EnvelopeError("envelope.payload", "must not be empty")
    if len(envelope.signatures) != 1:
        raise EnvelopeError("envelope.signatures", "must hold exactly one signature")
    signature = envelope.signatures[0]
    known = keys.get(signature.keyid)
    if known is None:
        raise EnvelopeError("envelope.signatures[0].keyid", "not a registered signing key")
    owner, key = known
    if not _signature_valid(key, signature.sig, pae(envelope.payload_type, envelope.payload)):
        raise EnvelopeError("envelope.signatures[0].sig", "signature does not verify")
    return VerifiedEnvelope(envelope.payload, envelope.payload_type, owner)
