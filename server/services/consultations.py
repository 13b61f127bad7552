"""ConsultationService: screening and the consultation workflow between two authorities."""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from collections.abc import Callable, Iterable, Sequence
from typing import cast

from google.protobuf.message import Message

from client.core.chain import Link
from client.core.envelope import CONSULTATION_PAYLOAD_TYPE
from ecx.v1 import consultation_pb2, denial_pb2
from server import policy
from server.clock import Clock
from server.domain import consultations as rules
from server.domain.consultation_history import ConsultationFacts, replay_consultation
from server.domain.denial_history import HistoryError
from server.domain.denials import (
    REFERENCE,
    REFERENCE_FORM,
    FieldChecker,
    check_follows,
    check_link_form,
    effective_status,
    has_unknown_fields,
)
from server.domain.exchange_log import Event
from server.domain.participants import Caller, Role
from server.errors import (
    AlreadyExists,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    StoreDamaged,
)
from server.registry import Registry
from server.services.denials import check_request_id, request_digest
from server.services.paging import CONSULTATION_PAGE, PositionTokens
from server.services.reads import record_read
from server.services.screening import Screener
from server.services.signed import SignedState
from server.store import ConsultationFilter, Store, Transaction

log = logging.getLogger(__name__)

_STEPS = {
    "OpenConsultation": "opening",
    "RespondToConsultation": "answer",
    "ExtendConsultation": "extension",
    "RecordDecision": "decision",
}


