"""Denial exchange operations: verify, validate, authorize, then record in one transaction."""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
import re
from collections.abc import AsyncIterator
from typing import cast

from google.protobuf.message import DecodeError, Message

from client.core.chain import Link, denial_statement
from client.core.envelope import (
    DENIAL_CHANGE_PAYLOAD_TYPE,
    DENIAL_PAYLOAD_TYPE,
    VerifiedEnvelope,
)
from ecx.v1 import common_pb2, consultation_pb2, denial_pb2, notice_pb2
from server import policy
from server.clock import Clock
from server.config import Limits
from server.domain import denials as rules
from server.domain.countries import normalize_country
from server.domain.exchange_log import Event
from server.domain.participants import Caller
from server.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
)
from server.registry import Registry
from server.services.paging import DENIAL_CHANGES, DENIAL_PAGE, PositionTokens
from server.services.reads import record_read
from server.services.screening import screening_names
from server.services.signed import SignedState, claimed_regime, stored_columns_agree
from server.store import DenialFilter, DenialRow, Store, Transaction, WriteJob
from server.wire import length_delimited

log = logging.getLogger(__name__)

_CURSOR_FIELD = denial_pb2.SyncDenialsResponse.DESCRIPTOR.fields_by_name["cursor"].number
_REQUEST_ID = re.compile(r"[A-Za-z0-9._:-]{1,128}")


def check_request_id(request_id: str) -> None:
    """Every mutating RPC carries a client-chosen id; retries reuse it."""
    if not request_id:
        raise InvalidArgument.field("request_id", "is required")
    if not _REQUEST_ID.fullmatch(request_id):
        raise InvalidArgument.field("request_id", "1-128 characters of A-Z a-z 0-9 . _ : -")


# The statement each write's envelope carries.
_STATEMENTS: dict[str, type[Message]] = {
    "SubmitDenial": denial_pb2.DenialPayload,
    "AmendDenial": denial_pb2.DenialPayload,
    "RevokeDenial": denial_pb2.DenialStatusChange,
    "RenewDenial": denial_pb2.DenialStatusChange,
    "OpenConsultation": consultation_pb2.ConsultationStatement,
    "RespondToConsultation": consultation_pb2.ConsultationStatement,
    "ExtendConsultation": consultation_pb2.ConsultationStatement,
    "RecordDecision": consultation_pb2.ConsultationStatement,
    "ShareNotice": notice_pb2.NoticeStatement,
    "UpdateNotice": notice_pb2.NoticeStatement,
    "WithdrawNotice": notice_pb2.NoticeStatement,
    "GrantFurtherSharing": notice_pb2.NoticeStatement,
    "AcknowledgeNotice": notice_pb2.NoticeStatement,
    "RequestFurtherSharing": notice_pb2.NoticeStatement,
}


def request_digest(method: str, request: Message) -> bytes:
    """What a retry must match: the method and the request, except the signature bytes of its
    envelope and the link of its statement. An ECDSA signer signs the same payload differently
    each time (the hub checks that the signature is the caller's before the digest counts); and
    a client retrying a change links it after the version it finds, which is the change itself
    if the first attempt took effect. The same content with the same request id is the same
    request, wherever it was linked; only the first attempt's link was ever checked."""
    if "envelope" in request.DESCRIPTOR.fields_by_name and request.HasField("envelope"):
        unsigned = type(request)()
        unsigned.CopyFrom(request)
        envelope = unsigned.envelope  # type: ignore[attr-defined]
        for signature in envelope.signatures:
            signature.sig = b""
        kind = _STATEMENTS.get(method)
        if kind is not None:
            try:
                statement = kind.FromString(envelope.payload)
            except DecodeError:
                pass  # refused before any digest counts; digested as sent
            else:
                statement.ClearField("link")
                if isinstance(statement, notice_pb2.NoticeStatement):
                    # A notice is sealed afresh at each attempt: what it is, is its content's
                    # digest and routing, not its ciphertext and key wraps.
                    step = statement.WhichOneof("step")
                    if step == "version":
                        statement.version.ClearField("ciphertext")
                        statement.version.ClearField("wraps")
                    elif step == "grant":
                        statement.grant.ClearField("wraps")
                envelope.payload = statement.SerializeToString(deterministic=True)
        request = unsigned
    return hashlib.sha256(
        method.encode() + b"\0" + request.SerializeToString(deterministic=True)
    ).digest()


