"""A consultation replayed from its signed steps: who opened it, who answered, what was decided.

The hub keeps a consultation's parties, state and deadline beside its record; each follows from
the steps its parties signed, linked one to the next. Reads decide who may see it on the replay,
and `ecx-server verify-log` replays every consultation in the store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from client.core.chain import ChainError, check_consultation_chain, statement_sha256
from client.core.envelope import CONSULTATION_PAYLOAD_TYPE
from ecx.v1 import audit_pb2, consultation_pb2
from server.domain.consultations import ConsultationRules, answer_deadline
from server.domain.denial_history import HistoryError, Verify
from server.domain.denials import parse_date


class ConsultationHistoryError(HistoryError):
    """A consultation step that is not what its parties signed."""

    def __init__(self, reference: str, version: int, reason: str) -> None:
        super().__init__(reference, version, reason)
        self.args = (f"consultation {reference} v{version}: {reason}",)


@dataclass(frozen=True)
class StepFacts:
    version: int
    step: str  # opening, answer, extension, decision
    signer: str
    statement_sha256: bytes


@dataclass(frozen=True)
class ConsultationFacts:
    """What a consultation is, by its signed steps."""

    reference: str
    requester: str
    # The denying authority, if it has signed a step (else only the consulted denials tell).
    responder: str | None
    regime: int
    state: int
    decision: int
    answer_deadline: str
    denial_references: tuple[str, ...]
    steps: tuple[StepFacts, ...]

    @property
    def granted(self) -> bool:
        return self.decision == consultation_pb2.GRANTED


def _signed_at(event: consultation_pb2.ConsultationEvent) -> dt.datetime:
    try:
        entry = audit_pb2.LogEntry.FromString(event.log_entry)
        if entry.HasField("time"):
            return entry.time.ToDatetime(tzinfo=dt.UTC)
    except DecodeError:
        pass
    return event.recorded_at.ToDatetime(tzinfo=dt.UTC)


def replay_consultation(
    record: consultation_pb2.Consultation, verify: Verify, rules: ConsultationRules
) -> ConsultationFacts:
    """The facts of a consultation from its signed steps alone; ConsultationHistoryError names
    the first step whose record disagrees with them or whose signature fails."""
    reference = record.reference

    def fail(version: int, reason: str) -> ConsultationHistoryError:
        return ConsultationHistoryError(reference, version, reason)

    if not record.events:
        raise fail(0, "no steps")
    try:
        check_consultation_chain(record)
    except ChainError as e:
        raise fail(e.version, e.reason) from e
    requester = ""
    responder: str | None = None
    regime, state, decision, deadline = 0, 0, 0, ""
    references: tuple[str, ...] = ()
    steps: list[StepFacts] = []
    for event in record.events:
        v = event.version
        try:
            signer = verify(event.envelope, CONSULTATION_PAYLOAD_TYPE, _signed_at(event))
            statement = consultation_pb2.ConsultationStatement.FromString(event.envelope.payload)
        except ValueError as e:
            raise fail(v, f"its signature does not verify: {e}") from e
        except DecodeError as e:
            raise fail(v, "the signed step does not decode") from e
        if signer != event.signer:
            raise fail(v, f"signed by {signer}, recorded as {event.signer}")
        if statement.reference != reference:
            raise fail(v, f"the signed step names {statement.reference}")
        step = statement.WhichOneof("step") or ""
        if (step == "opening") != (v == 1):
            raise fail(v, "a consultation opens with its first step, and only then")
        if step == "opening":
            requester = signer
            regime = statement.opening.transaction.regime
            references = tuple(statement.opening.denial_references)
            state = consultation_pb2.OPEN
            opened = _signed_at(event).date()
            deadline = answer_deadline(opened, rules)
        elif step in ("answer", "extension"):
            if state != consultation_pb2.OPEN:
                raise fail(v, f"an {step} to a consultation no longer open")
            if signer == requester or (responder is not None and signer != responder):
                raise fail(v, f"{signer} may not give this {step}")
            responder = signer
            if step == "answer":
                state = consultation_pb2.ANSWERED
            else:
                day = parse_date(statement.extension.new_deadline)
                if day is None:
                    raise fail(v, "the extension has no valid date")
                deadline = day.isoformat()
        elif step == "decision":
            if state == consultation_pb2.DECIDED or signer != requester:
                raise fail(v, "a decision is the requester's, once")
            state = consultation_pb2.DECIDED
            decision = statement.decision.decision
        else:
            raise fail(v, "the signed step carries no step")
        steps.append(StepFacts(v, step, signer, statement_sha256(event.envelope.payload)))
    facts = ConsultationFacts(
        reference=reference,
        requester=requester,
        responder=responder,
        regime=regime,
        state=state,
        decision=decision,
        answer_deadline=deadline,
        denial_references=references,
        steps=tuple(steps),
    )
    _check_record(record, facts, fail)
    return facts


def _check_record(
    record: consultation_pb2.Consultation,
    facts: ConsultationFacts,
    fail: Callable[[int, str], ConsultationHistoryError],
) -> None:
    """The hub's own fields of the record must say what the signed steps say."""
    for name, recorded, signed in (
        ("requester", record.requester, facts.requester),
        ("regime", record.regime, facts.regime),
        ("state", record.state, facts.state),
        ("decision", record.decision, facts.decision),
        ("answer deadline", record.answer_deadline, facts.answer_deadline),
        ("version", record.version, len(facts.steps)),
        ("denials", tuple(record.denial_references), facts.denial_references),
    ):
        if recorded != signed:
            raise fail(record.version, f"its record says {name} {recorded!r}, its steps {signed!r}")
    if facts.responder is not None and record.responder != facts.responder:
        raise fail(record.version, f"its record names {record.responder} as the responder")
    if record.notified and not facts.granted:
        raise fail(record.version, "it names notified participants, but nothing was granted")
