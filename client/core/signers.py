"""Whose signatures count: signing certificates the network CA issued to the participant they
name, and its CRL, which says from when a certificate's signatures no longer count.

The hub and every client decide this with the same code; neither takes a signing certificate
on trust from the other. Revocation follows RFC 5280 §5.3: a certificate counts as revoked from
its revocationDate, or from its invalidityDate (§5.3.2) if that is earlier.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from google.protobuf.message import DecodeError

from client.core.envelope import (
    EnvelopeError,
    VerifiedEnvelope,
    VerifyingKey,
    key_id,
    verify_envelope,
    verifying_key_of,
)
from ecx.v1 import audit_pb2, common_pb2, participant_pb2

SPIFFE_PREFIX = "spiffe://ecx.eu/participant/"
KEYID_FIELD = "envelope.signatures[0].keyid"


class SignerError(Exception):
    """A signing certificate, a CRL or a signing time cannot be trusted; str() says why."""


@dataclass(frozen=True)
class SigningCertificate:
    """What verification needs to know of one participant's signing certificate, parsed once."""

    owner: str
    key: VerifyingKey
    keyid: str
    serial: int
    not_after: dt.datetime

    @classmethod
    def issued(cls, owner: str, pem: bytes, network_ca: x509.Certificate) -> SigningCertificate:
        """The certificate in pem, if the network CA issued it to owner; SignerError if not."""
        try:
            cert = x509.load_pem_x509_certificate(pem)
        except ValueError as e:
            raise SignerError("signing_certificate is not a PEM certificate") from e
        try:
            cert.verify_directly_issued_by(network_ca)
        except (ValueError, TypeError, InvalidSignature) as e:
            raise SignerError("signing_certificate is not issued by the network CA") from e
        if SPIFFE_PREFIX + owner not in _uris(cert):
            raise SignerError(
                f"signing_certificate is not issued to {owner}"
                f" (it must name {SPIFFE_PREFIX}{owner})"
            )
        try:
            key = verifying_key_of(cert)
        except EnvelopeError as e:
            raise SignerError(f"signing_certificate: {e.reason}") from e
        return cls(owner, key, key_id(key), cert.serial_number, cert.not_valid_after_utc)


def _uris(cert: x509.Certificate) -> list[str]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return san.get_values_for_type(x509.UniformResourceIdentifier)


@dataclass(frozen=True)
class Revocations:
    """A CRL of the network CA: from when each revoked certificate no longer counts."""

    # The list as PEM, re-encoded from what was parsed.
    pem: bytes
    last_update: dt.datetime
    next_update: dt.datetime | None
    revoked: Mapping[int, dt.datetime]

    @classmethod
    def verified(cls, pem: bytes, network_ca: x509.Certificate) -> Revocations:
        """The CRL in pem, if the network CA signed it; SignerError if not."""
        try:
            crl = x509.load_pem_x509_crl(pem)
        except ValueError as e:
            raise SignerError("not a PEM CRL") from e
        ca_key = network_ca.public_key()
        if not isinstance(
            ca_key, ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey | rsa.RSAPublicKey
        ):
            raise SignerError("the network CA's key cannot sign a CRL")
        try:
            signed = crl.issuer == network_ca.subject and crl.is_signature_valid(ca_key)
        except (ValueError, TypeError) as e:
            raise SignerError("not signed by the network CA") from e
        if not signed:
            raise SignerError("not signed by the network CA")
        revoked = {entry.serial_number: _revoked_from(entry) for entry in crl}
        return cls(
            crl.public_bytes(serialization.Encoding.PEM),
            crl.last_update_utc,
            crl.next_update_utc,
            MappingProxyType(revoked),
        )

    def revoked_on(self, serial: int) -> dt.datetime | None:
        """When the certificate with this serial stopped counting; None if it is not listed."""
        return self.revoked.get(serial)

    def is_current(self, now: dt.datetime) -> bool:
        """Whether the list may still be relied on: not past its next update."""
        return self.next_update is None or now <= self.next_update


def _revoked_from(entry: x509.RevokedCertificate) -> dt.datetime:
    revoked = entry.revocation_date_utc
    try:
        invalid = entry.extensions.get_extension_for_class(x509.InvalidityDate).value
    except x509.ExtensionNotFound:
        return revoked
    return min(revoked, invalid.invalidity_date_utc)


