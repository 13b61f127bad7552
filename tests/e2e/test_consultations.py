"""Consultations on an essentially identical transaction, end to end over mutual TLS.

Germany (`de`) screens a licence application, finds the Netherlands' (`nl`) denial of the same
end-user spelt another way, and consults; the Netherlands answers; Germany decides. Every step is
signed by the party taking it, recorded with its log entry, and re-verifiable by either party.
Deadlines run on the hub's clock (`hub.clock`), which the tests move instead of waiting. A grant
despite a denial is notified: for military goods to the denying state, for dual-use goods also to
every other authority and the Commission, who can then read it and nothing earlier.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import json
import os
import subprocess
import sys
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest

from certs.devpki import DevPki
from client.api import EcxClient
from client.cli.denial_json import to_dict
from client.core.envelope import CONSULTATION_PAYLOAD_TYPE, sign
from client.errors import RemoteError, VerificationError
from ecx.v1 import audit_pb2, consultation_pb2, denial_pb2, participant_pb2
from tests.helpers import (
    ROOT,
    START,
    TODAY,
    HubProcess,
    RunningHub,
    dual_use_payload,
    hub_process,
    military_payload,
    party,
)

OPEN, ANSWERED, DECIDED = consultation_pb2.OPEN, consultation_pb2.ANSWERED, consultation_pb2.DECIDED
GRANTED, DENIED, WITHDRAWN = (
    consultation_pb2.GRANTED,
    consultation_pb2.DENIED,
    consultation_pb2.WITHDRAWN,
)
REQUESTER, RESPONDER, NOTIFIED = (
    consultation_pb2.REQUESTER,
    consultation_pb2.RESPONDER,
    consultation_pb2.NOTIFIED,
)

# The end-user as the Netherlands recorded it (Cyrillic, Russian legal form) and as the German
# application spells it (transliterated, English legal form).
DENIED_END_USER = "ООО «Северный Микрон»"
APPLICATION_END_USER = "Severnyy Mikron LLC"

NL_DUAL_USE = "NL-2026-D001"  # nl, dual-use, the end-user above
NL_MILITARY = "NL-2026-M001"  # nl, military, Al Noor (tests.helpers)
FR_DUAL_USE = "FR-2026-D001"  # fr, dual-use, the same end-user
DE_DUAL_USE = "DE-2026-D001"  # de's own denial of the same end-user
UNRELATED = "NL-2026-D009"  # nl, dual-use, an unrelated end-user

REF = "DE-C-2026-0001"
OTHER_REF = "DE-C-2026-0002"
DEADLINE = (TODAY + dt.timedelta(days=21)).isoformat()  # 2026-12-19

STEP_ACTIONS = ("OpenConsultation", "RespondToConsultation", "ExtendConsultation", "RecordDecision")

# Every authority in the development registry except the consulting one, and the Commission:
# whom a dual-use grant despite a denial goes to (Reg. 2021/821 Art. 16(5)).
DUAL_USE_GRANT_NOTIFIED = ["commission", "es", "expired", "fr", "it", "nl", "revoked"]

GRANT_REASONING = (
    "The end-user was inspected on site by our embassy on 2 December; the lithography tool is "
    "for a documented civil fab line under a binding end-use undertaking with post-shipment checks."
)
assert len(GRANT_REASONING) >= 100


def dual_use_transaction(**fields: Any) -> consultation_pb2.Transaction:
    """DE's application: the same goods as nl's dual-use denial, to the same end-user."""
    tx = consultation_pb2.Transaction(
        regime=denial_pb2.DUAL_USE,
        licence_type=denial_pb2.EXPORT,
        destination_country="RU",
        end_user=party(APPLICATION_END_USER, "RU"),
        control_entries=["3B001.f.1"],
        goods_description="Lithography exposure tool",
        end_use="Stated: civil telecommunications",
        quantity="1 unit",
        value_eur=1_700_000,
    )
    for name, value in fields.items():
        if isinstance(value, list):
            del getattr(tx, name)[:]
            getattr(tx, name).extend(value)
        else:
            setattr(tx, name, value)
    return tx


def military_transaction() -> consultation_pb2.Transaction:
    """An application essentially identical to nl's military denial (tests.helpers)."""
    return consultation_pb2.Transaction(
        regime=denial_pb2.MILITARY,
        licence_type=denial_pb2.EXPORT,
        destination_country="AE",
        end_user=party("Al Nour Armed Forces Supply", "AE"),
        control_entries=["ML2.a"],
        goods_description="Naval gun mounts",
    )


def _dual_use_denial(reference: str, state: str, **fields: Any) -> denial_pb2.DenialPayload:
    return dual_use_payload(reference, state, end_user=party(DENIED_END_USER, "RU"), **fields)


@pytest.fixture
async def ecx(hub: RunningHub) -> AsyncIterator[dict[str, EcxClient]]:
    """One open client per participant the tests act as."""
    names = ("de", "nl", "fr", "it", "commission", "auditor")
    async with contextlib.AsyncExitStack() as stack:
        yield {n: await stack.enter_async_context(hub.client(n)) for n in names}


@pytest.fixture
async def seeded(hub: RunningHub, ecx: dict[str, EcxClient]) -> dict[str, EcxClient]:
    """The denials the tests consult on."""
    await ecx["nl"].submit_denial(_dual_use_denial(NL_DUAL_USE, "NL"))
    await ecx["nl"].submit_denial(military_payload(NL_MILITARY, "NL"))
    await ecx["nl"].submit_denial(dual_use_payload(UNRELATED, "NL"))
    await ecx["fr"].submit_denial(_dual_use_denial(FR_DUAL_USE, "FR"))
    await ecx["de"].submit_denial(_dual_use_denial(DE_DUAL_USE, "DE"))
    return ecx


async def open_dual_use(
    ecx: dict[str, EcxClient], reference: str = REF, *, request_id: str | None = None
) -> consultation_pb2.Consultation:
    return await ecx["de"].consultations.open(
        reference,
        [NL_DUAL_USE],
        dual_use_transaction(),
        "We intend to license an essentially identical transaction; do you maintain your denial?",
        "export-control@bafa.example",
        request_id=request_id,
    )


