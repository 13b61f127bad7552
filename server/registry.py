"""The participant registry, configured by the operator in a TOML file."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from types import MappingProxyType
from typing import Any

from cryptography import x509

from client.core.envelope import (
    EnvelopeError,
    VerifiedEnvelope,
    VerifyingKey,
    key_id,
    verify_envelope,
    verifying_key_of,
)
from ecx.v1 import common_pb2
from server.domain.countries import normalize_country
from server.domain.participants import Participant, ParticipantStatus, Role
from server.errors import BadSignature, ConfigError

_ID = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")


class Registry:
    """Participants by id, and their signing keys by key id."""

    def __init__(self, participants: Iterable[Participant]) -> None:
        by_id: dict[str, Participant] = {}
        keys: dict[str, tuple[str, VerifyingKey]] = {}
        expiry: dict[str, dt.datetime] = {}
        for p in participants:
            if p.id in by_id:
                raise ConfigError(f"participant {p.id} is listed twice")
            by_id[p.id] = p
            if p.signing_certificate_pem:
                cert = x509.load_pem_x509_certificate(p.signing_certificate_pem.encode())
                try:
                    key = verifying_key_of(cert)
                except EnvelopeError as e:
                    raise ConfigError(f"participant {p.id}: {e}") from e
                keys[key_id(key)] = (p.id, key)
                expiry[key_id(key)] = cert.not_valid_after_utc
        self._by_id = MappingProxyType(by_id)
        self.signing_keys: Mapping[str, tuple[str, VerifyingKey]] = MappingProxyType(keys)
        self._expiry = expiry

    def verify(
        self, envelope: common_pb2.Envelope, payload_type: str, now: dt.datetime
    ) -> VerifiedEnvelope:
        """The envelope's single signature, by a registered key whose certificate has not
        expired; BadSignature naming the field otherwise. (Signatures already stored stay
        verifiable by anyone: this decides only what the hub accepts.)"""
        try:
            verified = verify_envelope(envelope, payload_type, self.signing_keys)
        except EnvelopeError as e:
            raise BadSignature.field(e.field, e.reason) from e
        expires = self._expiry[envelope.signatures[0].keyid]
        if now > expires:
            raise BadSignature.field(
                "envelope.signatures[0].keyid",
                f"the signing certificate of {verified.signer} expired on {expires.date()}",
            )
        return verified

    def get(self, participant_id: str) -> Participant | None:
        return self._by_id.get(participant_id)

    def all(self) -> list[Participant]:
        return sorted(self._by_id.values(), key=lambda p: p.id)

    @classmethod
    def load(cls, path: Path) -> Registry:
        """Read participants.toml; signing certificate paths are relative to the file."""
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read participant registry {path}: {e}") from e
        entries = raw.get("participant", [])
        if not isinstance(entries, list):
            raise ConfigError("registry: [[participant]] entries expected")
        return cls(_participant(entry, path.parent) for entry in entries)


def _participant(entry: Any, base: Path) -> Participant:
    if not isinstance(entry, dict):
        raise ConfigError("registry: each participant must be a table")
    pid = entry.get("id")
    if not isinstance(pid, str) or not _ID.fullmatch(pid):
        raise ConfigError(f"registry: bad participant id {pid!r}")
    try:
        roles = frozenset(Role(r) for r in entry.get("roles", []))
        status = ParticipantStatus(entry.get("status", "active"))
    except ValueError as e:
        raise ConfigError(f"registry: participant {pid}: {e}") from e
    if not roles:
        raise ConfigError(f"registry: participant {pid} has no roles")
    state = entry.get("member_state", "")
    if state:
        normalized = normalize_country(state) if isinstance(state, str) else None
        if normalized is None:
            raise ConfigError(f"registry: participant {pid}: bad member_state {state!r}")
        state = normalized
    if Role.AUTHORITY in roles and not state:
        raise ConfigError(f"registry: authority {pid} needs a member_state")
    pem = ""
    cert_path = entry.get("signing_certificate")
    if cert_path:
        p = Path(cert_path)
        try:
            pem = (p if p.is_absolute() else base / p).read_text(encoding="ascii")
        except OSError as e:
            raise ConfigError(f"registry: participant {pid}: {e}") from e
    elif Role.AUTHORITY in roles:
        raise ConfigError(f"registry: authority {pid} needs a signing_certificate")
    return Participant(
        id=pid,
        member_state=state,
        display_name=str(entry.get("display_name", pid)),
        roles=roles,
        status=status,
        signing_certificate_pem=pem,
    )
