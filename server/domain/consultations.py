"""Consultations on an essentially identical transaction: who may take which step, and when.

Before granting a licence that another state denied for an essentially identical transaction,
the authority consults the denying state (CP 2008/944 Art. 4(1); Reg. 2021/821 Art. 16(5)). The
denying state answers within a deadline (three weeks by practice, configurable) that it may
extend; the consulting state then records its decision. A grant despite the denial is notified
to the denying state with detailed reasoning and, for dual-use, to every state and the Commission.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from ecx.v1 import consultation_pb2, denial_pb2
from server.domain.countries import normalize_country
from server.domain.denials import (
    MAX_SHORT,
    MAX_TEXT,
    REFERENCE,
    REFERENCE_FORM,
    FieldChecker,
    check_entries,
    check_party,
    parse_date,
)
from server.errors import FailedPrecondition, InvalidArgument

MAX_DENIALS = 20
# Aliases of each party of a screened transaction: a licence application names its parties, and
# the officer may add the few other spellings known. Every name is compared with every name of
# each candidate denial, so each alias adds a full round of comparisons.
MAX_SCREENED_ALIASES = 8


@dataclass(frozen=True)
class ConsultationRules:
    """The configurable parts: answer period, longest extension, length of a grant's reasoning."""

    answer_days: int = 21
    max_extension_days: int = 90
    min_grant_reasoning: int = 100


@dataclass(frozen=True)
class ConsultationState:
    """The latest recorded version of a consultation."""

    reference: str
    requester: str
    responder: str
    regime: int
    state: int
    answer_deadline: str
    opened_on: str
    decision: int
    version: int
    record: bytes


def is_overdue(state: int, answer_deadline: str, today: dt.date) -> bool:
    """Open past its last day for an answer: derived from the clock, never stored."""
    return state == consultation_pb2.OPEN and today.isoformat() > answer_deadline


def answer_deadline(opened: dt.date, rules: ConsultationRules) -> str:
    return (opened + dt.timedelta(days=rules.answer_days)).isoformat()


def check_transaction(c: FieldChecker, prefix: str, tx: consultation_pb2.Transaction) -> None:
    """The transaction a consultation or a screening is about."""
    if tx.regime not in (denial_pb2.MILITARY, denial_pb2.DUAL_USE):
        c.fail(f"{prefix}.regime", "must be MILITARY or DUAL_USE")
    if tx.licence_type and tx.licence_type not in denial_pb2.LicenceType.values():
        c.fail(f"{prefix}.licence_type", "unknown licence type")
    c.country(f"{prefix}.destination_country", tx.destination_country)
    if not tx.end_user.name and not tx.consignee.name:
        c.fail(f"{prefix}.end_user.name", "an end-user or consignee name is required")
    aliases = MAX_SCREENED_ALIASES
    if tx.HasField("end_user"):
        check_party(c, f"{prefix}.end_user", tx.end_user, required=False, max_aliases=aliases)
    if tx.HasField("consignee"):
        check_party(c, f"{prefix}.consignee", tx.consignee, required=False, max_aliases=aliases)
    if tx.control_entries or tx.regime:
        check_entries(c, f"{prefix}.control_entries", tx.regime, tx.control_entries)
    c.text(
        f"{prefix}.goods_description",
        tx.goods_description,
        required=False,
        limit=MAX_TEXT,
        multiline=True,
    )
    c.text(f"{prefix}.end_use", tx.end_use, required=False, limit=MAX_TEXT, multiline=True)
    c.text(f"{prefix}.quantity", tx.quantity, required=False, limit=100)
    if tx.value_eur < 0:
        c.fail(f"{prefix}.value_eur", "must not be negative")


def check_screening(tx: consultation_pb2.Transaction) -> None:
    c = FieldChecker()
    check_transaction(c, "transaction", tx)
    c.raise_if_any()


@dataclass(frozen=True)
class Opening:
    """A validated opening statement."""

    reference: str
    denial_references: tuple[str, ...]
    regime: int


def check_opening(statement: consultation_pb2.ConsultationStatement, caller_state: str) -> Opening:
    c = FieldChecker()
    _check_reference(c, statement.reference, caller_state)
    opening = statement.opening
    refs = list(opening.denial_references)
    if not refs:
        c.fail("opening.denial_references", "at least one denial is required")
    if len(refs) > MAX_DENIALS:
        c.fail("opening.denial_references", f"at most {MAX_DENIALS} denials")
    else:
        if len(set(refs)) != len(refs):
            c.fail("opening.denial_references", "a denial is listed twice")
        for i, ref in enumerate(refs):
            if not REFERENCE.fullmatch(ref):
                c.fail(f"opening.denial_references[{i}]", "not a denial reference")
    if not opening.HasField("transaction"):
        c.fail("opening.transaction", "is required")
    else:
        check_transaction(c, "opening.transaction", opening.transaction)
    c.text("opening.message", opening.message, required=True, limit=MAX_TEXT, multiline=True)
    c.text("opening.contact", opening.contact, required=True, limit=MAX_SHORT)
    c.raise_if_any()
    return Opening(statement.reference, tuple(refs), opening.transaction.regime)