async def open_military(
    ecx: dict[str, EcxClient], reference: str = REF
) -> consultation_pb2.Consultation:
    return await ecx["de"].consultations.open(
        reference,
        [NL_MILITARY],
        military_transaction(),
        "Essentially identical transaction: please share your assessment.",
        "export-control@bafa.example",
    )


async def refused(call: Awaitable[Any]) -> RemoteError:
    """The hub's refusal; fails the test if the call succeeded."""
    try:
        await call
    except RemoteError as e:
        return e
    pytest.fail("the hub accepted the request")


async def references(client: EcxClient, **filters: Any) -> list[str]:
    return [c.reference async for c in client.consultations.list(**filters)]


async def step_entries(ecx: dict[str, EcxClient], reference: str) -> list[audit_pb2.LogEntry]:
    """The log entries of the consultation's steps, oldest first, as the auditor reads them."""
    logged = [e async for e in ecx["auditor"].audit.query(audit_pb2.QueryLogRequest())]
    entries = [audit_pb2.LogEntry.FromString(e.entry) for e in logged]
    prefix = f"consultation:{reference}:"
    return [
        e
        for e in entries
        if e.action in STEP_ACTIONS and any(o.startswith(prefix) for o in e.object_ids)
    ]


async def log_size(ecx: dict[str, EcxClient]) -> int:
    checkpoint, _ = await ecx["auditor"].audit.checkpoint()
    return checkpoint.size


def advance_to_day(hub: RunningHub, day: int) -> None:
    """Set the hub's clock to `day` days after the opening date (the tests open on day 0)."""
    hub.clock.advance(START + dt.timedelta(days=day) - hub.clock.now())


# Screening


async def test_screening_finds_the_denial_under_a_transliterated_name(
    seeded: dict[str, EcxClient],
) -> None:
    found = await seeded["de"].consultations.screen(dual_use_transaction())
    by_reference = {c.reference: c for c in found.candidates}
    assert NL_DUAL_USE in by_reference
    assert UNRELATED not in by_reference
    candidate = by_reference[NL_DUAL_USE]
    assert (candidate.issuing_state, candidate.regime) == ("NL", denial_pb2.DUAL_USE)
    assert (candidate.status, candidate.inactive, candidate.own_state) == (
        denial_pb2.ACTIVE,
        False,
        False,
    )
    assert candidate.same_destination
    assert candidate.destination_country == "RU"
    assert candidate.version == 1
    [name] = candidate.names
    assert (name.field, name.query_name) == ("end_user", APPLICATION_END_USER)
    assert (name.denial_field, name.denial_name) == ("end_user", DENIED_END_USER)
    assert name.score >= 0.85
    assert [(e.query_entry, e.denial_entry, e.relation) for e in candidate.entries] == [
        ("3B001.f.1", "3B001.f.1", "SAME_ENTRY")
    ]
    # Ranked best first.
    scores = [c.score for c in found.candidates]
    assert scores == sorted(scores, reverse=True)


async def test_screening_flags_own_state_and_shows_inactive_only_on_request(
    seeded: dict[str, EcxClient],
) -> None:
    await seeded["fr"].revoke_denial(FR_DUAL_USE, "Licence granted on appeal", effective=TODAY)
    found = await seeded["de"].consultations.screen(dual_use_transaction())
    flags = {c.reference: (c.own_state, c.inactive) for c in found.candidates}
    assert flags[NL_DUAL_USE] == (False, False)
    assert flags[DE_DUAL_USE] == (True, False)
    assert FR_DUAL_USE not in flags
    everything = await seeded["de"].consultations.screen(
        dual_use_transaction(), include_inactive=True
    )
    revoked = {c.reference: c for c in everything.candidates}[FR_DUAL_USE]
    assert (revoked.inactive, revoked.status) == (True, denial_pb2.REVOKED)


async def test_screening_max_results_caps_the_candidates(seeded: dict[str, EcxClient]) -> None:
    found = await seeded["de"].consultations.screen(dual_use_transaction(), max_results=1)
    assert len(found.candidates) == 1
    everything = await seeded["de"].consultations.screen(dual_use_transaction())
    assert len(everything.candidates) >= 2
    assert found.candidates[0] == everything.candidates[0]


# The workflow


