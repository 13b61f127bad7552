"""The one authorization policy: which caller may call which RPC, and see or change which object.

Every RPC is listed in RPC_ROLES; a method missing from the table is refused for everyone.
Object-level rules (only the issuer changes its denial; who may read a denial) live here too,
so authorization is decided in one place.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

from ecx.v1 import denial_pb2
from server.domain.exchange_log import ROLE_PARTY, Reader
from server.domain.participants import Caller, Participant, ParticipantStatus, Role
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

# Who may receive sensitive notices, and so publishes a key to be sealed to, and seals to the
# keys of others: the authorities and the Commission. Auditors and operators never read
# content, so they have no key.
_NOTICE_PARTIES = frozenset({Role.AUTHORITY, Role.COMMISSION})
RPC_ROLES = {
    **RPC_ROLES,
    "/ecx.v1.ParticipantService/PublishEncryptionKey": _NOTICE_PARTIES,
    # Sensitive notices: authorities write them; authorities and the Commission receive them
    # (the Commission the dual-use broadcasts addressed to it); nobody else may receive one.
    "/ecx.v1.NoticeService/ShareNotice": _AUTHORITIES,
    "/ecx.v1.NoticeService/UpdateNotice": _AUTHORITIES,
    "/ecx.v1.NoticeService/WithdrawNotice": _AUTHORITIES,
    "/ecx.v1.NoticeService/GrantFurtherSharing": _AUTHORITIES,
    "/ecx.v1.NoticeService/AcknowledgeNotice": _NOTICE_PARTIES,
    "/ecx.v1.NoticeService/RequestFurtherSharing": _NOTICE_PARTIES,
    "/ecx.v1.NoticeService/GetNotice": _NOTICE_PARTIES,
    "/ecx.v1.NoticeService/ListNotices": _NOTICE_PARTIES,
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


# Regimes whose denials each role reads: military to member-state authorities (CP 2008/944
# Art. 4), dual-use also to the Commission (Reg. 2021/821 Art. 16(6)).
_READABLE = {
    Role.AUTHORITY: frozenset({denial_pb2.MILITARY, denial_pb2.DUAL_USE}),
    Role.COMMISSION: frozenset({denial_pb2.DUAL_USE}),
}


def readable_regimes(caller: Caller) -> frozenset[int]:
    """Regimes whose denials the caller may read."""
    return frozenset().union(*(_READABLE.get(r, frozenset()) for r in caller.participant.roles))


def denial_audience(regime: int) -> tuple[str, ...]:
    """The role parties of a denial's write entries: all who may read the denial may read that
    it was written (never what), so each can tell the latest version it is shown from the log."""
    roles = [r for r in (Role.AUTHORITY, Role.COMMISSION) if regime in _READABLE[r]]
    return tuple(ROLE_PARTY + r.value for r in roles)


def encryption_key_audience() -> tuple[str, ...]:
    """The role parties of a key's publication: everyone who may seal to it may read that it
    was published, and so check from the log which key is a participant's latest."""
    return tuple(sorted(ROLE_PARTY + r.value for r in _NOTICE_PARTIES))


def log_reader(caller: Caller) -> Reader | None:
    """Whom the caller answers to in the exchange log; None for auditors, who read all of it."""
    if caller.participant.has(Role.AUDITOR):
        return None
    return (caller.id, *sorted(ROLE_PARTY + r.value for r in caller.participant.roles))


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


def may_read_consultation(
    caller: Caller, requester: str, responder: str, *, granted: bool, regime: int
) -> bool:
    """Consultations are bilateral: the two parties read them. A grant despite a denial is
    notified to the denying state (CP 2008/944 Art. 4(2)) and, for dual-use, to every member
    state and the Commission (Reg. 2021/821 Art. 16(5)), who then read it too."""
    if caller.id in (requester, responder):
        return True
    return (
        granted
        and regime == denial_pb2.DUAL_USE
        and bool(caller.participant.roles & _CONSULTATION_PARTIES)
    )


def authorize_consultation_read(
    caller: Caller,
    requester: str,
    responder: str,
    reference: str,
    *,
    granted: bool,
    regime: int,
) -> None:
    """Anyone who may not read a consultation is told it does not exist."""
    if not may_read_consultation(caller, requester, responder, granted=granted, regime=regime):
        raise NotFound(f"no consultation {reference}")


def authorize_consultation_step(caller: Caller, party: str, verb: str, reference: str) -> None:
    """Only the denying authority answers or extends; only the consulting authority decides."""
    if caller.id != party:
        raise PermissionDenied(f"only {party} {verb} in consultation {reference}")


def may_receive_notices(participant: Participant) -> bool:
    """Member-state authorities and the Commission; never auditors, operators or others."""
    return participant.status is ParticipantStatus.ACTIVE and bool(
        participant.roles & _NOTICE_PARTIES
    )


def authorize_notice_read(
    caller: Caller, originator: str, readers: Collection[str], reference: str
) -> None:
    """A notice is for its originator and the readers it was shared with: anyone else is told
    it does not exist."""
    if caller.id != originator and caller.id not in readers:
        raise NotFound(f"no notice {reference}")


def authorize_notice_change(caller: Caller, originator: str, verb: str, reference: str) -> None:
    """Originator control: only the originator updates, withdraws or shares a notice further."""
    if caller.id != originator:
        raise PermissionDenied(f"only {originator}, its originator, {verb} notice {reference}")


def authorize_notice_reply(caller: Caller, originator: str, verb: str, reference: str) -> None:
    """Acknowledgements and requests for further sharing are a recipient's."""
    if caller.id == originator:
        raise PermissionDenied(f"the originator does not {verb} its own notice {reference}")
