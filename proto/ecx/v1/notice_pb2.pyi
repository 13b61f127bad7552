import datetime

from ecx.v1 import common_pb2 as _common_pb2
from ecx.v1 import denial_pb2 as _denial_pb2
from google.protobuf import timestamp_pb2 as _timestamp_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf.internal import enum_type_wrapper as _enum_type_wrapper
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class NoticeKind(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTICE_KIND_UNSPECIFIED: _ClassVar[NoticeKind]
    END_USER_OF_CONCERN: _ClassVar[NoticeKind]
    DIVERSION_RISK: _ClassVar[NoticeKind]
    PROCUREMENT_NETWORK: _ClassVar[NoticeKind]
    CATCH_ALL_DECISION: _ClassVar[NoticeKind]
    NATIONAL_MEASURE: _ClassVar[NoticeKind]
    TRANSIT_PROHIBITION: _ClassVar[NoticeKind]
    OTHER: _ClassVar[NoticeKind]

class Classification(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CLASSIFICATION_UNSPECIFIED: _ClassVar[Classification]
    SENSITIVE: _ClassVar[Classification]
    RESTREINT_UE: _ClassVar[Classification]
    CONFIDENTIEL_UE: _ClassVar[Classification]
    SECRET_UE: _ClassVar[Classification]
    TRES_SECRET_UE: _ClassVar[Classification]

class NoticeState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    NOTICE_STATE_UNSPECIFIED: _ClassVar[NoticeState]
    NOTICE_SHARED: _ClassVar[NoticeState]
    NOTICE_WITHDRAWN: _ClassVar[NoticeState]
NOTICE_KIND_UNSPECIFIED: NoticeKind
END_USER_OF_CONCERN: NoticeKind
DIVERSION_RISK: NoticeKind
PROCUREMENT_NETWORK: NoticeKind
CATCH_ALL_DECISION: NoticeKind
NATIONAL_MEASURE: NoticeKind
TRANSIT_PROHIBITION: NoticeKind
OTHER: NoticeKind
CLASSIFICATION_UNSPECIFIED: Classification
SENSITIVE: Classification
RESTREINT_UE: Classification
CONFIDENTIEL_UE: Classification
SECRET_UE: Classification
TRES_SECRET_UE: Classification
NOTICE_STATE_UNSPECIFIED: NoticeState
NOTICE_SHARED: NoticeState
NOTICE_WITHDRAWN: NoticeState

class NoticeContent(_message.Message):
    __slots__ = ("title", "parties", "destinations", "goods_description", "control_entries", "reasons", "legal_basis", "effective_from", "effective_until", "contact", "text")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    PARTIES_FIELD_NUMBER: _ClassVar[int]
    DESTINATIONS_FIELD_NUMBER: _ClassVar[int]
    GOODS_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CONTROL_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    LEGAL_BASIS_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_FROM_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_UNTIL_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    TEXT_FIELD_NUMBER: _ClassVar[int]
    title: str
    parties: _containers.RepeatedCompositeFieldContainer[_denial_pb2.Party]
    destinations: _containers.RepeatedScalarFieldContainer[str]
    goods_description: str
    control_entries: _containers.RepeatedScalarFieldContainer[str]
    reasons: _containers.RepeatedScalarFieldContainer[str]
    legal_basis: str
    effective_from: str
    effective_until: str
    contact: str
    text: str
    def __init__(self, title: _Optional[str] = ..., parties: _Optional[_Iterable[_Union[_denial_pb2.Party, _Mapping]]] = ..., destinations: _Optional[_Iterable[str]] = ..., goods_description: _Optional[str] = ..., control_entries: _Optional[_Iterable[str]] = ..., reasons: _Optional[_Iterable[str]] = ..., legal_basis: _Optional[str] = ..., effective_from: _Optional[str] = ..., effective_until: _Optional[str] = ..., contact: _Optional[str] = ..., text: _Optional[str] = ...) -> None: ...

class KeyWrap(_message.Message):
    __slots__ = ("participant", "key_id", "enc", "wrapped_key")
    PARTICIPANT_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    ENC_FIELD_NUMBER: _ClassVar[int]
    WRAPPED_KEY_FIELD_NUMBER: _ClassVar[int]
    participant: str
    key_id: str
    enc: bytes
    wrapped_key: bytes
    def __init__(self, participant: _Optional[str] = ..., key_id: _Optional[str] = ..., enc: _Optional[bytes] = ..., wrapped_key: _Optional[bytes] = ...) -> None: ...

class NoticeVersion(_message.Message):
    __slots__ = ("kind", "classification", "recipients", "to_all", "review_date", "ciphertext", "content_sha256", "wraps")
    KIND_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    TO_ALL_FIELD_NUMBER: _ClassVar[int]
    REVIEW_DATE_FIELD_NUMBER: _ClassVar[int]
    CIPHERTEXT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    WRAPS_FIELD_NUMBER: _ClassVar[int]
    kind: NoticeKind
    classification: Classification
    recipients: _containers.RepeatedScalarFieldContainer[str]
    to_all: bool
    review_date: str
    ciphertext: bytes
    content_sha256: bytes
    wraps: _containers.RepeatedCompositeFieldContainer[KeyWrap]
    def __init__(self, kind: _Optional[_Union[NoticeKind, str]] = ..., classification: _Optional[_Union[Classification, str]] = ..., recipients: _Optional[_Iterable[str]] = ..., to_all: _Optional[bool] = ..., review_date: _Optional[str] = ..., ciphertext: _Optional[bytes] = ..., content_sha256: _Optional[bytes] = ..., wraps: _Optional[_Iterable[_Union[KeyWrap, _Mapping]]] = ...) -> None: ...

class NoticeWithdrawal(_message.Message):
    __slots__ = ("reason",)
    REASON_FIELD_NUMBER: _ClassVar[int]
    reason: str
    def __init__(self, reason: _Optional[str] = ...) -> None: ...

class SharingGrant(_message.Message):
    __slots__ = ("content_version", "recipients", "wraps", "answers")
    CONTENT_VERSION_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    WRAPS_FIELD_NUMBER: _ClassVar[int]
    ANSWERS_FIELD_NUMBER: _ClassVar[int]
    content_version: int
    recipients: _containers.RepeatedScalarFieldContainer[str]
    wraps: _containers.RepeatedCompositeFieldContainer[KeyWrap]
    answers: _containers.RepeatedScalarFieldContainer[int]
    def __init__(self, content_version: _Optional[int] = ..., recipients: _Optional[_Iterable[str]] = ..., wraps: _Optional[_Iterable[_Union[KeyWrap, _Mapping]]] = ..., answers: _Optional[_Iterable[int]] = ...) -> None: ...

class NoticeStatement(_message.Message):
    __slots__ = ("reference", "link", "version", "withdrawal", "grant", "acknowledgement", "request")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    WITHDRAWAL_FIELD_NUMBER: _ClassVar[int]
    GRANT_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGEMENT_FIELD_NUMBER: _ClassVar[int]
    REQUEST_FIELD_NUMBER: _ClassVar[int]
    reference: str
    link: _common_pb2.VersionLink
    version: NoticeVersion
    withdrawal: NoticeWithdrawal
    grant: SharingGrant
    acknowledgement: Acknowledgement
    request: SharingRequest
    def __init__(self, reference: _Optional[str] = ..., link: _Optional[_Union[_common_pb2.VersionLink, _Mapping]] = ..., version: _Optional[_Union[NoticeVersion, _Mapping]] = ..., withdrawal: _Optional[_Union[NoticeWithdrawal, _Mapping]] = ..., grant: _Optional[_Union[SharingGrant, _Mapping]] = ..., acknowledgement: _Optional[_Union[Acknowledgement, _Mapping]] = ..., request: _Optional[_Union[SharingRequest, _Mapping]] = ...) -> None: ...

class Acknowledgement(_message.Message):
    __slots__ = ("version", "content_sha256")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    CONTENT_SHA256_FIELD_NUMBER: _ClassVar[int]
    version: int
    content_sha256: bytes
    def __init__(self, version: _Optional[int] = ..., content_sha256: _Optional[bytes] = ...) -> None: ...

class SharingRequest(_message.Message):
    __slots__ = ("version", "recipients", "reason")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    version: int
    recipients: _containers.RepeatedScalarFieldContainer[str]
    reason: str
    def __init__(self, version: _Optional[int] = ..., recipients: _Optional[_Iterable[str]] = ..., reason: _Optional[str] = ...) -> None: ...

class NoticeStepRequest(_message.Message):
    __slots__ = ("request_id", "envelope")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    envelope: _common_pb2.Envelope
    def __init__(self, request_id: _Optional[str] = ..., envelope: _Optional[_Union[_common_pb2.Envelope, _Mapping]] = ...) -> None: ...

class NoticeStep(_message.Message):
    __slots__ = ("version", "envelope", "signer", "recorded_at", "log_index", "log_entry")
    VERSION_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    SIGNER_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    LOG_ENTRY_FIELD_NUMBER: _ClassVar[int]
    version: int
    envelope: _common_pb2.Envelope
    signer: str
    recorded_at: _timestamp_pb2.Timestamp
    log_index: int
    log_entry: bytes
    def __init__(self, version: _Optional[int] = ..., envelope: _Optional[_Union[_common_pb2.Envelope, _Mapping]] = ..., signer: _Optional[str] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., log_index: _Optional[int] = ..., log_entry: _Optional[bytes] = ...) -> None: ...

class Notice(_message.Message):
    __slots__ = ("reference", "version", "state", "kind", "classification", "originator", "recipients", "review_date", "expired", "steps", "acknowledgements", "requests", "acknowledged")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    KIND_FIELD_NUMBER: _ClassVar[int]
    CLASSIFICATION_FIELD_NUMBER: _ClassVar[int]
    ORIGINATOR_FIELD_NUMBER: _ClassVar[int]
    RECIPIENTS_FIELD_NUMBER: _ClassVar[int]
    REVIEW_DATE_FIELD_NUMBER: _ClassVar[int]
    EXPIRED_FIELD_NUMBER: _ClassVar[int]
    STEPS_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGEMENTS_FIELD_NUMBER: _ClassVar[int]
    REQUESTS_FIELD_NUMBER: _ClassVar[int]
    ACKNOWLEDGED_FIELD_NUMBER: _ClassVar[int]
    reference: str
    version: int
    state: NoticeState
    kind: NoticeKind
    classification: Classification
    originator: str
    recipients: _containers.RepeatedScalarFieldContainer[str]
    review_date: str
    expired: bool
    steps: _containers.RepeatedCompositeFieldContainer[NoticeStep]
    acknowledgements: _containers.RepeatedCompositeFieldContainer[NoticeStep]
    requests: _containers.RepeatedCompositeFieldContainer[NoticeStep]
    acknowledged: bool
    def __init__(self, reference: _Optional[str] = ..., version: _Optional[int] = ..., state: _Optional[_Union[NoticeState, str]] = ..., kind: _Optional[_Union[NoticeKind, str]] = ..., classification: _Optional[_Union[Classification, str]] = ..., originator: _Optional[str] = ..., recipients: _Optional[_Iterable[str]] = ..., review_date: _Optional[str] = ..., expired: _Optional[bool] = ..., steps: _Optional[_Iterable[_Union[NoticeStep, _Mapping]]] = ..., acknowledgements: _Optional[_Iterable[_Union[NoticeStep, _Mapping]]] = ..., requests: _Optional[_Iterable[_Union[NoticeStep, _Mapping]]] = ..., acknowledged: _Optional[bool] = ...) -> None: ...

class NoticeResponse(_message.Message):
    __slots__ = ("notice",)
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    notice: Notice
    def __init__(self, notice: _Optional[_Union[Notice, _Mapping]] = ...) -> None: ...

class GetNoticeRequest(_message.Message):
    __slots__ = ("reference",)
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    reference: str
    def __init__(self, reference: _Optional[str] = ...) -> None: ...

class GetNoticeResponse(_message.Message):
    __slots__ = ("notice",)
    NOTICE_FIELD_NUMBER: _ClassVar[int]
    notice: Notice
    def __init__(self, notice: _Optional[_Union[Notice, _Mapping]] = ...) -> None: ...

class ListNoticesRequest(_message.Message):
    __slots__ = ("kind", "originating_state", "unacknowledged_only", "include_expired", "page_size", "page_token")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ORIGINATING_STATE_FIELD_NUMBER: _ClassVar[int]
    UNACKNOWLEDGED_ONLY_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_EXPIRED_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    kind: NoticeKind
    originating_state: str
    unacknowledged_only: bool
    include_expired: bool
    page_size: int
    page_token: str
    def __init__(self, kind: _Optional[_Union[NoticeKind, str]] = ..., originating_state: _Optional[str] = ..., unacknowledged_only: _Optional[bool] = ..., include_expired: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListNoticesResponse(_message.Message):
    __slots__ = ("notices", "next_page_token")
    NOTICES_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    notices: _containers.RepeatedCompositeFieldContainer[Notice]
    next_page_token: str
    def __init__(self, notices: _Optional[_Iterable[_Union[Notice, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