async def test_from_screening_to_a_denied_decision(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    de, nl = seeded["de"].consultations, seeded["nl"].consultations
    found = await de.screen(dual_use_transaction())
    match = next(c for c in found.candidates if c.issuing_state == "NL")

    opened = await de.open(
        REF,
        [match.reference],
        dual_use_transaction(),
        "Essentially identical transaction: do you maintain your denial?",
        "export-control@bafa.example",
    )
    assert (opened.reference, opened.state, opened.version) == (REF, OPEN, 1)
    assert (opened.requester, opened.responder) == ("de", "nl")
    assert opened.regime == denial_pb2.DUAL_USE
    assert list(opened.denial_references) == [NL_DUAL_USE]
    assert (opened.answer_deadline, opened.overdue) == (DEADLINE, False)
    assert (opened.decision, list(opened.notified)) == (consultation_pb2.DECISION_UNSPECIFIED, [])

    # The denying state finds it among the consultations addressed to it, and only there.
    assert await references(seeded["nl"], role=RESPONDER) == [REF]
    assert await references(seeded["nl"], role=REQUESTER) == []
    assert await references(seeded["de"], role=REQUESTER) == [REF]
    assert await references(seeded["de"], role=RESPONDER) == []
    assert await nl.get(REF) == opened

    hub.clock.advance(dt.timedelta(days=5))
    answered = await nl.respond(
        REF, consultation_pb2.DENIAL_MAINTAINED, "The end-user supplies a military programme."
    )
    assert (answered.state, answered.version) == (ANSWERED, 2)
    assert await references(seeded["de"], state=ANSWERED) == [REF]
    assert await references(seeded["de"], state=OPEN) == []

    hub.clock.advance(dt.timedelta(days=1))
    decided = await de.decide(REF, DENIED, "Licence refused in line with the Dutch assessment.")
    assert (decided.state, decided.decision, decided.version) == (DECIDED, DENIED, 3)
    assert list(decided.notified) == []  # only a grant despite a denial is notified
    assert not decided.overdue

    got = await nl.get(REF)
    assert got == decided
    assert [(e.version, e.signer) for e in got.events] == [(1, "de"), (2, "nl"), (3, "de")]
    assert [e.recorded_at.ToDatetime(tzinfo=dt.UTC) for e in got.events] == [
        START,
        START + dt.timedelta(days=5),
        START + dt.timedelta(days=6),
    ]
    steps = [
        consultation_pb2.ConsultationStatement.FromString(e.envelope.payload) for e in got.events
    ]
    assert [s.WhichOneof("step") for s in steps] == ["opening", "answer", "decision"]
    assert {s.reference for s in steps} == {REF}
    assert steps[1].answer.position == consultation_pb2.DENIAL_MAINTAINED
    assert steps[2].decision.decision == DENIED
    await de.verify(got)
    await nl.verify(got)

    # A third state learns nothing of it.
    assert (await refused(seeded["fr"].consultations.get(REF))).code == grpc.StatusCode.NOT_FOUND
    assert await references(seeded["fr"]) == []


async def test_each_step_is_recorded_with_its_log_entry(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    await open_dual_use(seeded)
    await seeded["nl"].consultations.respond(REF, consultation_pb2.NO_OBJECTION, "No objection.")
    await seeded["de"].consultations.decide(REF, GRANTED, GRANT_REASONING)
    consultation = await seeded["de"].consultations.get(REF)
    indexes = [e.log_index for e in consultation.events]
    assert indexes == sorted(set(indexes))
    actions = ["OpenConsultation", "RespondToConsultation", "RecordDecision"]
    for event, action in zip(consultation.events, actions, strict=True):
        entry = audit_pb2.LogEntry.FromString(event.log_entry)
        assert entry.index == event.log_index
        assert (entry.actor, entry.action, entry.outcome) == (event.signer, action, "OK")
        assert list(entry.object_ids) == [f"consultation:{REF}:v{event.version}"]
        assert entry.payload_sha256 == hashlib.sha256(event.envelope.payload).digest()
        # The entry the response carries is the one in the signed tree.
        _, proven = await seeded["de"].audit.prove_inclusion(event.log_index, event.log_entry)
        assert proven == entry


async def test_every_step_appends_one_log_entry_naming_the_parties(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    de, nl = seeded["de"].consultations, seeded["nl"].consultations
    # Each step follows the one before, as its sender knows it (without a read of its own).
    steps: list[Callable[[consultation_pb2.Consultation], Awaitable[consultation_pb2.Consultation]]]
    steps = [
        lambda _: open_dual_use(seeded),
        lambda c: nl.extend(
            REF, TODAY + dt.timedelta(days=30), "Inter-ministerial review", follows=c
        ),
        lambda c: nl.respond(REF, consultation_pb2.NO_OBJECTION, "No objection.", follows=c),
        lambda c: de.decide(REF, GRANTED, GRANT_REASONING, follows=c),
    ]
    decided = consultation_pb2.Consultation()
    for step in steps:
        before = await log_size(seeded)
        decided = await step(decided)
        assert await log_size(seeded) == before + 1
        assert decided.events[-1].log_index == before

    entries = await step_entries(seeded, REF)
    assert [(e.action, e.actor) for e in entries] == [
        ("OpenConsultation", "de"),
        ("ExtendConsultation", "nl"),
        ("RespondToConsultation", "nl"),
        ("RecordDecision", "de"),
    ]
    assert [list(e.object_ids) for e in entries] == [
        [f"consultation:{REF}:v{v}"] for v in range(1, 5)
    ]
    assert [e.index for e in entries] == [e.log_index for e in decided.events]
    assert [list(e.parties) for e in entries[:3]] == [["de", "nl"]] * 3
    assert list(entries[3].parties) == sorted({"de", *DUAL_USE_GRANT_NOTIFIED})


async def test_refused_steps_record_no_step(hub: RunningHub, seeded: dict[str, EcxClient]) -> None:
    await open_dual_use(seeded)
    await refused(seeded["de"].consultations.decide(REF, DENIED, "Too early"))
    await refused(seeded["de"].consultations.respond(REF, consultation_pb2.NO_OBJECTION, "Me?"))
    await refused(open_dual_use(seeded))
    assert [e.action for e in await step_entries(seeded, REF)] == ["OpenConsultation"]
    consultation = await seeded["de"].consultations.get(REF)
    assert (consultation.version, consultation.state, len(consultation.events)) == (1, OPEN, 1)


async def test_a_refused_read_is_logged_without_calling_the_consultation_a_denial(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    await open_dual_use(seeded)
    before = await log_size(seeded)
    error = await refused(seeded["fr"].consultations.get(REF))
    assert error.code == grpc.StatusCode.NOT_FOUND
    logged = [e async for e in seeded["auditor"].audit.query(audit_pb2.QueryLogRequest())]
    [entry] = [audit_pb2.LogEntry.FromString(e.entry) for e in logged if e.index >= before]
    assert (entry.actor, entry.action, entry.outcome) == ("fr", "GetConsultation", "NOT_FOUND")
    assert not [o for o in entry.object_ids if o.startswith("denial:")]


# Verification of what the hub returns


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


Tampering = Callable[[consultation_pb2.ConsultationEvent, RunningHub], None]


def _payload_byte_flipped(event: consultation_pb2.ConsultationEvent, hub: RunningHub) -> None:
    event.envelope.payload = _flip(event.envelope.payload, len(event.envelope.payload) // 2)


def _payload_re_encoded(event: consultation_pb2.ConsultationEvent, hub: RunningHub) -> None:
    statement = consultation_pb2.ConsultationStatement.FromString(event.envelope.payload)
    statement.reference = OTHER_REF
    event.envelope.payload = statement.SerializeToString(deterministic=True)


def _signer_renamed(event: consultation_pb2.ConsultationEvent, hub: RunningHub) -> None:
    event.signer = "fr"


def _signature_flipped(event: consultation_pb2.ConsultationEvent, hub: RunningHub) -> None:
    signature = event.envelope.signatures[0]
    signature.sig = _flip(signature.sig, 0)


def _step_of_another_consultation(
    event: consultation_pb2.ConsultationEvent, hub: RunningHub
) -> None:
    """Validly signed by the same party, but a statement about another consultation."""
    statement = consultation_pb2.ConsultationStatement.FromString(event.envelope.payload)
    statement.reference = OTHER_REF
    key = hub.identity(event.signer).require_signing_key()
    data = statement.SerializeToString(deterministic=True)
    event.envelope.CopyFrom(sign(data, CONSULTATION_PAYLOAD_TYPE, key))


def _signed_by_the_other_party(event: consultation_pb2.ConsultationEvent, hub: RunningHub) -> None:
    """The same statement, validly signed, but by the other party than the hub names."""
    other = "nl" if event.signer == "de" else "de"
    key = hub.identity(other).require_signing_key()
    event.envelope.CopyFrom(sign(event.envelope.payload, CONSULTATION_PAYLOAD_TYPE, key))


TAMPERINGS: dict[str, Tampering] = {
    "payload-byte-flipped": _payload_byte_flipped,
    "payload-re-encoded-with-another-reference": _payload_re_encoded,
    "signer-renamed": _signer_renamed,
    "signature-flipped": _signature_flipped,
    "validly-signed-step-of-another-consultation": _step_of_another_consultation,
    "signed-by-the-other-party": _signed_by_the_other_party,
}


@pytest.mark.parametrize("event_index", [0, 1, 2], ids=["opening", "answer", "decision"])
@pytest.mark.parametrize("tampering", list(TAMPERINGS))
async def test_verify_detects_a_tampered_step(
    hub: RunningHub, seeded: dict[str, EcxClient], tampering: str, event_index: int
) -> None:
    await open_dual_use(seeded)
    await seeded["nl"].consultations.respond(REF, consultation_pb2.DENIAL_MAINTAINED, "Maintained.")
    decided = await seeded["de"].consultations.decide(REF, DENIED, "Refused.")
    await seeded["nl"].consultations.verify(decided)  # the control: untouched, it verifies
    TAMPERINGS[tampering](decided.events[event_index], hub)
    with pytest.raises(VerificationError):
        await seeded["nl"].consultations.verify(decided)


# Deadlines, by the hub's clock


async def test_the_answer_is_due_three_weeks_after_opening(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    hub.clock.advance(dt.timedelta(hours=11, minutes=59))  # 23:59 UTC, still the opening day
    opened = await open_dual_use(seeded)
    assert opened.answer_deadline == DEADLINE


@pytest.mark.parametrize(
    ("day", "overdue"),
    [
        pytest.param(0, False, id="day-0"),
        pytest.param(20, False, id="day-20"),
        pytest.param(21, False, id="day-21-the-last-day"),
        pytest.param(22, True, id="day-22"),
        pytest.param(60, True, id="day-60"),
    ],
)
async def test_overdue_follows_the_hubs_clock(
    hub: RunningHub, seeded: dict[str, EcxClient], day: int, overdue: bool
) -> None:
    await open_dual_use(seeded)
    advance_to_day(hub, day)
    for who in ("de", "nl"):
        got = await seeded[who].consultations.get(REF)
        assert (got.overdue, got.answer_deadline) == (overdue, DEADLINE)
        [listed] = [c async for c in seeded[who].consultations.list()]
        assert listed.overdue == overdue
        assert await references(seeded[who], overdue_only=True) == ([REF] if overdue else [])


async def test_overdue_only_lists_open_consultations_past_their_deadline(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    await open_dual_use(seeded, REF)
    await seeded["de"].consultations.open(
        OTHER_REF,
        [NL_MILITARY],
        military_transaction(),
        "Please advise.",
        "export-control@bafa.example",
    )
    await seeded["nl"].consultations.respond(OTHER_REF, consultation_pb2.NO_OBJECTION, "Fine.")
    advance_to_day(hub, 21)
    assert await references(seeded["de"], overdue_only=True) == []
    advance_to_day(hub, 22)
    assert await references(seeded["de"], overdue_only=True) == [REF]
    assert await references(seeded["nl"], overdue_only=True) == [REF]
    assert await references(seeded["nl"], overdue_only=True, role=RESPONDER) == [REF]
    assert await references(seeded["nl"], overdue_only=True, role=REQUESTER) == []
    assert await references(seeded["de"]) == [REF, OTHER_REF]  # the answered one is not overdue
    assert [c.overdue async for c in seeded["de"].consultations.list()] == [True, False]


async def test_an_extension_by_the_responder_lifts_overdue(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    await open_dual_use(seeded)
    advance_to_day(hub, 22)
    assert (await seeded["de"].consultations.get(REF)).overdue
    new_deadline = TODAY + dt.timedelta(days=35)
    extended = await seeded["nl"].consultations.extend(REF, new_deadline, "Awaiting intelligence")
    assert (extended.state, extended.version) == (OPEN, 2)
    assert (extended.answer_deadline, extended.overdue) == (new_deadline.isoformat(), False)
    assert extended.events[-1].signer == "nl"
    got = await seeded["de"].consultations.get(REF)
    assert (got.answer_deadline, got.overdue) == (new_deadline.isoformat(), False)
    assert await references(seeded["de"], overdue_only=True) == []
    # The requester must now wait for the new deadline before deciding without an answer.
    error = await refused(seeded["de"].consultations.decide(REF, DENIED, "No answer"))
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    advance_to_day(hub, 36)
    assert (await seeded["de"].consultations.get(REF)).overdue
    decided = await seeded["de"].consultations.decide(REF, DENIED, "No answer in time")
    assert (decided.state, decided.decision) == (DECIDED, DENIED)


async def test_extensions_may_follow_each_other_up_to_ninety_days(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    nl = seeded["nl"].consultations
    await open_dual_use(seeded)
    await nl.extend(REF, TODAY + dt.timedelta(days=40), "First")
    last_day = TODAY + dt.timedelta(days=21 + 90)
    extended = await nl.extend(REF, last_day, "Second, to the limit")
    assert (extended.answer_deadline, extended.version) == (last_day.isoformat(), 3)
    error = await refused(nl.extend(REF, last_day + dt.timedelta(days=1), "One day more"))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "extension.new_deadline" in [f for f, _ in error.violations]


async def test_an_answered_consultation_is_not_extended(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    await open_dual_use(seeded)
    await seeded["nl"].consultations.respond(REF, consultation_pb2.INFORMATION_ONLY, "FYI.")
    error = await refused(
        seeded["nl"].consultations.extend(REF, TODAY + dt.timedelta(days=30), "Too late")
    )
    assert error.code == grpc.StatusCode.FAILED_PRECONDITION
    assert (await seeded["de"].consultations.get(REF)).version == 2


@pytest.mark.parametrize("decision", [DENIED, GRANTED], ids=["DENIED", "GRANTED"])
async def test_no_decision_before_the_answer_until_overdue(
    hub: RunningHub, seeded: dict[str, EcxClient], decision: int
) -> None:
    de = seeded["de"].consultations
    await open_dual_use(seeded)
    for day in (0, 10, 21):
        advance_to_day(hub, day)
        error = await refused(de.decide(REF, decision, GRANT_REASONING))
        assert error.code == grpc.StatusCode.FAILED_PRECONDITION, day
        got = await de.get(REF)
        assert (got.state, got.version) == (OPEN, 1)
    advance_to_day(hub, 22)
    decided = await de.decide(REF, decision, GRANT_REASONING)
    assert (decided.state, decided.decision, decided.version) == (DECIDED, decision, 2)
    # The denying state can no longer answer a decided consultation.
    late = await refused(
        seeded["nl"].consultations.respond(REF, consultation_pb2.NO_OBJECTION, "!")
    )
    assert late.code == grpc.StatusCode.FAILED_PRECONDITION


async def test_a_late_answer_still_counts_while_open(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    await open_dual_use(seeded)
    advance_to_day(hub, 30)
    answered = await seeded["nl"].consultations.respond(
        REF, consultation_pb2.DENIAL_MAINTAINED, "Late, but maintained."
    )
    assert (answered.state, answered.overdue) == (ANSWERED, False)


@pytest.mark.parametrize("answered", [False, True], ids=["while-open", "after-the-answer"])
async def test_withdrawal_before_a_decision(
    hub: RunningHub, seeded: dict[str, EcxClient], answered: bool
) -> None:
    de, nl = seeded["de"].consultations, seeded["nl"].consultations
    await open_dual_use(seeded)
    if answered:
        await nl.respond(REF, consultation_pb2.DENIAL_MAINTAINED, "Maintained.")
    withdrawn = await de.decide(REF, WITHDRAWN, "")
    assert (withdrawn.state, withdrawn.decision) == (DECIDED, WITHDRAWN)
    assert list(withdrawn.notified) == []
    for attempt in (
        nl.respond(REF, consultation_pb2.NO_OBJECTION, "Answer"),
        nl.extend(REF, TODAY + dt.timedelta(days=30), "More time"),
        de.decide(REF, DENIED, "Changed my mind"),
        de.decide(REF, WITHDRAWN, "Again"),
    ):
        assert (await refused(attempt)).code == grpc.StatusCode.FAILED_PRECONDITION
    assert (await de.get(REF)).version == (3 if answered else 2)


# Grants despite a denial


@pytest.mark.parametrize(
    "reasoning",
    [
        pytest.param("", id="empty"),
        pytest.param("   ", id="blank"),
        pytest.param("x" * 99, id="99-chars"),
        pytest.param("  " + "x" * 99 + "  ", id="99-chars-padded-with-spaces"),
    ],
)
async def test_a_grant_needs_detailed_reasoning(
    hub: RunningHub, seeded: dict[str, EcxClient], reasoning: str
) -> None:
    de = seeded["de"].consultations
    await open_dual_use(seeded)
    await seeded["nl"].consultations.respond(REF, consultation_pb2.NO_OBJECTION, "No objection.")
    error = await refused(de.decide(REF, GRANTED, reasoning))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in error.violations] == ["decision.reasoning"]
    assert (await de.get(REF)).state == ANSWERED
    granted = await de.decide(REF, GRANTED, "x" * 100)
    assert (granted.state, granted.decision) == (DECIDED, GRANTED)


async def test_a_military_grant_is_notified_to_the_denying_state_only(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    await open_military(seeded)
    await seeded["nl"].consultations.respond(REF, consultation_pb2.NO_OBJECTION, "No objection.")
    granted = await seeded["de"].consultations.decide(REF, GRANTED, GRANT_REASONING)
    assert (granted.decision, list(granted.notified)) == (GRANTED, ["nl"])
    assert await references(seeded["nl"], role=NOTIFIED) == [REF]
    assert await references(seeded["de"], role=NOTIFIED) == []
    for outsider in ("fr", "commission"):
        error = await refused(seeded[outsider].consultations.get(REF))
        assert error.code == grpc.StatusCode.NOT_FOUND
        assert await references(seeded[outsider]) == []
        assert await references(seeded[outsider], role=NOTIFIED) == []
    [decision] = (await step_entries(seeded, REF))[-1:]
    assert list(decision.parties) == ["de", "nl"]


async def test_a_dual_use_grant_is_notified_to_every_authority_and_the_commission(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    await open_dual_use(seeded)
    await seeded["nl"].consultations.respond(REF, consultation_pb2.NO_OBJECTION, "No objection.")
    for outsider in ("fr", "it", "commission"):
        error = await refused(seeded[outsider].consultations.get(REF))
        assert error.code == grpc.StatusCode.NOT_FOUND
        assert await references(seeded[outsider], role=NOTIFIED) == []
        assert await references(seeded[outsider]) == []

    granted = await seeded["de"].consultations.decide(REF, GRANTED, GRANT_REASONING)
    assert (granted.state, granted.decision) == (DECIDED, GRANTED)
    assert list(granted.notified) == DUAL_USE_GRANT_NOTIFIED
    # The same set, as the registry the hub publishes describes it.
    registry = {
        p.id
        for p in await seeded["de"].participants()
        if {participant_pb2.AUTHORITY, participant_pb2.COMMISSION} & set(p.roles)
    }
    assert set(granted.notified) == registry - {"de"}

    for reader in ("fr", "it", "commission", "nl"):
        got = await seeded[reader].consultations.get(REF)
        assert got == granted
        await seeded[reader].consultations.verify(got)
        assert await references(seeded[reader], role=NOTIFIED) == [REF]
        assert await references(seeded[reader]) == [REF]
    # Notified is not a party: nothing is addressed to them to answer.
    assert await references(seeded["fr"], role=RESPONDER) == []
    [decision] = (await step_entries(seeded, REF))[-1:]
    assert list(decision.parties) == sorted({"de", *DUAL_USE_GRANT_NOTIFIED})


async def test_a_denied_or_withdrawn_dual_use_consultation_stays_bilateral(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    await open_dual_use(seeded, REF)
    await open_dual_use(seeded, OTHER_REF)
    await seeded["nl"].consultations.respond(REF, consultation_pb2.DENIAL_MAINTAINED, "Kept.")
    await seeded["de"].consultations.decide(REF, DENIED, "Refused.")
    await seeded["de"].consultations.decide(OTHER_REF, WITHDRAWN, "Application withdrawn.")
    for reference in (REF, OTHER_REF):
        for outsider in ("fr", "commission"):
            error = await refused(seeded[outsider].consultations.get(reference))
            assert error.code == grpc.StatusCode.NOT_FOUND
    assert await references(seeded["commission"]) == []


# Opening rules


async def _revoked_nl_denial(ecx: dict[str, EcxClient], hub: RunningHub) -> list[str]:
    await ecx["nl"].revoke_denial(NL_DUAL_USE, "Licence granted on appeal", effective=TODAY)
    return [NL_DUAL_USE]


async def _expired_nl_denial(ecx: dict[str, EcxClient], hub: RunningHub) -> list[str]:
    """Denied exactly three years ago: in force through today, expired tomorrow."""
    dated = TODAY.replace(year=TODAY.year - 3).isoformat()
    await ecx["nl"].submit_denial(_dual_use_denial("NL-2023-D777", "NL", denial_date=dated))
    hub.clock.advance(dt.timedelta(days=1))
    return ["NL-2023-D777"]


async def _own_state_denial(ecx: dict[str, EcxClient], hub: RunningHub) -> list[str]:
    return [DE_DUAL_USE]


async def _own_and_other_state_denial(ecx: dict[str, EcxClient], hub: RunningHub) -> list[str]:
    return [NL_DUAL_USE, DE_DUAL_USE]


async def _denials_of_two_issuers(ecx: dict[str, EcxClient], hub: RunningHub) -> list[str]:
    return [NL_DUAL_USE, FR_DUAL_USE]


async def _military_denial_for_a_dual_use_transaction(
    ecx: dict[str, EcxClient], hub: RunningHub
) -> list[str]:
    return [NL_MILITARY]


async def _one_of_two_denials_of_another_regime(
    ecx: dict[str, EcxClient], hub: RunningHub
) -> list[str]:
    return [NL_DUAL_USE, NL_MILITARY]


async def _unknown_denial(ecx: dict[str, EcxClient], hub: RunningHub) -> list[str]:
    return ["NL-2026-9999"]


async def _one_known_one_unknown(ecx: dict[str, EcxClient], hub: RunningHub) -> list[str]:
    return [NL_DUAL_USE, "NL-2026-9999"]


INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION
NOT_FOUND = grpc.StatusCode.NOT_FOUND

OPENING_REFUSALS = [
    ("own-state-denial", _own_state_denial, INVALID_ARGUMENT, "opening.denial_references[0]"),
    (
        "own-state-denial-beside-another",
        _own_and_other_state_denial,
        INVALID_ARGUMENT,
        "opening.denial_references[1]",
    ),
    ("revoked-denial", _revoked_nl_denial, FAILED_PRECONDITION, None),
    ("expired-denial", _expired_nl_denial, FAILED_PRECONDITION, None),
    (
        "denials-of-two-issuers",
        _denials_of_two_issuers,
        INVALID_ARGUMENT,
        "opening.denial_references",
    ),
    (
        "regime-mismatch",
        _military_denial_for_a_dual_use_transaction,
        INVALID_ARGUMENT,
        "opening.denial_references[0]",
    ),
    (
        "regime-mismatch-second-denial",
        _one_of_two_denials_of_another_regime,
        INVALID_ARGUMENT,
        "opening.denial_references[1]",
    ),
    ("unknown-denial", _unknown_denial, NOT_FOUND, None),
    ("unknown-second-denial", _one_known_one_unknown, NOT_FOUND, None),
]


@pytest.mark.parametrize(
    ("prepare", "code", "field"),
    [pytest.param(p, c, f, id=case) for case, p, c, f in OPENING_REFUSALS],
)
async def test_opening_refused(
    hub: RunningHub,
    seeded: dict[str, EcxClient],
    prepare: Callable[[dict[str, EcxClient], RunningHub], Awaitable[list[str]]],
    code: grpc.StatusCode,
    field: str | None,
) -> None:
    denials = await prepare(seeded, hub)
    error = await refused(
        seeded["de"].consultations.open(
            REF, denials, dual_use_transaction(), "Please advise.", "export-control@bafa.example"
        )
    )
    assert error.code == code, error
    if field is not None:
        assert field in [f for f, _ in error.violations], error.violations
    for who in ("de", "nl", "fr"):
        assert await references(seeded[who]) == []
    assert await step_entries(seeded, REF) == []


async def test_a_denial_is_consulted_on_through_its_last_day(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    """The control for the expired case: the same denial, one day earlier, is in force."""
    dated = TODAY.replace(year=TODAY.year - 3).isoformat()
    await seeded["nl"].submit_denial(_dual_use_denial("NL-2023-D777", "NL", denial_date=dated))
    opened = await seeded["de"].consultations.open(
        REF, ["NL-2023-D777"], dual_use_transaction(), "Please advise.", "bafa@example.org"
    )
    assert (opened.responder, opened.state) == ("nl", OPEN)


async def test_several_denials_of_one_issuer_in_one_consultation(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    await seeded["nl"].submit_denial(_dual_use_denial("NL-2026-D002", "NL"))
    opened = await seeded["de"].consultations.open(
        REF,
        [NL_DUAL_USE, "NL-2026-D002"],
        dual_use_transaction(),
        "Two of your denials concern this transaction.",
        "export-control@bafa.example",
    )
    assert list(opened.denial_references) == [NL_DUAL_USE, "NL-2026-D002"]
    assert opened.responder == "nl"


async def test_a_consultation_reference_is_used_once(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    first = await open_dual_use(seeded)
    error = await refused(open_military(seeded, REF))
    assert error.code == grpc.StatusCode.ALREADY_EXISTS
    assert await seeded["de"].consultations.get(REF) == first
    # Another requester cannot take it over either: references carry the consulting state.
    error = await refused(
        seeded["fr"].consultations.open(
            REF, [NL_DUAL_USE], dual_use_transaction(), "Mine?", "sbdu@example.org"
        )
    )
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [e.action for e in await step_entries(seeded, REF)] == ["OpenConsultation"]


async def test_a_retry_with_the_same_request_id_returns_the_first_result(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    first = await open_dual_use(seeded, request_id="open-DE-C-2026-0001")
    again = await open_dual_use(seeded, request_id="open-DE-C-2026-0001")
    assert again == first
    assert (await seeded["de"].consultations.get(REF)).version == 1
    assert len(await step_entries(seeded, REF)) == 1

    # Still the first result after the consultation moved on; and the retry changes nothing.
    await seeded["nl"].consultations.respond(REF, consultation_pb2.NO_OBJECTION, "Fine.")
    late_retry = await open_dual_use(seeded, request_id="open-DE-C-2026-0001")
    assert late_retry == first
    got = await seeded["de"].consultations.get(REF)
    assert (got.state, got.version) == (ANSWERED, 2)
    assert len(await step_entries(seeded, REF)) == 2


async def test_a_request_id_is_not_reused_for_another_step(
    hub: RunningHub, seeded: dict[str, EcxClient]
) -> None:
    await open_dual_use(seeded, request_id="step-1")
    error = await refused(open_dual_use(seeded, OTHER_REF, request_id="step-1"))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert [f for f, _ in error.violations] == ["request_id"]
    assert await references(seeded["de"]) == [REF]
    # Request ids are per caller: nl may use the same one.
    answered = await seeded["nl"].consultations.respond(
        REF, consultation_pb2.NO_OBJECTION, "Fine.", request_id="step-1"
    )
    assert answered.state == ANSWERED


# The command line, against the hub as its own process (on the machine's clock)


def _real_today() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


class Cli:
    """Runs `python -m client.cli` as one participant against the hub process."""

    def __init__(self, hub: HubProcess, pki: DevPki, workdir: Path) -> None:
        self.hub = hub
        self.pki = pki
        self.workdir = workdir
        self.env = {k: v for k, v in os.environ.items() if k not in ("ECX_SERVER", "ECX_IDENTITY")}
        self.env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "proto")])

    def run(self, who: str, *args: str | Path) -> subprocess.CompletedProcess[str]:
        connection = ["--server", self.hub.address, "--identity", str(self.pki.identity(who))]
        result = subprocess.run(
            [sys.executable, "-m", "client.cli", *connection, *map(str, args)],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.workdir,
            timeout=60,
            check=False,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def ok(self, who: str, *args: str | Path) -> str:
        result = self.run(who, *args)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        return result.stdout

    def json(self, who: str, *args: str | Path) -> Any:
        return json.loads(self.ok(who, *args, "--json"))

    def fails(self, who: str, *args: str | Path) -> str:
        """A refused command: non-zero exit and one line on stderr, which it returns."""
        result = self.run(who, *args)
        assert result.returncode != 0
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("ecx: ")
        assert result.stdout == ""
        return lines[0]

    def write(self, name: str, data: object) -> Path:
        path = self.workdir / name
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
        return path


CLI_DENIAL = "NL-2026-C001"


@pytest.fixture(scope="module")
def cli(pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cli]:
    """A hub process with nl's dual-use denial of the end-user, submitted with the CLI."""
    workdir = tmp_path_factory.mktemp("consult-cli")
    with hub_process(pki, workdir) as hub:
        runner = Cli(hub, pki, workdir)
        denial = _dual_use_denial(
            CLI_DENIAL, "NL", denial_date=(_real_today() - dt.timedelta(days=3)).isoformat()
        )
        path = runner.write("denial.json", to_dict(denial))
        runner.ok("nl", "denial", "submit", "--file", path)
        yield runner


@pytest.fixture(scope="module")
def transaction_file(cli: Cli) -> Path:
    return cli.write("transaction.json", to_dict(dual_use_transaction()))


def test_cli_screen_json(cli: Cli, transaction_file: Path) -> None:
    screened = cli.json("de", "screen", "--file", transaction_file)
    by_reference = {c["reference"]: c for c in screened["candidates"]}
    candidate = by_reference[CLI_DENIAL]
    assert candidate["issuing_state"] == "NL"
    assert candidate["regime"] == "DUAL_USE"
    assert candidate["status"] == "ACTIVE"
    assert candidate["own_state"] is False
    assert candidate["same_destination"] is True
    [name] = candidate["names"]
    assert (name["query_name"], name["denial_name"]) == (APPLICATION_END_USER, DENIED_END_USER)
    assert screened["denials_compared"] >= 1
    # The issuer screening the same transaction sees its own denial flagged.
    own = cli.json("nl", "screen", "--file", transaction_file)
    assert {c["reference"]: c["own_state"] for c in own["candidates"]}[CLI_DENIAL] is True
    # Plain text names the candidate and the evidence.
    text = cli.ok("de", "screen", "--file", transaction_file)
    assert CLI_DENIAL in text
    assert APPLICATION_END_USER in text


def test_cli_screen_refuses_a_bad_transaction_in_one_line(cli: Cli) -> None:
    bad = cli.write("bad-tx.json", to_dict(dual_use_transaction(destination_country="ZZ")))
    line = cli.fails("de", "screen", "--file", bad)
    assert "INVALID_ARGUMENT" in line
    assert "transaction.destination_country" in line
    assert "PERMISSION_DENIED" in cli.fails("commission", "screen", "--file", bad)


def test_cli_consultation_workflow(cli: Cli, transaction_file: Path) -> None:
    reference = "DE-C-CLI-0001"
    opened = cli.json(
        "de",
        "consult",
        "open",
        "--denial",
        CLI_DENIAL,
        "--file",
        transaction_file,
        "--message",
        "Essentially identical transaction: do you maintain your denial?",
        "--contact",
        "export-control@bafa.example",
        "--reference",
        reference,
    )
    assert opened["reference"] == reference
    assert (opened["state"], opened["requester"], opened["responder"]) == ("OPEN", "de", "nl")
    assert opened["denial_references"] == [CLI_DENIAL]
    assert opened["overdue"] is False
    assert opened["answer_deadline"] == (_real_today() + dt.timedelta(days=21)).isoformat()
    assert opened["signatures_verified"] is True
    [event] = opened["events"]
    assert (event["version"], event["signer"]) == (1, "de")
    assert type(event["log_index"]) is int
    assert "envelope" not in event

    inbox = cli.json("nl", "consult", "list", "--role", "responder")
    assert reference in [c["reference"] for c in inbox]
    assert reference not in [
        c["reference"] for c in cli.json("nl", "consult", "list", "--role", "requester")
    ]
    assert cli.json("fr", "consult", "list") == []

    answered = cli.json(
        "nl",
        "consult",
        "respond",
        reference,
        "--position",
        "DENIAL_MAINTAINED",
        "--explanation",
        "The end-user supplies a military programme.",
    )
    assert (answered["state"], answered["version"]) == ("ANSWERED", 2)

    decided = cli.json(
        "de", "consult", "decide", reference, "--decision", "DENIED", "--reasoning", "Refused."
    )
    assert (decided["state"], decided["decision"], decided["version"]) == ("DECIDED", "DENIED", 3)

    got = cli.json("nl", "consult", "get", reference)
    assert [(e["version"], e["signer"]) for e in got["events"]] == [(1, "de"), (2, "nl"), (3, "de")]
    assert got["signatures_verified"] is True
    assert got["decision"] == "DENIED"

    listed = cli.ok("de", "consult", "list", "--state", "DECIDED")
    [line] = [line for line in listed.splitlines() if reference in line]
    assert "DECIDED" in line
    assert "DENIED" in line
    assert "de -> nl" in line

    assert "NOT_FOUND" in cli.fails("fr", "consult", "get", reference)
    assert "FAILED_PRECONDITION" in cli.fails(
        "nl", "consult", "respond", reference, "--position", "NO_OBJECTION", "--explanation", "!"
    )


def test_cli_open_chooses_a_reference_of_the_callers_state(
    cli: Cli, transaction_file: Path
) -> None:
    opened = cli.json(
        "de",
        "consult",
        "open",
        "--denial",
        CLI_DENIAL,
        "--file",
        transaction_file,
        "--message",
        "Please advise.",
        "--contact",
        "export-control@bafa.example",
    )
    assert opened["reference"].startswith("DE-C-")
    overdue = cli.json("de", "consult", "list", "--overdue")
    assert opened["reference"] not in [c["reference"] for c in overdue]
    withdrawn = cli.json("de", "consult", "decide", opened["reference"], "--decision", "WITHDRAWN")
    assert (withdrawn["state"], withdrawn["decision"]) == ("DECIDED", "WITHDRAWN")


def test_cli_grant_and_notification(cli: Cli, transaction_file: Path) -> None:
    reference = "DE-C-CLI-0002"
    cli.json(
        "de",
        "consult",
        "open",
        "--denial",
        CLI_DENIAL,
        "--file",
        transaction_file,
        "--message",
        "Please advise.",
        "--contact",
        "export-control@bafa.example",
        "--reference",
        reference,
    )
    cli.json(
        "nl", "consult", "respond", reference, "--position", "NO_OBJECTION", "--explanation", "OK"
    )
    line = cli.fails(
        "de", "consult", "decide", reference, "--decision", "GRANTED", "--reasoning", "Because."
    )
    assert line.startswith("ecx: INVALID_ARGUMENT: decision.reasoning")
    assert "NOT_FOUND" in cli.fails("commission", "consult", "get", reference)

    granted = cli.json(
        "de",
        "consult",
        "decide",
        reference,
        "--decision",
        "GRANTED",
        "--reasoning",
        GRANT_REASONING,
    )
    assert granted["notified"] == DUAL_USE_GRANT_NOTIFIED
    seen = cli.json("commission", "consult", "get", reference)
    assert (seen["decision"], seen["signatures_verified"]) == ("GRANTED", True)
    notified = cli.json("commission", "consult", "list", "--role", "notified")
    assert [c["reference"] for c in notified] == [reference]
