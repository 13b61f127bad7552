"""The participant registry, configured by the operator in a TOML file."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

from client.core.envelope import EnvelopeError, VerifiedEnvelope, VerifyingKey
from client.core.signers import (
    KEYID_FIELD,
    Revocations,
    SignerError,
    SignerSet,
    SigningCertificate,
    revoked_reason,
)
from ecx.v1 import common_pb2
from server.domain.countries import normalize_country
from server.domain.participants import Participant, ParticipantStatus, Role
from server.errors import BadSignature, ConfigError
from server.logs import escaped
from server.revocation import RevocationList
from server.schema import (
    PATH,
    Key,
    Kind,
    Problems,
    Table,
    choice,
    optional,
    read_table,
    shown,
    text,
)


@dataclass(frozen=True)
class _Entries:
    by_id: Mapping[str, Participant]
    signers: SignerSet


class Registry:
    """Participants by id, and their signing certificates by key id, each issued by the network
    CA; signatures are judged against the CRL the hub holds (`crl`, re-read as it changes)."""

    def __init__(self, participants: Iterable[Participant], crl: RevocationList) -> None:
        by_id: dict[str, Participant] = {}
        certificates: list[SigningCertificate] = []
        for p in participants:
            if p.id in by_id:
                raise ConfigError(f"participant {p.id} is listed twice")
            by_id[p.id] = p
            if p.signing_certificate_pem:
                pem = p.signing_certificate_pem.encode()
                try:
                    certificates.append(SigningCertificate.issued(p.id, pem, crl.network_ca))
                except SignerError as e:
                    raise ConfigError(f"participant {p.id}: {e}") from e
        self._crl = crl
        self._entries = _Entries(MappingProxyType(by_id), SignerSet.of(certificates))

    def replace(self, other: Registry) -> None:
        """Take over other's participants and keys in one step: every component holding this
        registry sees the new one from its next call on, none a mix of both. The CRL stays."""
        self._entries = other._entries

    @property
    def signing_keys(self) -> Mapping[str, tuple[str, VerifyingKey]]:
        return self._entries.signers.keys

    @property
    def revocations(self) -> Revocations | None:
        """The CRL in use, the one every check of the hub relies on."""
        return self._crl.revocations

    def verify(
        self, envelope: common_pb2.Envelope, payload_type: str, now: dt.datetime
    ) -> VerifiedEnvelope:
        """A new signature, made now: the envelope's single signature, by a registered key whose
        certificate has not expired and is not on the CRL (whatever revocation date the list
        gives: a key the list names signs nothing new); BadSignature naming the field otherwise.
        (Signatures already stored are judged as of their signing time: `verify_as_of`.)"""
        self._crl.check_current(now)
        revocations = self._crl.revocations
        try:
            verified, certificate = self._entries.signers.verify(envelope, payload_type)
        except EnvelopeError as e:
            raise BadSignature.field(e.field, e.reason) from e
        revoked = revocations.revoked_on(certificate.serial) if revocations else None
        if revoked is not None:
            raise BadSignature.field(KEYID_FIELD, revoked_reason(certificate, revoked))
        if now > certificate.not_after:
            raise BadSignature.field(
                KEYID_FIELD,
                f"the signing certificate of {verified.signer} expired on"
                f" {certificate.not_after.date()}",
            )
        return verified

    def verify_as_of(
        self, envelope: common_pb2.Envelope, payload_type: str, signed_at: dt.datetime
    ) -> VerifiedEnvelope:
        """A stored signature, made at signed_at (the time of its log entry): by a registered
        key not revoked at or before then, by the CRL in use; its certificate may have expired
        since. BadSignature naming the field otherwise. Reads nothing but this registry and the
        CRL it holds (whether that list is current is the caller's to check)."""
        try:
            return self._entries.signers.verify_as_of(
                envelope, payload_type, self._crl.revocations, signed_at
            )
        except EnvelopeError as e:
            raise BadSignature.field(e.field, e.reason) from e

    def get(self, participant_id: str) -> Participant | None:
        return self._entries.by_id.get(participant_id)

    def all(self) -> list[Participant]:
        return sorted(self._entries.by_id.values(), key=lambda p: p.id)

    @classmethod
    def load(cls, path: Path, crl: RevocationList) -> Registry:
        """Read participants.toml; signing certificate paths are relative to the file. Every
        unknown, missing or invalid key is refused (up to a bound) with what is allowed there,
        and so is a signing certificate that the network CA of `crl` did not issue."""
        try:
            raw = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as e:
            raise ConfigError(f"cannot read participant registry {path}: {e}") from e
        problems = Problems(str(path))
        for name in sorted(set(raw) - {"participant"}):
            problems.add(f"[{escaped(name)}] is not a known section (allowed: [[participant]])")
        entries = raw.get("participant", [])
        if not isinstance(entries, list):
            problems.add(
                f"participant must be an array of tables ([[participant]]) (got {shown(entries)})"
            )
            entries = []
        participants = []
        seen: set[str] = set()
        for n, entry in enumerate(entries, start=1):
            participant = _participant(entry, n, path.parent, problems)
            if participant is None:
                continue
            if participant.id in seen:
                problems.add(f"participant {participant.id} is listed twice")
            seen.add(participant.id)
            participants.append(participant)
        problems.raise_if_any()
        try:
            return cls(participants, crl)
        except ConfigError as e:
            raise ConfigError(f"{path}: {e.message}") from e


def _country(value: object) -> str:
    code = normalize_country(value) if isinstance(value, str) else None
    if code is None:
        raise ValueError(value)
    return code


def _roles(value: object) -> frozenset[Role]:
    if not isinstance(value, list) or not value:
        raise ValueError(value)
    try:
        return frozenset(Role(r) for r in value)
    except ValueError as e:
        raise ValueError(value) from e


_ID_PATTERN = re.compile(r"[a-z0-9][a-z0-9-]{0,62}")
_ID = Key(
    "id",
    text(
        "lower-case letters, digits and '-', 1-63 long, starting with a letter or digit",
        lambda v: _ID_PATTERN.fullmatch(v) is not None,
    ),
)
_MEMBER_STATE = Key(
    "member_state",
    Kind("an ISO 3166 country code (EL for Greece)", _country),
    "",
)
_DISPLAY_NAME = Key("display_name", optional(text("a name")), None)
_ROLES = Key(
    "roles",
    Kind("a non-empty array of " + ", ".join(f'"{r.value}"' for r in Role), _roles),
)
_STATUS = Key("status", choice(ParticipantStatus), ParticipantStatus.ACTIVE)
_SIGNING_CERTIFICATE = Key("signing_certificate", optional(PATH), None)
PARTICIPANT = Table(
    "participant",
    (_ID, _MEMBER_STATE, _DISPLAY_NAME, _ROLES, _STATUS, _SIGNING_CERTIFICATE),
)


def _participant(entry: object, n: int, base: Path, problems: Problems) -> Participant | None:
    """The participant one [[participant]] table describes; None, with its problems added, if it
    describes none."""
    try:
        pid = _ID.kind.parse(entry.get("id") if isinstance(entry, dict) else None)
    except ValueError:
        where = f"[[participant]] #{n}: "
    else:
        where = f"participant {pid}: "
    before = len(problems)
    values = read_table(entry, PARTICIPANT, where, problems)
    if len(problems) > before:
        return None
    pid, roles, state = values[_ID], values[_ROLES], values[_MEMBER_STATE]
    cert_path = values[_SIGNING_CERTIFICATE]
    if Role.AUTHORITY in roles:
        if not state:
            allowed = _MEMBER_STATE.kind.description
            problems.add(f"{where}member_state is required for an authority ({allowed})")
        if cert_path is None:
            problems.add(f"{where}signing_certificate is required for an authority (a file path)")
    pem = ""
    if cert_path is not None:
        try:
            pem = (cert_path if cert_path.is_absolute() else base / cert_path).read_text(
                encoding="ascii"
            )
        except (OSError, UnicodeDecodeError) as e:
            problems.add(f"{where}signing_certificate cannot be read: {escaped(str(e))}")
    if len(problems) > before:
        return None
    return Participant(
        id=pid,
        member_state=state,
        display_name=values[_DISPLAY_NAME] or pid,
        roles=roles,
        status=values[_STATUS],
        signing_certificate_pem=pem,
    )
