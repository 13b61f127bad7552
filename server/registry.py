"""The participant registry, configured by the operator in a TOML file."""

from __future__ import annotations

import datetime as dt
import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

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
from server.logs import escaped
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
    signing_keys: Mapping[str, tuple[str, VerifyingKey]]
    expiry: Mapping[str, dt.datetime]


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
                try:
                    cert = x509.load_pem_x509_certificate(p.signing_certificate_pem.encode())
                    key = verifying_key_of(cert)
                except ValueError as e:
                    raise ConfigError(
                        f"participant {p.id}: signing_certificate is not a PEM certificate"
                    ) from e
                except EnvelopeError as e:
                    raise ConfigError(f"participant {p.id}: {e}") from e
                keys[key_id(key)] = (p.id, key)
                expiry[key_id(key)] = cert.not_valid_after_utc
        self._entries = _Entries(
            MappingProxyType(by_id), MappingProxyType(keys), MappingProxyType(expiry)
        )

    def replace(self, other: Registry) -> None:
        """Take over other's participants and keys in one step: every component holding this
        registry sees the new one from its next call on, none a mix of both."""
        self._entries = other._entries

    @property
    def signing_keys(self) -> Mapping[str, tuple[str, VerifyingKey]]:
        return self._entries.signing_keys

    def verify(
        self, envelope: common_pb2.Envelope, payload_type: str, now: dt.datetime
    ) -> VerifiedEnvelope:
        """The envelope's single signature, by a registered key whose certificate has not
        expired; BadSignature naming the field otherwise. (Signatures already stored stay
        verifiable by anyone: this decides only what the hub accepts.)"""
        entries = self._entries
        try:
            verified = verify_envelope(envelope, payload_type, entries.signing_keys)
        except EnvelopeError as e:
            raise BadSignature.field(e.field, e.reason) from e
        expires = entries.expiry[envelope.signatures[0].keyid]
        if now > expires:
            raise BadSignature.field(
                "envelope.signatures[0].keyid",
                f"the signing certificate of {verified.signer} expired on {expires.date()}",
            )
        return verified

    def get(self, participant_id: str) -> Participant | None:
        return self._entries.by_id.get(participant_id)

    def all(self) -> list[Participant]:
        return sorted(self._entries.by_id.values(), key=lambda p: p.id)

    @classmethod
    def load(cls, path: Path) -> Registry:
        """Read participants.toml; signing certificate paths are relative to the file. Every
        unknown, missing or invalid key is refused (up to a bound) with what is allowed there."""
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
            return cls(participants)
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
