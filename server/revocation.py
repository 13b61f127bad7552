"""The network CA and its CRL, as the hub holds them: the CRL is re-read when the file changes,
and one list serves every check (TLS peers, signing certificates, what ListParticipants shows).
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from pathlib import Path

from cryptography import x509

from client.core.signers import Revocations, SignerError
from server.config import TlsConfig
from server.errors import ConfigError, RevocationUnknown

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
        self.network_ca = ca_cert
        self._mtime_ns = -1
        self._list: Revocations | None = None
        self._stale_reported = False
        self._checked = time.monotonic()
        self._load()

    @classmethod
    def for_tls(cls, tls: TlsConfig, ca_pem: bytes | None = None) -> RevocationList:
        """The network CA and CRL that the hub's TLS settings name (ca_pem: the CA file as
        already read)."""
        if ca_pem is None:
            try:
                ca_pem = tls.client_ca.read_bytes()
            except OSError as e:
                raise ConfigError(f"cannot read {tls.client_ca}: {e.strerror}") from e
        try:
            ca = x509.load_pem_x509_certificate(ca_pem)
        except ValueError as e:
            raise ConfigError(f"{tls.client_ca} is not a PEM certificate") from e
        return cls(tls.crl, ca)

    @property
    def revocations(self) -> Revocations | None:
        """The list in use; None if the hub is configured without a CRL."""
        return self._list

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
            fresh = Revocations.verified(self._path.read_bytes(), self.network_ca)
        except OSError as e:
            raise ConfigError(f"cannot read CRL {self._path}: {e.strerror}") from e
        except SignerError as e:
            raise ConfigError(f"CRL {self._path}: {e}") from e
        if self._list is not None and fresh.last_update < self._list.last_update:
            raise ConfigError(f"CRL {self._path} is older than the one in use")
        self._list = fresh
        self._stale_reported = False
        log.info("loaded CRL with %d revoked certificates", len(fresh.revoked))

    def check_current(self, now: dt.datetime) -> None:
        """Refuse to decide on revocation with a list past its next update."""
        next_update = self._list.next_update if self._list is not None else None
        if next_update is None or now <= next_update:
            return
        if not self._stale_reported:
            self._stale_reported = True
            log.error(
                "CRL %s was due for replacement at %s: every call is refused until it is",
                self._path,
                next_update.isoformat(),
            )
        raise RevocationUnknown("the hub cannot check revocation: its CRL is out of date")

    def is_revoked(self, serial: int) -> bool:
        return self._list is not None and self._list.revoked_on(serial) is not None
