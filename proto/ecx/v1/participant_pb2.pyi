from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Role(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ROLE_UNSPECIFIED: _ClassVar[Role]
    AUTHORITY: _ClassVar[Role]
    COMMISSION: _ClassVar[Role]
    AUDITOR: _ClassVar[Role]
    OPERATOR: _ClassVar[Role]

class ParticipantStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    PARTICIPANT_STATUS_UNSPECIFIED: _ClassVar[ParticipantStatus]
    PARTICIPANT_ACTIVE: _ClassVar[ParticipantStatus]
    PARTICIPANT_SUSPENDED: _ClassVar[ParticipantStatus]
ROLE_UNSPECIFIED: Role
AUTHORITY: Role
COMMISSION: Role
AUDITOR: Role
OPERATOR: Role
PARTICIPANT_STATUS_UNSPECIFIED: ParticipantStatus
PARTICIPANT_ACTIVE: ParticipantStatus
PARTICIPANT_SUSPENDED: ParticipantStatus

class Participant(_message.Message):
    __slots__ = ("id", "member_state", "display_name", "roles", "status", "signing_certificate", "spiffe_id")
    ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_STATE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SIGNING_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    SPIFFE_ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    member_state: str
    display_name: str
    roles: _containers.RepeatedScalarFieldContainer[Role]
    status: ParticipantStatus
    signing_certificate: str
    spiffe_id: str
    def __init__(self, id: _Optional[str] = ..., member_state: _Optional[str] = ..., display_name: _Optional[str] = ..., roles: _Optional[_Iterable[_Union[Role, str]]] = ..., status: _Optional[_Union[ParticipantStatus, str]] = ..., signing_certificate: _Optional[str] = ..., spiffe_id: _Optional[str] = ...) -> None: ...

class WhoAmIRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WhoAmIResponse(_message.Message):
    __slots__ = ("participant",)
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    participant: Participant
    def __init__(self, participant: _Optional[_Union[Participant, _Mapping]] = ...) -> None: ...

class ListParticipantsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListParticipantsResponse(_message.Message):
    __slots__ = ("participants", "crl")
    PARTICIPANTS_FIELD_NUMBER: _ClassVar[int]
    CRL_FIELD_NUMBER: _ClassVar[int]
    participants: _containers.RepeatedCompositeFieldContainer[Participant]
    crl: str
    def __init__(self, participants: _Optional[_Iterable[_Union[Participant, _Mapping]]] = ..., crl: _Optional[str] = ...) -> None: ...