def _check_reference(c: FieldChecker, reference: str, caller_state: str) -> None:
    match = REFERENCE.fullmatch(reference)
    if not reference:
        c.fail("reference", "is required")
    elif match is None:
        c.fail("reference", REFERENCE_FORM)
    elif normalize_country(match.group(1)) != caller_state:
        c.fail("reference", "must start with the consulting authority's state code")


def check_denials_for_opening(
    denials: list[tuple[str, str, int, int]], regime: int, caller: str
) -> str:
    """(reference, issuer, regime, effective status) of the consulted denials -> the responder.

    A consultation is bilateral: every denial must be in force, of the transaction's regime and
    issued by the same other authority.
    """
    issuers = {issuer for _, issuer, _, _ in denials}
    for i, (ref, issuer, denial_regime, status) in enumerate(denials):
        field = f"opening.denial_references[{i}]"
        if status != denial_pb2.ACTIVE:
            raise FailedPrecondition(f"denial {ref} is not in force")
        if denial_regime != regime:
            raise InvalidArgument.field(field, "denial regime differs from the transaction's")
        if issuer == caller:
            raise InvalidArgument.field(field, "an authority does not consult itself")
    if len(issuers) != 1:
        raise InvalidArgument.field(
            "opening.denial_references", "all denials of one consultation must have one issuer"
        )
    return issuers.pop()


def check_answer(
    current: ConsultationState, statement: consultation_pb2.ConsultationStatement
) -> None:
    if current.state != consultation_pb2.OPEN:
        raise FailedPrecondition(f"consultation {current.reference} is not open")
    answer = statement.answer
    c = FieldChecker()
    if answer.position not in consultation_pb2.ConsultationPosition.values() or not answer.position:
        c.fail("answer.position", "is required")
    c.text("answer.explanation", answer.explanation, required=True, limit=MAX_TEXT, multiline=True)
    c.raise_if_any()


def check_extension(
    current: ConsultationState,
    statement: consultation_pb2.ConsultationStatement,
    rules: ConsultationRules,
) -> str:
    """The new deadline: later than the current one, within the longest extension allowed."""
    if current.state != consultation_pb2.OPEN:
        raise FailedPrecondition(f"consultation {current.reference} is not open")
    extension = statement.extension
    c = FieldChecker()
    day = parse_date(extension.new_deadline)
    opened = dt.date.fromisoformat(current.opened_on)
    if day is None:
        c.fail("extension.new_deadline", "must be a calendar date YYYY-MM-DD")
    elif day.isoformat() <= current.answer_deadline:
        c.fail("extension.new_deadline", "must be after the current deadline")
    elif (day - opened).days > rules.answer_days + rules.max_extension_days:
        c.fail("extension.new_deadline", f"more than {rules.max_extension_days} days of extension")
    c.text("extension.reason", extension.reason, required=True, limit=MAX_TEXT, multiline=True)
    c.raise_if_any()
    assert day is not None
    return day.isoformat()


def check_decision(
    current: ConsultationState,
    statement: consultation_pb2.ConsultationStatement,
    today: dt.date,
    rules: ConsultationRules,
) -> int:
    """A decision follows the answer, or an unanswered deadline; withdrawal is always possible."""
    decision = statement.decision
    c = FieldChecker()
    if decision.decision not in (
        consultation_pb2.GRANTED,
        consultation_pb2.DENIED,
        consultation_pb2.WITHDRAWN,
    ):
        c.fail("decision.decision", "must be GRANTED, DENIED or WITHDRAWN")
    required = decision.decision == consultation_pb2.GRANTED
    c.text(
        "decision.reasoning", decision.reasoning, required=required, limit=MAX_TEXT, multiline=True
    )
    if (
        required
        and decision.reasoning.strip()
        and len(decision.reasoning.strip()) < rules.min_grant_reasoning
    ):
        c.fail(
            "decision.reasoning",
            f"a grant despite a denial needs detailed reasoning"
            f" ({rules.min_grant_reasoning}+ characters)",
        )
    c.raise_if_any()
    if current.state == consultation_pb2.DECIDED:
        raise FailedPrecondition(f"consultation {current.reference} is already decided")
    if (
        decision.decision != consultation_pb2.WITHDRAWN
        and current.state == consultation_pb2.OPEN
        and not is_overdue(current.state, current.answer_deadline, today)
    ):
        raise FailedPrecondition(
            f"consultation {current.reference} awaits the answer until {current.answer_deadline}"
        )
    return decision.decision
