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

class Regime(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    REGIME_UNSPECIFIED: _ClassVar[Regime]
    MILITARY: _ClassVar[Regime]
    DUAL_USE: _ClassVar[Regime]

class LicenceType(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    LICENCE_TYPE_UNSPECIFIED: _ClassVar[LicenceType]
    EXPORT: _ClassVar[LicenceType]
    BROKERING: _ClassVar[LicenceType]
    TRANSIT: _ClassVar[LicenceType]
    INTANGIBLE_TRANSFER: _ClassVar[LicenceType]
    TECHNICAL_ASSISTANCE: _ClassVar[LicenceType]

class Ground(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    GROUND_UNSPECIFIED: _ClassVar[Ground]
    INTERNATIONAL_OBLIGATIONS: _ClassVar[Ground]
    SANCTIONS: _ClassVar[Ground]
    FOREIGN_SECURITY_POLICY: _ClassVar[Ground]
    END_USE_DIVERSION_RISK: _ClassVar[Ground]
    CATCH_ALL: _ClassVar[Ground]

class DenialStatus(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DENIAL_STATUS_UNSPECIFIED: _ClassVar[DenialStatus]
    ACTIVE: _ClassVar[DenialStatus]
    REVOKED: _ClassVar[DenialStatus]
    EXPIRED: _ClassVar[DenialStatus]

class DenialChange(int, metaclass=_enum_type_wrapper.EnumTypeWrapper):
    __slots__ = ()
    DENIAL_CHANGE_UNSPECIFIED: _ClassVar[DenialChange]
    SUBMIT: _ClassVar[DenialChange]
    AMEND: _ClassVar[DenialChange]
    REVOKE: _ClassVar[DenialChange]
    RENEW: _ClassVar[DenialChange]
REGIME_UNSPECIFIED: Regime
MILITARY: Regime
DUAL_USE: Regime
LICENCE_TYPE_UNSPECIFIED: LicenceType
EXPORT: LicenceType
BROKERING: LicenceType
TRANSIT: LicenceType
INTANGIBLE_TRANSFER: LicenceType
TECHNICAL_ASSISTANCE: LicenceType
GROUND_UNSPECIFIED: Ground
INTERNATIONAL_OBLIGATIONS: Ground
SANCTIONS: Ground
FOREIGN_SECURITY_POLICY: Ground
END_USE_DIVERSION_RISK: Ground
CATCH_ALL: Ground
DENIAL_STATUS_UNSPECIFIED: DenialStatus
ACTIVE: DenialStatus
REVOKED: DenialStatus
EXPIRED: DenialStatus
DENIAL_CHANGE_UNSPECIFIED: DenialChange
SUBMIT: DenialChange
AMEND: DenialChange
REVOKE: DenialChange
RENEW: DenialChange

class Party(_message.Message):
    __slots__ = ("name", "aliases", "address", "country")
    NAME_FIELD_NUMBER: _ClassVar[int]
    ALIASES_FIELD_NUMBER: _ClassVar[int]
    ADDRESS_FIELD_NUMBER: _ClassVar[int]
    COUNTRY_FIELD_NUMBER: _ClassVar[int]
    name: str
    aliases: _containers.RepeatedScalarFieldContainer[str]
    address: str
    country: str
    def __init__(self, name: _Optional[str] = ..., aliases: _Optional[_Iterable[str]] = ..., address: _Optional[str] = ..., country: _Optional[str] = ...) -> None: ...

class Reason(_message.Message):
    __slots__ = ("criterion", "ground", "explanation")
    CRITERION_FIELD_NUMBER: _ClassVar[int]
    GROUND_FIELD_NUMBER: _ClassVar[int]
    EXPLANATION_FIELD_NUMBER: _ClassVar[int]
    criterion: int
    ground: Ground
    explanation: str
    def __init__(self, criterion: _Optional[int] = ..., ground: _Optional[_Union[Ground, str]] = ..., explanation: _Optional[str] = ...) -> None: ...

class DenialPayload(_message.Message):
    __slots__ = ("reference", "regime", "licence_type", "issuing_state", "originating_authority", "denial_date", "destination_country", "consignee", "end_user", "end_use", "goods_description", "control_entries", "quantity", "value_eur", "reasons", "contact", "link")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    REGIME_FIELD_NUMBER: _ClassVar[int]
    LICENCE_TYPE_FIELD_NUMBER: _ClassVar[int]
    ISSUING_STATE_FIELD_NUMBER: _ClassVar[int]
    ORIGINATING_AUTHORITY_FIELD_NUMBER: _ClassVar[int]
    DENIAL_DATE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    CONSIGNEE_FIELD_NUMBER: _ClassVar[int]
    END_USER_FIELD_NUMBER: _ClassVar[int]
    END_USE_FIELD_NUMBER: _ClassVar[int]
    GOODS_DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    CONTROL_ENTRIES_FIELD_NUMBER: _ClassVar[int]
    QUANTITY_FIELD_NUMBER: _ClassVar[int]
    VALUE_EUR_FIELD_NUMBER: _ClassVar[int]
    REASONS_FIELD_NUMBER: _ClassVar[int]
    CONTACT_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    reference: str
    regime: Regime
    licence_type: LicenceType
    issuing_state: str
    originating_authority: str
    denial_date: str
    destination_country: str
    consignee: Party
    end_user: Party
    end_use: str
    goods_description: str
    control_entries: _containers.RepeatedScalarFieldContainer[str]
    quantity: str
    value_eur: int
    reasons: _containers.RepeatedCompositeFieldContainer[Reason]
    contact: str
    link: _common_pb2.VersionLink
    def __init__(self, reference: _Optional[str] = ..., regime: _Optional[_Union[Regime, str]] = ..., licence_type: _Optional[_Union[LicenceType, str]] = ..., issuing_state: _Optional[str] = ..., originating_authority: _Optional[str] = ..., denial_date: _Optional[str] = ..., destination_country: _Optional[str] = ..., consignee: _Optional[_Union[Party, _Mapping]] = ..., end_user: _Optional[_Union[Party, _Mapping]] = ..., end_use: _Optional[str] = ..., goods_description: _Optional[str] = ..., control_entries: _Optional[_Iterable[str]] = ..., quantity: _Optional[str] = ..., value_eur: _Optional[int] = ..., reasons: _Optional[_Iterable[_Union[Reason, _Mapping]]] = ..., contact: _Optional[str] = ..., link: _Optional[_Union[_common_pb2.VersionLink, _Mapping]] = ...) -> None: ...

class DenialStatusChange(_message.Message):
    __slots__ = ("reference", "change", "reason", "effective_date", "link")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_DATE_FIELD_NUMBER: _ClassVar[int]
    LINK_FIELD_NUMBER: _ClassVar[int]
    reference: str
    change: DenialChange
    reason: str
    effective_date: str
    link: _common_pb2.VersionLink
    def __init__(self, reference: _Optional[str] = ..., change: _Optional[_Union[DenialChange, str]] = ..., reason: _Optional[str] = ..., effective_date: _Optional[str] = ..., link: _Optional[_Union[_common_pb2.VersionLink, _Mapping]] = ...) -> None: ...

class Denial(_message.Message):
    __slots__ = ("reference", "version", "status", "valid_until", "change", "envelope", "change_envelope", "signer", "recorded_at", "log_index", "revocation_reason", "issuing_state", "regime", "log_entry")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    VALID_UNTIL_FIELD_NUMBER: _ClassVar[int]
    CHANGE_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    CHANGE_ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    SIGNER_FIELD_NUMBER: _ClassVar[int]
    RECORDED_AT_FIELD_NUMBER: _ClassVar[int]
    LOG_INDEX_FIELD_NUMBER: _ClassVar[int]
    REVOCATION_REASON_FIELD_NUMBER: _ClassVar[int]
    ISSUING_STATE_FIELD_NUMBER: _ClassVar[int]
    REGIME_FIELD_NUMBER: _ClassVar[int]
    LOG_ENTRY_FIELD_NUMBER: _ClassVar[int]
    reference: str
    version: int
    status: DenialStatus
    valid_until: str
    change: DenialChange
    envelope: _common_pb2.Envelope
    change_envelope: _common_pb2.Envelope
    signer: str
    recorded_at: _timestamp_pb2.Timestamp
    log_index: int
    revocation_reason: str
    issuing_state: str
    regime: Regime
    log_entry: bytes
    def __init__(self, reference: _Optional[str] = ..., version: _Optional[int] = ..., status: _Optional[_Union[DenialStatus, str]] = ..., valid_until: _Optional[str] = ..., change: _Optional[_Union[DenialChange, str]] = ..., envelope: _Optional[_Union[_common_pb2.Envelope, _Mapping]] = ..., change_envelope: _Optional[_Union[_common_pb2.Envelope, _Mapping]] = ..., signer: _Optional[str] = ..., recorded_at: _Optional[_Union[datetime.datetime, _timestamp_pb2.Timestamp, _Mapping]] = ..., log_index: _Optional[int] = ..., revocation_reason: _Optional[str] = ..., issuing_state: _Optional[str] = ..., regime: _Optional[_Union[Regime, str]] = ..., log_entry: _Optional[bytes] = ...) -> None: ...

class SubmitDenialRequest(_message.Message):
    __slots__ = ("request_id", "envelope")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    envelope: _common_pb2.Envelope
    def __init__(self, request_id: _Optional[str] = ..., envelope: _Optional[_Union[_common_pb2.Envelope, _Mapping]] = ...) -> None: ...

class AmendDenialRequest(_message.Message):
    __slots__ = ("request_id", "reference", "envelope")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    reference: str
    envelope: _common_pb2.Envelope
    def __init__(self, request_id: _Optional[str] = ..., reference: _Optional[str] = ..., envelope: _Optional[_Union[_common_pb2.Envelope, _Mapping]] = ...) -> None: ...

class RevokeDenialRequest(_message.Message):
    __slots__ = ("request_id", "reference", "envelope")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    reference: str
    envelope: _common_pb2.Envelope
    def __init__(self, request_id: _Optional[str] = ..., reference: _Optional[str] = ..., envelope: _Optional[_Union[_common_pb2.Envelope, _Mapping]] = ...) -> None: ...

class RenewDenialRequest(_message.Message):
    __slots__ = ("request_id", "reference", "envelope")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    ENVELOPE_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    reference: str
    envelope: _common_pb2.Envelope
    def __init__(self, request_id: _Optional[str] = ..., reference: _Optional[str] = ..., envelope: _Optional[_Union[_common_pb2.Envelope, _Mapping]] = ...) -> None: ...

class DenialResponse(_message.Message):
    __slots__ = ("denial",)
    DENIAL_FIELD_NUMBER: _ClassVar[int]
    denial: Denial
    def __init__(self, denial: _Optional[_Union[Denial, _Mapping]] = ...) -> None: ...

class GetDenialRequest(_message.Message):
    __slots__ = ("reference", "include_versions")
    REFERENCE_FIELD_NUMBER: _ClassVar[int]
    INCLUDE_VERSIONS_FIELD_NUMBER: _ClassVar[int]
    reference: str
    include_versions: bool
    def __init__(self, reference: _Optional[str] = ..., include_versions: _Optional[bool] = ...) -> None: ...

class GetDenialResponse(_message.Message):
    __slots__ = ("denial", "versions")
    DENIAL_FIELD_NUMBER: _ClassVar[int]
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    denial: Denial
    versions: _containers.RepeatedCompositeFieldContainer[Denial]
    def __init__(self, denial: _Optional[_Union[Denial, _Mapping]] = ..., versions: _Optional[_Iterable[_Union[Denial, _Mapping]]] = ...) -> None: ...

class ListDenialsRequest(_message.Message):
    __slots__ = ("issuing_state", "destination_country", "regime", "status", "page_size", "page_token")
    ISSUING_STATE_FIELD_NUMBER: _ClassVar[int]
    DESTINATION_COUNTRY_FIELD_NUMBER: _ClassVar[int]
    REGIME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PAGE_SIZE_FIELD_NUMBER: _ClassVar[int]
    PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    issuing_state: str
    destination_country: str
    regime: Regime
    status: DenialStatus
    page_size: int
    page_token: str
    def __init__(self, issuing_state: _Optional[str] = ..., destination_country: _Optional[str] = ..., regime: _Optional[_Union[Regime, str]] = ..., status: _Optional[_Union[DenialStatus, str]] = ..., page_size: _Optional[int] = ..., page_token: _Optional[str] = ...) -> None: ...

class ListDenialsResponse(_message.Message):
    __slots__ = ("denials", "next_page_token")
    DENIALS_FIELD_NUMBER: _ClassVar[int]
    NEXT_PAGE_TOKEN_FIELD_NUMBER: _ClassVar[int]
    denials: _containers.RepeatedCompositeFieldContainer[Denial]
    next_page_token: str
    def __init__(self, denials: _Optional[_Iterable[_Union[Denial, _Mapping]]] = ..., next_page_token: _Optional[str] = ...) -> None: ...

class SyncDenialsRequest(_message.Message):
    __slots__ = ("cursor", "batch_size")
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    BATCH_SIZE_FIELD_NUMBER: _ClassVar[int]
    cursor: str
    batch_size: int
    def __init__(self, cursor: _Optional[str] = ..., batch_size: _Optional[int] = ...) -> None: ...

class SyncDenialsResponse(_message.Message):
    __slots__ = ("changes", "cursor")
    CHANGES_FIELD_NUMBER: _ClassVar[int]
    CURSOR_FIELD_NUMBER: _ClassVar[int]
    changes: _containers.RepeatedCompositeFieldContainer[Denial]
    cursor: str
    def __init__(self, changes: _Optional[_Iterable[_Union[Denial, _Mapping]]] = ..., cursor: _Optional[str] = ...) -> None: ...
