"""The one authorization policy: which caller may call which RPC, and see or change which object.

Every RPC is listed in RPC_ROLES; a method missing from the table is refused for everyone.
Object-level rules (only the issuer changes its denial; who may read a denial) live here too,
so authorization is decided in one place.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ecx.v1 import denial_pb2
from server.domain.participants import Caller, Role
from server.errors import NotFound, PermissionDenied

_EVERYONE = frozenset(Role)
_AUTHORITIES = frozenset({Role.AUTHORITY})
_DENIAL_READERS = frozenset({Role.AUTHORITY, Role.COMMISSION})

RPC_ROLES: Mapping[str, frozenset[Role]] = {
    "/ecx.v1.ParticipantService/WhoAmI": _EVERYONE,
    "/ecx.v1.ParticipantService/ListParticipants": _EVERYONE,
    "/ecx.v1.DenialService/SubmitDenial": _AUTHORITIES,
    "/ecx.v1.DenialService/AmendDenial": _AUTHORITIES,
    "/ecx.v1.DenialService/RevokeDenial": _AUTHORITIES,
    "/ecx.v1.DenialService/RenewDenial": _AUTHORITIES,
    "/ecx.v1.DenialService/GetDenial": _DENIAL_READERS,
    "/ecx.v1.DenialService/ListDenials": _DENIAL_READERS,
    "/ecx.v1.DenialService/SyncDenials": _DENIAL_READERS,
    # Entries are filtered per reader inside the service: auditors read all of them.
    "/ecx.v1.AuditService/GetCheckpoint": _EVERYONE,
    "/ecx.v1.AuditService/GetInclusionProof": _EVERYONE,
    "/ecx.v1.AuditService/GetConsistencyProof": _EVERYONE,
    "/ecx.v1.AuditService/GetEntries": _EVERYONE,
    "/ecx.v1.AuditService/QueryLog": _EVERYONE,
}

_CONSULTATION_PARTIES = frozenset({Role.AUTHORITY, Role.COMMISSION})
RPC_ROLES = {
    **RPC_ROLES,
    "/ecx.v1.ConsultationService/ScreenTransaction": _AUTHORITIES,
    "/ecx.v1.ConsultationService/OpenConsultation": _AUTHORITIES,
    "/ecx.v1.ConsultationService/RespondToConsultation": _AUTHORITIES,
    "/ecx.v1.ConsultationService/ExtendConsultation": _AUTHORITIES,
    "/ecx.v1.ConsultationService/RecordDecision": _AUTHORITIES,
    # The Commission reads the consultations it is notified of (dual-use grants).
    "/ecx.v1.ConsultationService/GetConsultation": _CONSULTATION_PARTIES,
    "/ecx.v1.ConsultationService/ListConsultations": _CONSULTATION_PARTIES,
}

# Health and reflection carry no exchange data: any caller with a network certificate may use them.
UNAUTHORIZED_METHOD_PREFIXES = (
    "/grpc.health.v1.Health/",
    "/grpc.reflection.v1alpha.",
    "/grpc.reflection.v1.",
)


def authorize_rpc(caller: Caller, method: str) -> None:
    """Refuse the call unless one of the caller's roles may use this RPC."""
    allowed = RPC_ROLES.get(method)
    if allowed is None or not (caller.participant.roles & allowed):
        raise PermissionDenied(f"{caller.id} may not call {method.rsplit('/', 1)[-1]}")


def readable_regimes(caller: Caller) -> frozenset[int]:
    """Regimes whose denials the caller may read: military to member-state authorities (CP 2008/944
    Art. 4), dual-use also to the Commission (Reg. 2021/821 Art. 16(6))."""
    regimes: set[int] = set()
    if caller.participant.has(Role.AUTHORITY):
        regimes |= {denial_pb2.MILITARY, denial_pb2.DUAL_USE}
    if caller.participant.has(Role.COMMISSION):
        regimes.add(denial_pb2.DUAL_USE)
    return frozenset(regimes)


def authorize_denial_read(caller: Caller, regime: int, reference: str) -> None:
    """A denial the caller may not read is reported as absent, so its existence does not leak."""
    if regime not in readable_regimes(caller):
        raise NotFound(f"no denial {reference}")


def authorize_denial_change(caller: Caller, issuer: str, regime: int, reference: str) -> None:
    """Only the issuing authority changes its own denials."""
    authorize_denial_read(caller, regime, reference)
    if issuer != caller.id:
        raise PermissionDenied(
            f"denial {reference} belongs to {issuer}; only its issuer may change it"
        )


def authorize_consultation_read(
    caller: Caller, requester: str, responder: str, notified: Collection[str], reference: str
) -> None:
    """Consultations are bilateral: the two parties, and those notified of the decision.
    Anyone else is told it does not exist."""
    if caller.id not in (requester, responder) and caller.id not in notified:
        raise NotFound(f"no consultation {reference}")


def authorize_consultation_step(caller: Caller, party: str, verb: str, reference: str) -> None:
    """Only the denying authority answers or extends; only the consulting authority decides."""
    if caller.id != party:
        raise PermissionDenied(f"only {party} {verb} in consultation {reference}")
