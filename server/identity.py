"""Who is calling: parsed once per call from the verified client certificate, and nothing else.

grpcio has no CRL support, so the hub checks the peer certificate against the CRL itself (and the
registry status); connections are aged out so a revoked peer cannot keep an old session alive.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import math
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from server.clock import Clock
from server.domain.participants import SPIFFE_PREFIX, Caller, ParticipantStatus
from server.errors import ConfigError, Unauthenticated
from server.registry import Registry

log = logging.getLogger(__name__)


class RevocationList:
    """The network CA's CRL, re-read when the file changes."""

    # A replaced CRL file takes effect within this many seconds.
    RECHECK_SECONDS = 1.0

    def __init__(self, path: Path | None, ca_cert: x509.Certificate) -> None:
        self._path = path
        self._ca = ca_cert
        self._mtime_ns = -1
        self._checked = -math.inf
        self._serials: frozenset[int] = frozenset()
        self._next_update: dt.datetime | None = None
        self.refresh()

    def refresh(self) -> None:
        if self._path is None:
            return
        now = time.monotonic()
        if now - self._checked < self.RECHECK_SECONDS:
            return
        self._checked = now
        try:
            mtime = self._path.stat().st_mtime_ns
        except OSError as e:
            raise ConfigError(f"cannot read CRL {self._path}: {e}") from e
        if mtime == self._mtime_ns:
            return
        crl = x509.load_pem_x509_crl(self._path.read_bytes())
        ca_key = self._ca.public_key()
        if not isinstance(ca_key, ec.EllipticCurvePublicKey) or not crl.is_signature_valid(ca_key):
            raise ConfigError(f"CRL {self._path} is not signed by the network CA")
        self._serials = frozenset(entry.serial_number for entry in crl)
        self._next_update = crl.next_update_utc
        self._mtime_ns = mtime
        log.info("loaded CRL with %d revoked certificates", len(self._serials))

    def is_revoked(self, serial: int) -> bool:
        return serial in self._serials


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
        if self._crl.is_revoked(serial):
            raise Unauthenticated("client certificate is revoked")
        participant = self._registry.get(pid)
        if participant is None:
            raise Unauthenticated(f"participant {pid} is not registered")
        if participant.status is not ParticipantStatus.ACTIVE:
            raise Unauthenticated(f"participant {pid} is suspended")
        return Caller(participant, serial, not_after)
