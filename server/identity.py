"""Who is calling: parsed once per call from the verified client certificate, and nothing else.

grpcio has no CRL support, so the hub checks the peer certificate against the CRL itself (and the
registry status); connections are aged out so a revoked peer cannot keep an old session alive.
"""

from __future__ import annotations

import datetime as dt
import functools
import logging
import time
from collections.abc import Iterable, Mapping
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from server.clock import Clock
from server.domain.participants import SPIFFE_PREFIX, Caller, ParticipantStatus
from server.errors import ConfigError, RevocationUnknown, Unauthenticated
from server.registry import Registry

log = logging.getLogger(__name__)


class RevocationList:
    """The network CA's CRL, re-read when the file changes.

    A CRL that cannot be read at start stops the hub. Later, a replacement that cannot be read,
    is not signed by the network CA or is older than the list in use is logged and ignored: the
    list in use stays. Once the list in use is past its next update, revocation cannot be
    checked and every call is refused (`check_current`) until a current CRL is in place.
    """

    # A replaced CRL file takes effect within this many seconds.
    RECHECK_SECONDS = 1.0

    def __init__(self, path: Path | None, ca_cert: x509.Certificate) -> None:
        self._path = path
        self._ca = ca_cert
        self._mtime_ns = -1
        self._serials: frozenset[int] = frozenset()
        self._last_update: dt.datetime | None = None
        self._next_update: dt.datetime | None = None
        self._stale_reported = False
        self._checked = time.monotonic()
        self._load()

    def refresh(self) -> None:
        if self._path is None:
            return
        now = time.monotonic()
        if now - self._checked < self.RECHECK_SECONDS:
            return
        self._checked = now
        try:
            self._load()
        except ConfigError as e:
            log.error("CRL not replaced, the one in use stays: %s", e)

    def _load(self) -> None:
        if self._path is None:
            return
        try:
            mtime = self._path.stat().st_mtime_ns
        except OSError as e:
            raise ConfigError(f"cannot read CRL {self._path}: {e.strerror}") from e
        if mtime == self._mtime_ns:
            return
        # A file that fails is reported once, not at every recheck, until it changes again.
        self._mtime_ns = mtime
        try:
            crl = x509.load_pem_x509_crl(self._path.read_bytes())
        except (OSError, ValueError) as e:
            raise ConfigError(f"cannot read CRL {self._path}: not a PEM CRL") from e
        ca_key = self._ca.public_key()
        if not isinstance(ca_key, ec.EllipticCurvePublicKey) or not crl.is_signature_valid(ca_key):
            raise ConfigError(f"CRL {self._path} is not signed by the network CA")
        if self._last_update is not None and crl.last_update_utc < self._last_update:
            raise ConfigError(f"CRL {self._path} is older than the one in use")
        self._serials = frozenset(entry.serial_number for entry in crl)
        self._last_update = crl.last_update_utc
        self._next_update = crl.next_update_utc
        self._stale_reported = False
        log.info("loaded CRL with %d revoked certificates", len(self._serials))

    def check_current(self, now: dt.datetime) -> None:
        """Refuse to decide on revocation with a list past its next update."""
        if self._next_update is None or now <= self._next_update:
            return
        if not self._stale_reported:
            self._stale_reported = True
            log.error(
                "CRL %s was due for replacement at %s: every call is refused until it is",
                self._path,
                self._next_update.isoformat(),
            )
        raise RevocationUnknown("the hub cannot check revocation: its CRL is out of date")

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
        self._crl.check_current(self._clock.now())
        if self._crl.is_revoked(serial):
            raise Unauthenticated("client certificate is revoked")
        participant = self._registry.get(pid)
        if participant is None:
            raise Unauthenticated(f"participant {pid} is not registered")
        if participant.status is not ParticipantStatus.ACTIVE:
            raise Unauthenticated(f"participant {pid} is suspended")
        return Caller(participant, serial, not_after)