class DenialExchange:
    """The denial operations the DenialService exposes."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        clock: Clock,
        limits: Limits,
        denial_rules: rules.DenialRules,
        signed: SignedState,
        tokens: PositionTokens,
    ) -> None:
        self._store = store
        self._registry = registry
        self._clock = clock
        self._limits = limits
        self._rules = denial_rules
        self._signed = signed
        self._tokens = tokens

    def _verify(
        self, caller: Caller, envelope: common_pb2.Envelope, payload_type: str
    ) -> VerifiedEnvelope:
        verified = self._registry.verify(envelope, payload_type, self._clock.now())
        if verified.signer != caller.id:
            raise PermissionDenied(
                f"payload is signed by {verified.signer}, not by the caller {caller.id}"
            )
        return verified

    async def submit_denial(
        self, caller: Caller, request: denial_pb2.SubmitDenialRequest
    ) -> denial_pb2.DenialResponse:
        check_request_id(request.request_id)
        self._require_envelope(request)
        verified = self._verify(caller, request.envelope, DENIAL_PAYLOAD_TYPE)
        today = self._clock.now().date()
        content = rules.DenialContent.from_payload_bytes(
            verified.payload,
            caller_state=caller.participant.member_state,
            today=today,
            rules=self._rules,
        )
        if content.link.version != 1:
            raise InvalidArgument.field("link.version", "a new denial is version 1")
        until = rules.valid_until(content.denial_date, None, self._rules)
        names = screening_names(content.payload)

        def job(tx: Transaction) -> bytes:
            if tx.denial_state(content.reference) is not None:
                raise AlreadyExists(f"denial {content.reference} already exists")
            response = self._record(
                tx,
                caller,
                "SubmitDenial",
                denial_pb2.Denial(
                    reference=content.reference,
                    version=1,
                    status=denial_pb2.ACTIVE,
                    valid_until=until,
                    change=denial_pb2.SUBMIT,
                    envelope=request.envelope,
                    signer=verified.signer,
                    issuing_state=content.issuing_state,
                    regime=_regime(content.regime),
                ),
                destination=content.destination_country,
                renewed_on="",
                digest_of=verified.payload,
            )
            tx.index_for_screening(content.reference, names)
            return response

        return await self._write(
            caller,
            "SubmitDenial",
            request.request_id,
            request,
            job,
        )

    async def amend_denial(
        self, caller: Caller, request: denial_pb2.AmendDenialRequest
    ) -> denial_pb2.DenialResponse:
        check_request_id(request.request_id)
        self._require_reference(request.reference)
        self._require_envelope(request)
        await self._authorize_change(caller, request.reference)
        verified = self._verify(caller, request.envelope, DENIAL_PAYLOAD_TYPE)
        today = self._clock.now().date()
        content = rules.DenialContent.from_payload_bytes(
            verified.payload,
            caller_state=caller.participant.member_state,
            today=today,
            rules=self._rules,
            check_age=False,
        )
        if content.reference != request.reference:
            raise InvalidArgument.field(
                "reference", "the payload's reference must equal the request's"
            )

        names = screening_names(content.payload)

        def job(tx: Transaction) -> bytes:
            current = self._current(tx, caller, request.reference)
            _check_follows(current, content.link)
            until = rules.check_amendment(current, content, today, self._rules)
            response = self._record(
                tx,
                caller,
                "AmendDenial",
                denial_pb2.Denial(
                    reference=current.reference,
                    version=current.version + 1,
                    status=denial_pb2.ACTIVE,
                    valid_until=until,
                    change=denial_pb2.AMEND,
                    envelope=request.envelope,
                    signer=verified.signer,
                    issuing_state=current.issuing_state,
                    regime=_regime(current.regime),
                ),
                destination=content.destination_country,
                renewed_on=current.renewed_on,
                digest_of=verified.payload,
            )
            tx.index_for_screening(current.reference, names)
            return response

        return await self._write(
            caller,
            "AmendDenial",
            request.request_id,
            request,
            job,
        )

    async def revoke_denial(
        self, caller: Caller, request: denial_pb2.RevokeDenialRequest
    ) -> denial_pb2.DenialResponse:
        return await self._change_status(caller, request, denial_pb2.REVOKE, "RevokeDenial")

    async def renew_denial(
        self, caller: Caller, request: denial_pb2.RenewDenialRequest
    ) -> denial_pb2.DenialResponse:
        return await self._change_status(caller, request, denial_pb2.RENEW, "RenewDenial")

    async def _change_status(
        self,
        caller: Caller,
        request: denial_pb2.RevokeDenialRequest | denial_pb2.RenewDenialRequest,
        change: int,
        method: str,
    ) -> denial_pb2.DenialResponse:
        check_request_id(request.request_id)
        self._require_reference(request.reference)
        self._require_envelope(request)
        await self._authorize_change(caller, request.reference)
        verified = self._verify(caller, request.envelope, DENIAL_CHANGE_PAYLOAD_TYPE)
        today = self._clock.now().date()
        statement = rules.StatusChange.from_payload_bytes(
            verified.payload, reference=request.reference, expected=change, today=today
        )

        def job(tx: Transaction) -> bytes:
            current = self._current(tx, caller, request.reference)
            _check_follows(current, statement.link)
            previous = denial_pb2.Denial.FromString(current.latest_record)
            if change == denial_pb2.REVOKE:
                rules.check_revocation(current, statement)
                status, renewed_on, until = (
                    denial_pb2.REVOKED,
                    current.renewed_on,
                    current.valid_until,
                )
            else:
                rules.check_renewal(current, statement)
                status, renewed_on = denial_pb2.ACTIVE, statement.effective_date.isoformat()
                content = denial_pb2.DenialPayload.FromString(previous.envelope.payload)
                denial_date = rules.parse_date(content.denial_date)
                assert denial_date is not None
                until = rules.valid_until(denial_date, statement.effective_date, self._rules)
            return self._record(
                tx,
                caller,
                method,
                denial_pb2.Denial(
                    reference=current.reference,
                    version=current.version + 1,
                    status=status,
                    valid_until=until,
                    change=_change(change),
                    envelope=previous.envelope,
                    change_envelope=request.envelope,
                    signer=verified.signer,
                    revocation_reason=statement.reason if change == denial_pb2.REVOKE else "",
                    issuing_state=current.issuing_state,
                    regime=_regime(current.regime),
                ),
                destination=_destination(previous),
                renewed_on=renewed_on,
                digest_of=verified.payload,
            )

        return await self._write(caller, method, request.request_id, request, job)

    async def _authorize_change(self, caller: Caller, reference: str) -> None:
        """Refuse a non-issuer before looking at its payload; the writer checks again."""
        versions = await self._store.denial_versions(reference)
        if not versions:
            raise NotFound(f"no denial {reference}")
        latest = denial_pb2.Denial.FromString(versions[-1][1])
        policy.authorize_denial_change(caller, latest.signer, latest.regime, reference)

    def _current(self, tx: Transaction, caller: Caller, reference: str) -> rules.DenialState:
        current = tx.denial_state(reference)
        if current is None:
            raise NotFound(f"no denial {reference}")
        policy.authorize_denial_change(caller, current.issuer, current.regime, reference)
        return current

    def _record(
        self,
        tx: Transaction,
        caller: Caller,
        action: str,
        denial: denial_pb2.Denial,
        *,
        destination: str,
        renewed_on: str,
        digest_of: bytes,
    ) -> bytes:
        now = self._clock.now()
        index, entry = tx.append_event(
            Event(
                time=now,
                actor=caller.id,
                action=action,
                object_ids=(_object_id(denial),),
                payload_sha256=hashlib.sha256(digest_of).digest(),
                parties=(caller.id, *policy.denial_audience(denial.regime)),
            )
        )
        denial.recorded_at.FromDatetime(now)
        denial.log_index = index
        denial.log_entry = entry
        tx.save_version(
            DenialRow(
                reference=denial.reference,
                issuer=caller.id,
                issuing_state=denial.issuing_state,
                regime=denial.regime,
                destination_country=destination,
                status=denial.status,
                valid_until=denial.valid_until,
                renewed_on=renewed_on,
                version=denial.version,
            ),
            denial.SerializeToString(),
        )
        return denial_pb2.DenialResponse(denial=denial).SerializeToString()

    async def _write(
        self, caller: Caller, method: str, request_id: str, request: Message, job: WriteJob
    ) -> denial_pb2.DenialResponse:
        response = await self._store.write(
            caller.id, request_id, method, request_digest(method, request), job
        )
        return denial_pb2.DenialResponse.FromString(response)

    @staticmethod
    def _require_reference(reference: str) -> None:
        if not reference:
            raise InvalidArgument.field("reference", "is required")
        if not rules.REFERENCE.fullmatch(reference):
            raise InvalidArgument.field("reference", rules.REFERENCE_FORM)

    @staticmethod
    def _require_envelope(
        request: denial_pb2.SubmitDenialRequest
        | denial_pb2.AmendDenialRequest
        | denial_pb2.RevokeDenialRequest
        | denial_pb2.RenewDenialRequest,
    ) -> None:
        if not request.HasField("envelope"):
            raise InvalidArgument.field("envelope", "is required")

    # Reads

    async def get_denial(
        self, caller: Caller, request: denial_pb2.GetDenialRequest
    ) -> denial_pb2.GetDenialResponse:
        reference = request.reference
        self._require_reference(reference)
        versions, logged = await self._store.denial_with_log(reference)
        if not versions:
            raise NotFound(f"no denial {reference}")
        records = [denial_pb2.Denial.FromString(record) for _, record in versions]
        # Who may be told the denial exists follows from its signed content; then the whole
        # history is replayed from what was signed, and held against what the exchange log
        # recorded, before any of it is shown.
        policy.authorize_denial_read(caller, claimed_regime(records[-1]), reference)
        facts = self._signed.logged_history(reference, records, logged)
        policy.authorize_denial_read(caller, facts[-1].regime, reference)
        for (regime, _), version in zip(versions, facts, strict=True):
            stored_columns_agree(reference, version, regime=regime)
        today = self._clock.now().date()
        latest = records[-1]
        latest.status = rules.effective_status(latest.status, latest.valid_until, today)  # type: ignore[assignment]
        response = denial_pb2.GetDenialResponse(denial=latest)
        if request.include_versions:
            response.versions.extend(records)
        shown = response.versions or [latest]
        await record_read(
            self._store,
            self._clock,
            caller,
            "GetDenial",
            [_object_id(d) for d in shown],
            {latest.signer},
            hashlib.sha256(response.SerializeToString(deterministic=True)).digest(),
        )
        return response

    async def list_denials(
        self, caller: Caller, request: denial_pb2.ListDenialsRequest
    ) -> denial_pb2.ListDenialsResponse:
        flt = DenialFilter(
            regimes=policy.readable_regimes(caller),
            issuing_state=self._country_filter("issuing_state", request.issuing_state),
            destination_country=self._country_filter(
                "destination_country", request.destination_country
            ),
            regime=request.regime,
            status=request.status,
            today=self._clock.now().date().isoformat(),
        )
        if request.regime not in (0, denial_pb2.MILITARY, denial_pb2.DUAL_USE):
            raise InvalidArgument.field("regime", "unknown regime")
        if request.status not in (0, denial_pb2.ACTIVE, denial_pb2.REVOKED, denial_pb2.EXPIRED):
            raise InvalidArgument.field("status", "unknown status")
        if request.page_size > self._limits.max_page_size:
            raise InvalidArgument.field("page_size", f"at most {self._limits.max_page_size}")
        size = request.page_size or self._limits.default_page_size
        after = self._tokens.open(DENIAL_PAGE, caller.id, request.page_token, first=0)
        rows = await self._store.list_denials(flt, after, size + 1)
        today = self._clock.now().date()
        response = denial_pb2.ListDenialsResponse(
            denials=[
                denial
                for _, record in rows[:size]
                if (denial := self._signed_match(flt, record, today)) is not None
            ]
        )
        if len(rows) > size:
            response.next_page_token = self._tokens.seal(DENIAL_PAGE, caller.id, rows[size - 1][0])
        await record_read(
            self._store,
            self._clock,
            caller,
            "ListDenials",
            [_object_id(d) for d in response.denials],
            {d.signer for d in response.denials},
            hashlib.sha256(response.SerializeToString(deterministic=True)).digest(),
        )
        return response

    async def sync_denials(
        self, caller: Caller, request: denial_pb2.SyncDenialsRequest
    ) -> AsyncIterator[bytes]:
        """Serialized SyncDenialsResponse messages."""
        if request.batch_size > self._limits.max_sync_batch:
            raise InvalidArgument.field("batch_size", f"at most {self._limits.max_sync_batch}")
        after = self._tokens.open(DENIAL_CHANGES, caller.id, request.cursor, first=0)
        # Unless asked for fewer, as many as allowed: each message costs a query and a frame.
        batch = request.batch_size or self._limits.max_sync_batch
        regimes = policy.readable_regimes(caller)
        everything = regimes >= {denial_pb2.MILITARY, denial_pb2.DUAL_USE}
        owners: set[str] = set()
        first_page = last_page = b""
        try:
            async for page in self._store.changes(None if everything else regimes, after, batch):
                # The page comes as the serialized `changes` of a response: the response is
                # written directly, that field and then the cursor, with no re-encoding.
                sealed = self._tokens.seal(DENIAL_CHANGES, caller.id, page.last_seq)
                cursor = length_delimited(_CURSOR_FIELD, sealed.encode())
                owners.update(page.issuers)
                yield page.changes + cursor
                first_page = first_page or page.changes
                last_page = page.changes
        finally:
            await record_read(
                self._store,
                self._clock,
                caller,
                "SyncDenials",
                # The range names exactly what was returned (every version in it that the
                # caller's regimes cover), so the request is digested rather than 65 MB.
                _changes_returned(first_page, last_page),
                owners,
                hashlib.sha256(request.SerializeToString(deterministic=True)).digest(),
            )

    def _signed_match(
        self, flt: DenialFilter, record: bytes, today: dt.date
    ) -> denial_pb2.Denial | None:
        """A listed denial, if what its issuer signed matches the filters the store applied to
        its columns (and the reader may read its regime); else None, logged."""
        denial = denial_pb2.Denial.FromString(record)
        facts = self._signed.latest(denial.reference, denial)
        if facts is None:
            return None
        status = rules.effective_status(facts.status, facts.valid_until, today)
        wanted = (
            facts.regime in flt.regimes
            and flt.regime in (0, facts.regime)
            and flt.issuing_state in ("", facts.issuing_state)
            and flt.destination_country in ("", facts.destination_country)
            and flt.status in (0, status)
        )
        if not wanted:
            log.error(
                "store integrity: denial %s v%d was listed by columns its signed statements"
                " contradict; left out",
                denial.reference,
                denial.version,
            )
            return None
        denial.status = status  # type: ignore[assignment]
        return denial

    @staticmethod
    def _with_effective_status(record: bytes, today: dt.date) -> denial_pb2.Denial:
        denial = denial_pb2.Denial.FromString(record)
        denial.status = rules.effective_status(denial.status, denial.valid_until, today)  # type: ignore[assignment]
        return denial

    @staticmethod
    def _country_filter(field: str, value: str) -> str:
        if not value:
            return ""
        code = normalize_country(value)
        if code is None:
            raise InvalidArgument.field(field, "not an ISO 3166-1 alpha-2 country code")
        return code


def _check_follows(current: rules.DenialState, link: Link) -> None:
    latest = denial_pb2.Denial.FromString(current.latest_record)
    rules.check_follows(
        link, f"denial {current.reference}", current.version, denial_statement(latest)
    )


def _object_id(denial: denial_pb2.Denial) -> str:
    return f"denial:{denial.reference}:v{denial.version}"


def _destination(previous: denial_pb2.Denial) -> str:
    payload = denial_pb2.DenialPayload.FromString(previous.envelope.payload)
    return normalize_country(payload.destination_country) or payload.destination_country


def _changes_returned(first_page: bytes, last_page: bytes) -> list[str]:
    """The range of versions a sync returned, from its first to its last, named by reference
    and version: never by sequence number, which counts versions the reader may not see."""
    if not first_page:
        return []
    parse = denial_pb2.SyncDenialsResponse.FromString
    head = parse(first_page).changes
    tail = head if last_page is first_page else parse(last_page).changes
    first, last = head[0], tail[-1]
    return [f"denial-changes:{first.reference}:v{first.version}..{last.reference}:v{last.version}"]


def _regime(value: int) -> denial_pb2.Regime:
    return cast(denial_pb2.Regime, value)


def _change(value: int) -> denial_pb2.DenialChange:
    return cast(denial_pb2.DenialChange, value)