class ConsultationDesk:
    """The consultation operations; screening is delegated to a Screener."""

    def __init__(
        self,
        store: Store,
        registry: Registry,
        clock: Clock,
        consultation_rules: rules.ConsultationRules,
        screener: Screener,
        signed: SignedState,
        tokens: PositionTokens,
    ) -> None:
        self._signed = signed
        self._store = store
        self._registry = registry
        self._clock = clock
        self._rules = consultation_rules
        self._screener = screener
        self._tokens = tokens

    async def screen_transaction(
        self, caller: Caller, request: consultation_pb2.ScreenTransactionRequest
    ) -> consultation_pb2.ScreenTransactionResponse:
        return await self._screener.screen_transaction(caller, request)

    # Steps

    def _statement(
        self, caller: Caller, request: consultation_pb2.ConsultationStepRequest, method: str
    ) -> consultation_pb2.ConsultationStatement:
        check_request_id(request.request_id)
        if not request.HasField("envelope"):
            raise InvalidArgument.field("envelope", "is required")
        verified = self._registry.verify(
            request.envelope, CONSULTATION_PAYLOAD_TYPE, self._clock.now()
        )
        if verified.signer != caller.id:
            raise PermissionDenied(
                f"payload is signed by {verified.signer}, not by the caller {caller.id}"
            )
        try:
            statement = consultation_pb2.ConsultationStatement.FromString(verified.payload)
        except Exception as e:
            raise InvalidArgument.field("envelope.payload", "not a ConsultationStatement") from e
        if has_unknown_fields(statement):
            raise InvalidArgument.field("envelope.payload", "carries fields unknown to the hub")
        expected = _STEPS[method]
        if statement.WhichOneof("step") != expected:
            raise InvalidArgument.field("envelope.payload", f"must carry the {expected} step")
        # (an opening's reference is checked with the rest of the opening)
        if expected != "opening" and not REFERENCE.fullmatch(statement.reference):
            raise InvalidArgument.field("reference", REFERENCE_FORM)
        c = FieldChecker()
        field = "envelope.payload.link"
        link = check_link_form(c, field, statement.link if statement.HasField("link") else None)
        if expected == "opening" and link.version != 1:
            c.fail(f"{field}.version", "an opening is version 1")
        elif expected != "opening" and link.version == 1:
            c.fail(f"{field}.version", "a step follows the opening: version 2 or later")
        c.raise_if_any()
        return statement

    async def open_consultation(
        self, caller: Caller, request: consultation_pb2.ConsultationStepRequest
    ) -> consultation_pb2.ConsultationResponse:
        statement = self._statement(caller, request, "OpenConsultation")
        opening = rules.check_opening(statement, caller.participant.member_state)
        today = self._clock.now().date()

        def job(tx: Transaction) -> bytes:
            if tx.consultation_state(opening.reference) is not None:
                raise AlreadyExists(f"consultation {opening.reference} already exists")
            denials = []
            for ref in opening.denial_references:
                state = tx.denial_state(ref)
                if state is None:
                    raise NotFound(f"no denial {ref}")
                policy.authorize_denial_read(caller, state.regime, ref)
                status = effective_status(state.status, state.valid_until, today)
                denials.append((ref, state.issuer, state.regime, status))
            responder = rules.check_denials_for_opening(denials, opening.regime, caller.id)
            consultation = consultation_pb2.Consultation(
                reference=opening.reference,
                state=consultation_pb2.OPEN,
                requester=caller.id,
                responder=responder,
                regime=cast(denial_pb2.Regime, opening.regime),
                denial_references=opening.denial_references,
                answer_deadline=rules.answer_deadline(today, self._rules),
            )
            opened_on = today.isoformat()
            return self._record(
                tx, caller, "OpenConsultation", consultation, opened_on, request, []
            )

        return await self._write(caller, "OpenConsultation", request, job)

    async def respond_to_consultation(
        self, caller: Caller, request: consultation_pb2.ConsultationStepRequest
    ) -> consultation_pb2.ConsultationResponse:
        statement = self._statement(caller, request, "RespondToConsultation")

        def job(tx: Transaction) -> bytes:
            current, consultation = self._current(tx, caller, statement)
            policy.authorize_consultation_step(
                caller, current.responder, "answers", current.reference
            )
            rules.check_answer(current, statement)
            consultation.state = consultation_pb2.ANSWERED
            return self._record(
                tx, caller, "RespondToConsultation", consultation, current.opened_on, request, []
            )

        return await self._write(caller, "RespondToConsultation", request, job)

    async def extend_consultation(
        self, caller: Caller, request: consultation_pb2.ConsultationStepRequest
    ) -> consultation_pb2.ConsultationResponse:
        statement = self._statement(caller, request, "ExtendConsultation")

        def job(tx: Transaction) -> bytes:
            current, consultation = self._current(tx, caller, statement)
            policy.authorize_consultation_step(
                caller, current.responder, "extends", current.reference
            )
            consultation.answer_deadline = rules.check_extension(current, statement, self._rules)
            return self._record(
                tx, caller, "ExtendConsultation", consultation, current.opened_on, request, []
            )

        return await self._write(caller, "ExtendConsultation", request, job)

    async def record_decision(
        self, caller: Caller, request: consultation_pb2.ConsultationStepRequest
    ) -> consultation_pb2.ConsultationResponse:
        statement = self._statement(caller, request, "RecordDecision")
        today = self._clock.now().date()

        def job(tx: Transaction) -> bytes:
            current, consultation = self._current(tx, caller, statement)
            policy.authorize_consultation_step(
                caller, current.requester, "decides", current.reference
            )
            decision = rules.check_decision(current, statement, today, self._rules)
            consultation.state = consultation_pb2.DECIDED
            consultation.decision = cast(consultation_pb2.Decision, decision)
            notified: list[str] = []
            if decision == consultation_pb2.GRANTED:
                notified = self._grant_notified(current)
                consultation.notified[:] = notified
            return self._record(
                tx, caller, "RecordDecision", consultation, current.opened_on, request, notified
            )

        return await self._write(caller, "RecordDecision", request, job)

    def _grant_notified(self, current: rules.ConsultationState) -> list[str]:
        """Reg. 2021/821 Art. 16(5): a dual-use grant despite a denial goes to every state and
        the Commission; CP 2008/944 Art. 4(2): a military one to the denying state."""
        if current.regime != denial_pb2.DUAL_USE:
            return [current.responder]
        everyone = {
            p.id for p in self._registry.all() if p.has(Role.AUTHORITY) or p.has(Role.COMMISSION)
        }
        return sorted((everyone | {current.responder}) - {current.requester})

    def _current(
        self,
        tx: Transaction,
        caller: Caller,
        statement: consultation_pb2.ConsultationStatement,
    ) -> tuple[rules.ConsultationState, consultation_pb2.Consultation]:
        """The consultation a step is for, if the caller may see it, and if the step follows
        its current version."""
        reference = statement.reference
        current = tx.consultation_state(reference)
        if current is None:
            raise NotFound(f"no consultation {reference}")
        consultation = consultation_pb2.Consultation.FromString(current.record)
        facts = self._facts(consultation)
        responder = facts.responder or self._signed_issuer(
            facts.denial_references, lambda ref: _latest_record(tx, ref)
        )
        policy.authorize_consultation_read(
            caller,
            facts.requester,
            responder,
            reference,
            granted=facts.granted,
            regime=facts.regime,
        )
        current = dataclasses.replace(
            current, requester=facts.requester, responder=responder, regime=facts.regime
        )
        check_follows(
            Link.of(statement.link),
            f"consultation {reference}",
            current.version,
            consultation.events[-1].envelope.payload,
        )
        return current, consultation

    def _record(
        self,
        tx: Transaction,
        caller: Caller,
        action: str,
        consultation: consultation_pb2.Consultation,
        opened_on: str,
        request: consultation_pb2.ConsultationStepRequest,
        notified: list[str],
    ) -> bytes:
        now = self._clock.now()
        consultation.version += 1
        parties = {consultation.requester, consultation.responder, *notified}
        index, entry = tx.append_event(
            Event(
                time=now,
                actor=caller.id,
                action=action,
                object_ids=(f"consultation:{consultation.reference}:v{consultation.version}",),
                payload_sha256=hashlib.sha256(request.envelope.payload).digest(),
                parties=tuple(sorted(parties)),
            )
        )
        event = consultation.events.add(
            version=consultation.version,
            envelope=request.envelope,
            signer=caller.id,
            log_index=index,
            log_entry=entry,
        )
        event.recorded_at.FromDatetime(now)
        state = rules.ConsultationState(
            reference=consultation.reference,
            requester=consultation.requester,
            responder=consultation.responder,
            regime=consultation.regime,
            state=consultation.state,
            answer_deadline=consultation.answer_deadline,
            opened_on=opened_on,
            decision=consultation.decision,
            version=consultation.version,
            record=consultation.SerializeToString(),
        )
        tx.save_consultation(state, notified)
        return consultation_pb2.ConsultationResponse(consultation=consultation).SerializeToString()

    async def _write(
        self,
        caller: Caller,
        method: str,
        request: consultation_pb2.ConsultationStepRequest,
        job: Callable[[Transaction], bytes],
    ) -> consultation_pb2.ConsultationResponse:
        digest = request_digest(method, request)
        response = await self._store.write(caller.id, request.request_id, method, digest, job)
        result = consultation_pb2.ConsultationResponse.FromString(response)
        self._mark_overdue(result.consultation)
        return result

    def _mark_overdue(self, consultation: consultation_pb2.Consultation) -> None:
        today = self._clock.now().date()
        consultation.overdue = rules.is_overdue(
            consultation.state, consultation.answer_deadline, today
        )

    # What the parties signed

    def _facts(self, consultation: consultation_pb2.Consultation) -> ConsultationFacts:
        """The consultation replayed from its signed steps; StoreDamaged (logged) if it does
        not verify."""
        try:
            return replay_consultation(consultation, self._signed.verify, self._rules)
        except HistoryError as e:
            log.error("store integrity: %s; not served", e)
            raise StoreDamaged(
                f"the hub's store is damaged at consultation {consultation.reference}"
            ) from e

    def _signed_issuer(
        self, references: Sequence[str], latest: Callable[[str], bytes | None]
    ) -> str:
        """The issuer of the consulted denials, by their signed content ("" if none verifies):
        the responder, until it has signed a step itself."""
        for reference in references[:1]:
            record = latest(reference)
            if record is not None:
                facts = self._signed.latest(reference, denial_pb2.Denial.FromString(record))
                if facts is not None:
                    return facts.issuer
        return ""

    async def _may_read(self, caller: Caller, consultation: consultation_pb2.Consultation) -> bool:
        facts = self._facts(consultation)
        responder = facts.responder
        if responder is None:
            latest: dict[str, bytes | None] = {}
            for reference in facts.denial_references[:1]:
                versions = await self._store.denial_versions(reference)
                latest[reference] = versions[-1][1] if versions else None
            responder = self._signed_issuer(facts.denial_references, latest.get)
        return policy.may_read_consultation(
            caller, facts.requester, responder, granted=facts.granted, regime=facts.regime
        )

    # Reads

    async def _log_read(
        self,
        caller: Caller,
        action: str,
        consultations: Iterable[consultation_pb2.Consultation],
        response: Message,
    ) -> None:
        shown = list(consultations)
        await record_read(
            self._store,
            self._clock,
            caller,
            action,
            [f"consultation:{c.reference}:v{c.version}" for c in shown],
            {p for c in shown for p in (c.requester, c.responder)},
            hashlib.sha256(response.SerializeToString(deterministic=True)).digest(),
        )

    async def get_consultation(
        self, caller: Caller, request: consultation_pb2.GetConsultationRequest
    ) -> consultation_pb2.GetConsultationResponse:
        if not request.reference:
            raise InvalidArgument.field("reference", "a consultation reference is required")
        if not REFERENCE.fullmatch(request.reference):
            raise InvalidArgument.field("reference", REFERENCE_FORM)
        found = await self._store.consultation(request.reference)
        if found is None:
            raise NotFound(f"no consultation {request.reference}")
        record, notified = found
        consultation = consultation_pb2.Consultation.FromString(record)
        # Whom the store names may be told it exists; who may read it follows from the steps
        # its parties signed.
        policy.authorize_consultation_read(
            caller,
            consultation.requester,
            consultation.responder,
            request.reference,
            granted=caller.id in notified,
            regime=denial_pb2.DUAL_USE,
        )
        if not await self._may_read(caller, consultation):
            raise NotFound(f"no consultation {request.reference}")
        self._mark_overdue(consultation)
        response = consultation_pb2.GetConsultationResponse(consultation=consultation)
        await self._log_read(caller, "GetConsultation", [consultation], response)
        return response

    async def list_consultations(
        self, caller: Caller, request: consultation_pb2.ListConsultationsRequest
    ) -> consultation_pb2.ListConsultationsResponse:
        if request.role not in consultation_pb2.ConsultationRole.values():
            raise InvalidArgument.field("role", "unknown role")
        if request.state not in consultation_pb2.ConsultationState.values():
            raise InvalidArgument.field("state", "unknown state")
        if request.page_size > 500:
            raise InvalidArgument.field("page_size", "at most 500")
        after = self._tokens.open(CONSULTATION_PAGE, caller.id, request.page_token, first=0)
        size = request.page_size or 100
        today = self._clock.now().date()
        flt = ConsultationFilter(
            participant=caller.id,
            role=request.role,
            state=request.state,
            overdue_on=today.isoformat() if request.overdue_only else "",
        )
        rows = await self._store.list_consultations(flt, after, size + 1)
        response = consultation_pb2.ListConsultationsResponse()
        for _, record in rows[:size]:
            consultation = consultation_pb2.Consultation.FromString(record)
            try:
                readable = await self._may_read(caller, consultation)
            except StoreDamaged:
                readable = False
            if not readable:
                log.error(
                    "store integrity: consultation %s listed for %s, whom its signed steps do"
                    " not name; left out",
                    consultation.reference,
                    caller.id,
                )
                continue
            self._mark_overdue(consultation)
            response.consultations.append(consultation)
        if len(rows) > size:
            response.next_page_token = self._tokens.seal(
                CONSULTATION_PAGE, caller.id, rows[size - 1][0]
            )
        await self._log_read(caller, "ListConsultations", response.consultations, response)
        return response


def _latest_record(tx: Transaction, reference: str) -> bytes | None:
    state = tx.denial_state(reference)
    return state.latest_record if state is not None else None
