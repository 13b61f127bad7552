import datetime

from ecx.v1 import common_pb2 as _common_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
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

class EncryptionSuite(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    ENCRYPTION_SUITE_UNSPECIFIED: _ClassVar[EncryptionSuite]
    MLKEM768_X25519: _ClassVar[EncryptionSuite]
    X25519: _ClassVar[EncryptionSuite]
ROLE_UNSPECIFIED: Role
AUTHORITY: Role
COMMISSION: Role
AUDITOR: Role
OPERATOR: Role
PARTICIPANT_STATUS_UNSPECIFIED: ParticipantStatus
PARTICIPANT_ACTIVE: ParticipantStatus
PARTICIPANT_SUSPENDED: ParticipantStatus
ENCRYPTION_SUITE_UNSPECIFIED: EncryptionSuite
MLKEM768_X25519: EncryptionSuite
X25519: EncryptionSuite

class Participant(_message.Message):
    __slots__ = ("id", "member_state", "display_name", "roles", "status", "signing_certificate", "spiffe_id", "encryption_keys")
    ID_FIELD_NUMBER: _ClassVar[int]
    MEMBER_STATE_FIELD_NUMBER: _ClassVar[int]
    DISPLAY_NAME_FIELD_NUMBER: _ClassVar[int]
    ROLES_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    SIGNING_CERTIFICATE_FIELD_NUMBER: _ClassVar[int]
    SPIFFE_ID_FIELD_NUMBER: _ClassVar[int]
    ENCRYPTION_KEYS_FIELD_NUMBER: _ClassVar[int]
    id: str
    member_state: str
    display_name: str
    roles: _containers.RepeatedScalarFieldContainer[Role]
    status: ParticipantStatus
    signing_certificate: str
    spiffe_id: str
    encryption_keys: _containers.RepeatedCompositeFieldContainer[PublishedKey]
    def __init__(self, id: _Optional[str] = ..., member_state: _Optional[str] = ..., display_name: _Optional[str] = ..., roles: _Optional[_Iterable[_Union[Role, str]]] = ..., status: _Optional[_Union[ParticipantStatus, str]] = ..., signing_certificate: _Optional[str] = ..., spiffe_id: _Optional[str] = ..., encryption_keys: _Optional[_Iterable[_Union[PublishedKey, _Mapping]]] = ...) -> None: ...

class EncryptionKey(_message.Message):
    __slots__ = ("participant", "key_id", "suite", "public_key", "not_after")
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SUITE_FIELD_NUMBER: _ClassVar[int]
    PUBLIC_KEY_FIELD_NUMBER: _ClassVar[int]
    NOT_AFTER_FIELD_NUMBER: _ClassVar[int]
    participant: str
    key_id: str
    suite: EncryptionSuite
    public_key: bytes
    not_after: str
    def __init__(self, participant: _Optional[str] = ..., key_id: _Optional[str] = ..., suite: _Optional[_Union[EncryptionSuite, str]] = ..., public_key: _Optional[bytes] = ..., not_after: _Optional[str] = ...) -> None: ...

class PublishedKey(_message.Message):
    __slots__ = ("envelope", "signer", "published_at", "log_index", "log_entry")
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    SIGNER_FIELD_NUMBER: _ClassVar[int]
    PUBLISHED_AT_FIELD_NUMBER: _ClassVar[int]
    LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    LOG_ENTRY_FIELD_NUMBER: _ClassVar[int]
    envelope: _common_pb2.Envelope
    signer: str
    published_at: _timestamp_pb2.Timestamp
    log_index: int
    log_entry: bytes
    def __init__(self, envelope: _Optional[_Union[_common_pb2.Envelope, _Mapping]] = ..., signer: _Optional[str] = ..., published_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., log_index: _Optional[int] = ..., log_entry: _Optional[bytes] = ...) -> None: ...

class PublishEncryptionKeyRequest(_message.Message):
    __slots__ = ("request_id", "envelope")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    envelope: _common_pb2.Envelope
    def __init__(self, request_id: _Optional[str] = ..., envelope: _Optional[_Union[_common_pb2.Envelope, _Mapping]] = ...) -> None: ...

class PublishEncryptionKeyResponse(_message.Message):
    __slots__ = ("key",)
    KEY_FIELD_NUMBER: _ClassVar[int]
    key: PublishedKey
    def __init__(self, key: _Optional[_Union[PublishedKey, _Mapping]] = ...) -> None: ...

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
