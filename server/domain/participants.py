"""Participants of the exchange and the roles that decide what they may do."""

from __future__ import annotations

import datetime as dt
import enum
from dataclasses import dataclass

SPIFFE_PREFIX = "spiffe://ecx.eu/participant/"


class Role(enum.Enum):
    """What a participant is to the exchange (DOMAIN.md §1)."""

    AUTHORITY = "authority"
    COMMISSION = "commission"
    AUDITOR = "auditor"
    OPERATOR = "operator"


class ParticipantStatus(enum.Enum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


@dataclass(frozen=True)
class Participant:
    """One registry entry: a national authority, the Commission, an auditor or an operator."""

    id: str
    member_state: str
    display_name: str
    roles: frozenset[Role]
    status: ParticipantStatus
    signing_certificate_pem: str = ""

    @property
    def spiffe_id(self) -> str:
        return SPIFFE_PREFIX + self.id

    def has(self, role: Role) -> bool:
        return role in self.roles


@dataclass(frozen=True)
class Caller:
    """The authenticated caller of one RPC, derived from its client certificate only."""

    participant: Participant
    certificate_serial: int
    certificate_not_after: dt.datetime

    @property
    def id(self) -> str:
        return self.participant.id