@dataclass(frozen=True)
class SignerSet:
    """Signing certificates by key id; `keys` in the form verify_envelope takes."""

    certificates: Mapping[str, SigningCertificate]
    keys: Mapping[str, tuple[str, VerifyingKey]] = field(init=False)

    def __post_init__(self) -> None:
        keys = {keyid: (c.owner, c.key) for keyid, c in self.certificates.items()}
        object.__setattr__(self, "keys", MappingProxyType(keys))

    @classmethod
    def of(cls, certificates: Iterable[SigningCertificate]) -> SignerSet:
        return cls(MappingProxyType({c.keyid: c for c in certificates}))

    def verify(
        self, envelope: common_pb2.Envelope, payload_type: str
    ) -> tuple[VerifiedEnvelope, SigningCertificate]:
        """The envelope's single signature by one of these keys, and that key's certificate;
        EnvelopeError naming the field otherwise."""
        verified = verify_envelope(envelope, payload_type, self.keys)
        return verified, self.certificates[envelope.signatures[0].keyid]

    def verify_as_of(
        self,
        envelope: common_pb2.Envelope,
        payload_type: str,
        revocations: Revocations | None,
        signed_at: dt.datetime,
    ) -> VerifiedEnvelope:
        """A signature made at signed_at: it counts unless its key was revoked at or before
        then (a certificate that expired since does not matter). EnvelopeError otherwise."""
        verified, certificate = self.verify(envelope, payload_type)
        revoked = revocations.revoked_on(certificate.serial) if revocations else None
        if revoked is not None and revoked <= signed_at:
            raise EnvelopeError(KEYID_FIELD, revoked_reason(certificate, revoked))
        return verified


def revoked_reason(certificate: SigningCertificate, revoked: dt.datetime) -> str:
    return f"the signing certificate of {certificate.owner} was revoked on {revoked.date()}"


@dataclass(frozen=True)
class PublishedSigners:
    """The signing certificates and CRL the hub publishes, as far as the network CA vouches."""

    signers: SignerSet
    revocations: Revocations
    # Member state by participant id, of every participant listed.
    states: Mapping[str, str]


def published_signers(
    response: participant_pb2.ListParticipantsResponse,
    network_ca: x509.Certificate,
    now: dt.datetime,
) -> PublishedSigners:
    """What a ListParticipants answer says about signers, checked against the pinned network
    CA: a certificate it did not issue to that participant is left out; a CRL it did not sign,
    or past its next update, is refused with SignerError."""
    try:
        revocations = Revocations.verified(response.crl.encode(), network_ca)
    except SignerError as e:
        raise SignerError(f"the hub's CRL cannot be used: {e}") from e
    if revocations.next_update is None:
        raise SignerError("the hub's CRL is out of date: it names no next update")
    if not revocations.is_current(now):
        raise SignerError(
            "the hub's CRL is out of date: its next update was due at"
            f" {revocations.next_update.isoformat()}"
        )
    certificates = []
    for p in response.participants:
        if not p.signing_certificate:
            continue
        try:
            certificate = SigningCertificate.issued(
                p.id, p.signing_certificate.encode(), network_ca
            )
        except SignerError:
            continue
        certificates.append(certificate)
    states = MappingProxyType({p.id: p.member_state for p in response.participants})
    return PublishedSigners(SignerSet.of(certificates), revocations, states)


def signing_time(log_entry: bytes, object_id: str) -> dt.datetime:
    """When a stored statement was signed, at the latest: the time of the log entry that
    recorded it, which must be the entry of that statement (object_id, e.g.
    "denial:NL-2026-0001:v2"); SignerError otherwise. (That the entry is in the log is proved
    apart, with an inclusion proof.)"""
    try:
        entry = audit_pb2.LogEntry.FromString(log_entry)
    except DecodeError as e:
        raise SignerError("its log entry cannot be decoded") from e
    if not entry.HasField("time"):
        raise SignerError("it carries no log entry to date its signature")
    if object_id not in entry.object_ids:
        raise SignerError(f"its log entry is not about {object_id}")
    return entry.time.ToDatetime(tzinfo=dt.UTC)
