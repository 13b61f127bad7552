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

class ConsultationState(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSULTATION_STATE_UNSPECIFIED: _ClassVar[ConsultationState]
    OPEN: _ClassVar[ConsultationState]
    ANSWERED: _ClassVar[ConsultationState]
    DECIDED: _ClassVar[ConsultationState]

class ConsultationPosition(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSULTATION_POSITION_UNSPECIFIED: _ClassVar[ConsultationPosition]
    DENIAL_MAINTAINED: _ClassVar[ConsultationPosition]
    NO_OBJECTION: _ClassVar[ConsultationPosition]
    INFORMATION_ONLY: _ClassVar[ConsultationPosition]

class Decision(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DECISION_UNSPECIFIED: _ClassVar[Decision]
    GRANTED: _ClassVar[Decision]
    DENIED: _ClassVar[Decision]
    WITHDRAWN: _ClassVar[Decision]

class ConsultationRole(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    CONSULTATION_ROLE_UNSPECIFIED: _ClassVar[ConsultationRole]
    REQUESTER: _ClassVar[ConsultationRole]
    RESPONDER: _ClassVar[ConsultationRole]
    NOTIFIED: _ClassVar[ConsultationRole]
CONSULTATION_STATE_UNSPECIFIED: ConsultationState
OPEN: ConsultationState
ANSWERED: ConsultationState
DECIDED: ConsultationState
CONSULTATION_POSITION_UNSPECIFIED: ConsultationPosition
DENIAL_MAINTAINED: ConsultationPosition
NO_OBJECTION: ConsultationPosition
INFORMATION_ONLY: ConsultationPosition
DECISION_UNSPECIFIED: Decision
GRANTED: Decision
DENIED: Decision
WITHDRAWN: Decision
CONSULTATION_ROLE_UNSPECIFIED: ConsultationRole
REQUESTER: ConsultationRole
RESPONDER: ConsultationRole
NOTIFIED: ConsultationRole

class Transaction(_message.Message):
    __slots__ = ("regime", "licence_type", "destination_country", "consignee", "end_user", "control_entries", "goods_description", "end_use", "quantity", "value_eur")
    REGIME_FIELD_NUMBER: _ClassVar[int]
    LICENCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    CONSIGNEE_FIELD_NUMBER: _ClassVar[int]
    END_USER_FIELD_NUMBER: _ClassVar[int]
    CONTROL_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    GOODS_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    END_USE_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    VALUE_EUR_FIELD_NUMBER: _ClassVar[int]
    regime: _denial_pb2.Regime
    licence_type: _denial_pb2.LicenceType
    destination_country: str
    consignee: _denial_pb2.Party
    end_user: _denial_pb2.Party
    control_entries: _containers.RepeatedScalarFieldContainer[str]
    goods_description: str
    end_use: str
    quantity: str
    value_eur: int
    def __init__(self, regime: _Optional[_Union[_denial_pb2.Regime, str]] = ..., licence_type: _Optional[_Union[_denial_pb2.LicenceType, str]] = ..., destination_country: _Optional[str] = ..., consignee: _Optional[_Union[_denial_pb2.Party, _Mapping]] = ..., end_user: _Optional[_Union[_denial_pb2.Party, _Mapping]] = ..., control_entries: _Optional[_Iterable[str]] = ..., goods_description: _Optional[str] = ..., end_use: _Optional[str] = ..., quantity: _Optional[str] = ..., value_eur: _Optional[int] = ...) -> None: ...

class ScreenTransactionRequest(_message.Message):
    __slots__ = ("transaction", "include_inactive", "max_results")
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_INACTIVE_FIELD_NUMBER: _ClassVar[int]
    MAX_RESULTS_FIELD_NUMBER: _ClassVar[int]
    transaction: Transaction
    include_inactive: bool
    max_results: int
    def __init__(self, transaction: _Optional[_Union[Transaction, _Mapping]] = ..., include_inactive: _Optional[bool] = ..., max_results: _Optional[int] = ...) -> None: ...

class NameEvidence(_message.Message):
    __slots__ = ("field", "query_name", "denial_field", "denial_name", "how", "score", "detail")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    QUERY_NAME_FIELD_NUMBER: _ClassVar[int]
    DENIAL_FIELD_FIELD_NUMBER: _ClassVar[int]
    DENIAL_NAME_FIELD_NUMBER: _ClassVar[int]
    HOW_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    field: str
    query_name: str
    denial_field: str
    denial_name: str
    how: str
    score: float
    detail: str
    def __init__(self, field: _Optional[str] = ..., query_name: _Optional[str] = ..., denial_field: _Optional[str] = ..., denial_name: _Optional[str] = ..., how: _Optional[str] = ..., score: _Optional[float] = ..., detail: _Optional[str] = ...) -> None: ...

class EntryEvidence(_message.Message):
    __slots__ = ("query_entry", "denial_entry", "relation")
    QUERY_ENTRY_FIELD_NUMBER: _ClassVar[int]
    DENIAL_ENTRY_FIELD_NUMBER: _ClassVar[int]
    RELATION_FIELD_NUMBER: _ClassVar[int]
    query_entry: str
    denial_entry: str
    relation: str
    def __init__(self, query_entry: _Optional[str] = ..., denial_entry: _Optional[str] = ..., relation: _Optional[str] = ...) -> None: ...

class ScreeningCandidate(_message.Message):
    __slots__ = ("reference", "issuing_state", "regime", "status", "own_state", "inactive", "score", "names", "entries", "same_destination", "destination_country", "version")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    ISSUING_STATE_FIELD_NUMBER: _ClassVar[int]
    REGIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OWN_STATE_FIELD_NUMBER: _ClassVar[int]
    INACTIVE_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    NAMES_FIELD_NUMBER: _ClassVar[int]
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    SAME_DESTINATION_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    reference: str
    issuing_state: str
    regime: _denial_pb2.Regime
    status: _denial_pb2.DenialStatus
    own_state: bool
    inactive: bool
    score: float
    names: _containers.RepeatedCompositeFieldContainer[NameEvidence]
    entries: _containers.RepeatedCompositeFieldContainer[EntryEvidence]
    same_destination: bool
    destination_country: str
    version: int
    def __init__(self, reference: _Optional[str] = ..., issuing_state: _Optional[str] = ..., regime: _Optional[_Union[_denial_pb2.Regime, str]] = ..., status: _Optional[_Union[_denial_pb2.DenialStatus, str]] = ..., own_state: _Optional[bool] = ..., inactive: _Optional[bool] = ..., score: _Optional[float] = ..., names: _Optional[_Iterable[_Union[NameEvidence, _Mapping]]] = ..., entries: _Optional[_Iterable[_Union[EntryEvidence, _Mapping]]] = ..., same_destination: _Optional[bool] = ..., destination_country: _Optional[str] = ..., version: _Optional[int] = ...) -> None: ...

class ScreenTransactionResponse(_message.Message):
    __slots__ = ("candidates", "denials_compared")
    CANDIDATES_FIELD_NUMBER: _ClassVar[int]
    DENIALS_COMPARED_FIELD_NUMBER: _ClassVar[int]
    candidates: _containers.RepeatedCompositeFieldContainer[ScreeningCandidate]
    denials_compared: int
    def __init__(self, candidates: _Optional[_Iterable[_Union[ScreeningCandidate, _Mapping]]] = ..., denials_compared: _Optional[int] = ...) -> None: ...

class ConsultationOpening(_message.Message):
    __slots__ = ("denial_references", "transaction", "message", "contact")
    DENIAL_REFERENCES_FIELD_NUMBER: _ClassVar[int]
    TRANSACTION_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    denial_references: _containers.RepeatedScalarFieldContainer[str]
    transaction: Transaction
    message: str
    contact: str
    def __init__(self, denial_references: _Optional[_Iterable[str]] = ..., transaction: _Optional[_Union[Transaction, _Mapping]] = ..., message: _Optional[str] = ..., contact: _Optional[str] = ...) -> None: ...

class ConsultationAnswer(_message.Message):
    __slots__ = ("position", "explanation")
    POSITION_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    position: ConsultationPosition
    explanation: str
    def __init__(self, position: _Optional[_Union[ConsultationPosition, str]] = ..., explanation: _Optional[str] = ...) -> None: ...

class DeadlineExtension(_message.Message):
    __slots__ = ("new_deadline", "reason")
    NEW_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    new_deadline: str
    reason: str
    def __init__(self, new_deadline: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class ConsultationDecision(_message.Message):
    __slots__ = ("decision", "reasoning")
    DECISION_FIELD_NUMBER: _ClassVar[int]
    REASONING_FIELD_NUMBER: _ClassVar[int]
    decision: Decision
    reasoning: str
    def __init__(self, decision: _Optional[_Union[Decision, str]] = ..., reasoning: _Optional[str] = ...) -> None: ...

class ConsultationStatement(_message.Message):
    __slots__ = ("reference", "opening", "answer", "extension", "decision", "link")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    OPENING_FIELD_NUMBER: _ClassVar[int]
    ANSWER_FIELD_NUMBER: _ClassVar[int]
    EXTENSION_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    reference: str
    opening: ConsultationOpening
    answer: ConsultationAnswer
    extension: DeadlineExtension
    decision: ConsultationDecision
    link: _common_pb2.VersionLink
    def __init__(self, reference: _Optional[str] = ..., opening: _Optional[_Union[ConsultationOpening, _Mapping]] = ..., answer: _Optional[_Union[ConsultationAnswer, _Mapping]] = ..., extension: _Optional[_Union[DeadlineExtension, _Mapping]] = ..., decision: _Optional[_Union[ConsultationDecision, _Mapping]] = ..., link: _Optional[_Union[_common_pb2.VersionLink, _Mapping]] = ...) -> None: ...

class ConsultationStepRequest(_message.Message):
    __slots__ = ("request_id", "envelope")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    envelope: _common_pb2.Envelope
    def __init__(self, request_id: _Optional[str] = ..., envelope: _Optional[_Union[_common_pb2.Envelope, _Mapping]] = ...) -> None: ...

class ConsultationEvent(_message.Message):
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

class Consultation(_message.Message):
    __slots__ = ("reference", "state", "requester", "responder", "regime", "denial_references", "answer_deadline", "overdue", "decision", "notified", "events", "version")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    REQUESTER_FIELD_NUMBER: _ClassVar[int]
    RESPONDER_FIELD_NUMBER: _ClassVar[int]
    REGIME_FIELD_NUMBER: _ClassVar[int]
    DENIAL_REFERENCES_FIELD_NUMBER: _ClassVar[int]
    ANSWER_DEADLINE_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_FIELD_NUMBER: _ClassVar[int]
    DECISION_FIELD_NUMBER: _ClassVar[int]
    NOTIFIED_FIELD_NUMBER: _ClassVar[int]
    EVENTS_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    reference: str
    state: ConsultationState
    requester: str
    responder: str
    regime: _denial_pb2.Regime
    denial_references: _containers.RepeatedScalarFieldContainer[str]
    answer_deadline: str
    overdue: bool
    decision: Decision
    notified: _containers.RepeatedScalarFieldContainer[str]
    events: _containers.RepeatedCompositeFieldContainer[ConsultationEvent]
    version: int
    def __init__(self, reference: _Optional[str] = ..., state: _Optional[_Union[ConsultationState, str]] = ..., requester: _Optional[str] = ..., responder: _Optional[str] = ..., regime: _Optional[_Union[_denial_pb2.Regime, str]] = ..., denial_references: _Optional[_Iterable[str]] = ..., answer_deadline: _Optional[str] = ..., overdue: _Optional[bool] = ..., decision: _Optional[_Union[Decision, str]] = ..., notified: _Optional[_Iterable[str]] = ..., events: _Optional[_Iterable[_Union[ConsultationEvent, _Mapping]]] = ..., version: _Optional[int] = ...) -> None: ...

class ConsultationResponse(_message.Message):
    __slots__ = ("consultation",)
    CONSULTATION_FIELD_NUMBER: _ClassVar[int]
    consultation: Consultation
    def __init__(self, consultation: _Optional[_Union[Consultation, _Mapping]] = ...) -> None: ...

class GetConsultationRequest(_message.Message):
    __slots__ = ("reference",)
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    reference: str
    def __init__(self, reference: _Optional[str] = ...) -> None: ...

class GetConsultationResponse(_message.Message):
    __slots__ = ("consultation",)
    CONSULTATION_FIELD_NUMBER: _ClassVar[int]
    consultation: Consultation
    def __init__(self, consultation: _Optional[_Union[Consultation, _Mapping]] = ...) -> None: ...

class ListConsultationsRequest(_message.Message):
    __slots__ = ("role", "state", "overdue_only", "page_size", "page_token")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    STATE_FIELD_NUMBER: _ClassVar[int]
    OVERDUE_ONLY_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    role: ConsultationRole
    state: ConsultationState
    overdue_only: bool
    page_size: int
    page_token: str
    def __init__(self, role: _Optional[_Union[ConsultationRole, str]] = ..., state: _Optional[_Union[ConsultationState, str]] = ..., overdue_only: _Optional[bool] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListConsultationsResponse(_message.Message):
    __slots__ = ("consultations", "next_page_token")
    CONSULTATIONS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    consultations: _containers.RepeatedCompositeFieldContainer[Consultation]
    next_page_token: str
    def __init__(self, consultations: _Optional[_Iterable[_Union[Consultation, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...
