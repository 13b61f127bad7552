"""Who is calling: parsed once per call from the verified client certificate, and nothing else.

grpcio has no CRL support, so the hub checks the peer certificate against the CRL itself (and the
registry status); connections are aged out so a revoked peer cannot keep an old session alive.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID

from server.clock import Clock
from server.domain.participants import SPIFFE_PREFIX, Caller, ParticipantStatus, Role
from server.errors import Unauthenticated
from server.registry import Registry
from server.revocation import RevocationList


@functools.lru_cache(maxsize=1024)
def _parse_certificate(pem: bytes) -> tuple[str, int, dt.datetime, bool]:
    """(participant id, serial, not_after, has clientAuth) of a client certificate."""
    cert = x509.load_pem_x509_certificate(pem)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        uris = san.get_values_for_type(x509.UniformResourceIdentifier)
    except x509.ExtensionNotFound:
        uris = []
    ids = [u[len(SPIFFE_PREFIX) :] for u in uris if u.startswith(SPIFFE_PREFIX)]
    try:
        eku = cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
        client_auth = ExtendedKeyUsageOID.CLIENT_AUTH in eku
    except x509.ExtensionNotFound:
        client_auth = False
    participant = ids[0] if len(ids) == 1 and len(uris) == 1 else ""
    return participant, cert.serial_number, cert.not_valid_after_utc, client_auth


class Authenticator:
    """Maps a verified TLS peer to a registered, active, unrevoked participant."""

    def __init__(self, registry: Registry, crl: RevocationList, clock: Clock) -> None:
        self._registry = registry
        self._crl = crl
        self._clock = clock

    def authorities_of(self, member_state: str) -> tuple[str, ...]:
        """The registered authorities of one member state."""
        return tuple(
            p.id
            for p in self._registry.all()
            if p.member_state == member_state and Role.AUTHORITY in p.roles
        )

    def caller(self, auth_context: Mapping[str, Iterable[bytes]]) -> Caller:
        """The caller of one RPC, or Unauthenticated."""
        pems = list(auth_context.get("x509_pem_cert", []))
        if len(pems) != 1:
            raise Unauthenticated("a client certificate from the network CA is required")
        try:
            pid, serial, not_after, client_auth = _parse_certificate(pems[0])
        except ValueError as e:
            raise Unauthenticated("client certificate cannot be parsed") from e
        if not pid:
            raise Unauthenticated("client certificate must carry exactly one ecx SPIFFE URI")
        if not client_auth:
            raise Unauthenticated("client certificate is not for client authentication")
        if not_after < self._clock.now():
            raise Unauthenticated("client certificate has expired")
        self._crl.refresh()
        self._crl.check_current(self._clock.now())
        if self._crl.is_revoked(serial):
            raise Unauthenticated("client certificate is revoked")
        participant = self._registry.get(pid)
        if participant is None:
            raise Unauthenticated(f"participant {pid} is not registered")
        if participant.status is not ParticipantStatus.ACTIVE:
            raise Unauthenticated(f"participant {pid} is suspended")
        return Caller(participant, serial, not_after)
