"""ParticipantService: who am I, and who else takes part."""

from __future__ import annotations

from ecx.v1 import participant_pb2
from server.domain.participants import Caller, Participant, ParticipantStatus, Role
from server.registry import Registry

_ROLES = {
    Role.AUTHORITY: participant_pb2.AUTHORITY,
    Role.COMMISSION: participant_pb2.COMMISSION,
    Role.AUDITOR: participant_pb2.AUDITOR,
    Role.OPERATOR: participant_pb2.OPERATOR,
}
_STATUS = {
    ParticipantStatus.ACTIVE: participant_pb2.PARTICIPANT_ACTIVE,
    ParticipantStatus.SUSPENDED: participant_pb2.PARTICIPANT_SUSPENDED,
}


def to_proto(p: Participant) -> participant_pb2.Participant:
    return participant_pb2.Participant(
        id=p.id,
        member_state=p.member_state,
        display_name=p.display_name,
        roles=sorted(_ROLES[r] for r in p.roles),
        status=_STATUS[p.status],
        signing_certificate=p.signing_certificate_pem,
        spiffe_id=p.spiffe_id,
    )


class ParticipantDirectory:
    """The operations of ParticipantService."""

    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    async def who_am_i(
        self, caller: Caller, request: participant_pb2.WhoAmIRequest
    ) -> participant_pb2.WhoAmIResponse:
        return participant_pb2.WhoAmIResponse(participant=to_proto(caller.participant))

    async def list_participants(
        self, caller: Caller, request: participant_pb2.ListParticipantsRequest
    ) -> participant_pb2.ListParticipantsResponse:
        revocations = self._registry.revocations
        return participant_pb2.ListParticipantsResponse(
            participants=[to_proto(p) for p in self._registry.all()],
            crl=revocations.pem.decode("ascii") if revocations is not None else "",
        )
