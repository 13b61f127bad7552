"""What a confused user or an attacker can send to ConsultationService, and what the hub answers.

Every invalid field gets INVALID_ARGUMENT with a google.rpc.BadRequest violation naming it, a
signed step is checked over the bytes received and must carry the step its RPC takes, the signer
must be the caller, and none of it changes the consultation, stores anything, or makes the hub log
a traceback. Requests are built by hand on the generated stub, since the client library would not
send most of them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from client.core.chain import first_link, link_after
from client.core.envelope import CONSULTATION_PAYLOAD_TYPE, DENIAL_PAYLOAD_TYPE, SigningKey, sign
from client.errors import RemoteError
from ecx.v1 import common_pb2, consultation_pb2, consultation_pb2_grpc, denial_pb2
from tests.helpers import TODAY, RunningHub, dual_use_payload, military_payload, party

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED

DUAL_USE_DENIAL = "NL-2026-D001"
MILITARY_DENIAL = "NL-2026-M001"
CONSULTATION = "DE-C-2026-0001"  # opened by de on nl's dual-use denial, deadline TODAY + 21
NEW_REFERENCE = "DE-C-2026-0100"
DEADLINE = TODAY + dt.timedelta(days=21)

OPEN = "OpenConsultation"
RESPOND = "RespondToConsultation"
EXTEND = "ExtendConsultation"
DECIDE = "RecordDecision"


@pytest.fixture(autouse=True)
def _capture_hub_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)


def assert_hub_logged_no_traceback(caplog: pytest.LogCaptureFixture) -> None:
    """Bad input is the caller's fault: the hub answers it and never crashes on it."""
    crashed = [record.getMessage() for record in caplog.records if record.exc_info]
    assert crashed == []
    assert "Traceback" not in caplog.text
    assert "code=INTERNAL" not in caplog.text


@dataclasses.dataclass(frozen=True)
class Wire:
    """A participant's own mTLS channel with the raw ConsultationService stub."""

    stub: Any
    key: SigningKey

    def envelope(
        self, data: bytes, payload_type: str = CONSULTATION_PAYLOAD_TYPE
    ) -> common_pb2.Envelope:
        return sign(data, payload_type, self.key)

    def step(
        self, statement: consultation_pb2.ConsultationStatement, *, request_id: str | None = None
    ) -> consultation_pb2.ConsultationStepRequest:
        return consultation_pb2.ConsultationStepRequest(
            request_id=uuid.uuid4().hex if request_id is None else request_id,
            envelope=self.envelope(statement.SerializeToString(deterministic=True)),
        )

    def call(self, method: str, request: Any) -> Awaitable[Any]:
        return getattr(self.stub, method)(request, timeout=10)


@contextlib.asynccontextmanager
async def open_wire(hub: RunningHub, name: str) -> AsyncIterator[Wire]:
    identity = hub.identity(name)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=identity.ca_pem,
        private_key=identity.key_pem,
        certificate_chain=identity.cert_pem,
    )
    async with grpc.aio.secure_channel(hub.address, credentials) as channel:
        stub = consultation_pb2_grpc.ConsultationServiceStub(channel)
        yield Wire(stub, identity.require_signing_key())


@pytest.fixture
async def wires(hub: RunningHub) -> AsyncIterator[dict[str, Wire]]:
    """nl's denials of both regimes and de's open consultation on the dual-use one."""
    async with hub.client("nl") as nl:
        await nl.submit_denial(dual_use_payload(DUAL_USE_DENIAL, "NL"))
        await nl.submit_denial(military_payload(MILITARY_DENIAL, "NL"))
    async with open_wire(hub, "de") as de, open_wire(hub, "nl") as nl:
        opened = await de.call(OPEN, de.step(opening(CONSULTATION)))
        assert opened.consultation.state == consultation_pb2.OPEN
        yield {"de": de, "nl": nl}


async def refused(call: Awaitable[Any]) -> RemoteError:
    """The error the hub answered with; fails the test if the call succeeded."""
    try:
        await call
    except grpc.aio.AioRpcError as e:
        return RemoteError.from_rpc_error(e)
    pytest.fail("the hub accepted the request")


def fields(error: RemoteError) -> list[str]:
    return [field for field, _ in error.violations]


def assert_invalid(error: RemoteError, field: str) -> None:
    assert error.code == INVALID_ARGUMENT, error
    assert field in fields(error), error.violations


async def assert_nothing_changed(wires: dict[str, Wire]) -> None:
    """Both parties still see exactly the one consultation, as it was opened."""
    for wire in wires.values():
        listed = await wire.call("ListConsultations", consultation_pb2.ListConsultationsRequest())
        assert [c.reference for c in listed.consultations] == [CONSULTATION]
        [c] = listed.consultations
        assert (c.state, c.version, len(c.events)) == (consultation_pb2.OPEN, 1, 1)
        assert c.answer_deadline == DEADLINE.isoformat()


# Valid statements, each case below changes one thing.


def transaction(**fields: Any) -> consultation_pb2.Transaction:
    """Essentially identical to nl's dual-use denial (tests.helpers)."""
    tx = consultation_pb2.Transaction(
        regime=denial_pb2.DUAL_USE,
        licence_type=denial_pb2.EXPORT,
        destination_country="RU",
        end_user=party("JSC Radio Engineering Plant", "RU"),
        control_entries=["3B001.f.1"],
        goods_description="Lithography exposure tool",
    )
    for name, value in fields.items():
        field = getattr(tx, name)
        if isinstance(value, list):
            del field[:]
            field.extend(value)
        elif hasattr(field, "CopyFrom"):
            field.CopyFrom(value)
        else:
            setattr(tx, name, value)
    return tx


def opening(
    reference: str = NEW_REFERENCE,
    *,
    denials: list[str] | None = None,
    tx: consultation_pb2.Transaction | None = None,
    message: str = "Essentially identical transaction: do you maintain your denial?",
    contact: str = "export-control@bafa.example",
) -> consultation_pb2.ConsultationStatement:
    step = consultation_pb2.ConsultationOpening(
        denial_references=[DUAL_USE_DENIAL] if denials is None else denials,
        transaction=transaction() if tx is None else tx,
        message=message,
        contact=contact,
    )
    return consultation_pb2.ConsultationStatement(
        reference=reference, opening=step, link=first_link().to_proto()
    )


def following(opened: consultation_pb2.ConsultationStatement) -> common_pb2.VersionLink:
    """The link of the step after an opening."""
    return link_after(1, opened.SerializeToString(deterministic=True)).to_proto()


def without_transaction() -> consultation_pb2.ConsultationStatement:
    statement = opening()
    statement.opening.ClearField("transaction")
    return statement


def answer(
    position: int = consultation_pb2.DENIAL_MAINTAINED, explanation: str = "Maintained."
) -> consultation_pb2.ConsultationStatement:
    step = consultation_pb2.ConsultationAnswer(position=position, explanation=explanation)  # type: ignore[arg-type]
    return consultation_pb2.ConsultationStatement(
        reference=CONSULTATION, answer=step, link=following(opening(CONSULTATION))
    )


def extension(
    new_deadline: str = (DEADLINE + dt.timedelta(days=14)).isoformat(),
    reason: str = "Inter-ministerial review",
) -> consultation_pb2.ConsultationStatement:
    step = consultation_pb2.DeadlineExtension(new_deadline=new_deadline, reason=reason)
    return consultation_pb2.ConsultationStatement(
        reference=CONSULTATION, extension=step, link=following(opening(CONSULTATION))
    )


def decision(
    value: int = consultation_pb2.WITHDRAWN, reasoning: str = ""
) -> consultation_pb2.ConsultationStatement:
    step = consultation_pb2.ConsultationDecision(decision=value, reasoning=reasoning)  # type: ignore[arg-type]
    return consultation_pb2.ConsultationStatement(
        reference=CONSULTATION, decision=step, link=following(opening(CONSULTATION))
    )


def _references(count: int) -> list[str]:
    return [f"NL-2026-{n:04d}" for n in range(1, count + 1)]


FAR_DEADLINE = (TODAY + dt.timedelta(days=21 + 91)).isoformat()

# (case, RPC, sender, statement, field)
STEP_CASES = [
    # The consultation reference, chosen by the consulting state.
    ("reference-missing", OPEN, "de", opening(""), "reference"),
    ("reference-other-state-prefix", OPEN, "de", opening("NL-C-2026-0100"), "reference"),
    ("reference-no-state-prefix", OPEN, "de", opening("C-2026-0100"), "reference"),
    ("reference-lowercase-prefix", OPEN, "de", opening("de-C-2026-0100"), "reference"),
    ("reference-space", OPEN, "de", opening("DE-C 2026"), "reference"),
    ("reference-66-chars", OPEN, "de", opening("DE-" + "1" * 63), "reference"),
    # The denials consulted on.
    (
        "denial_references-empty",
        OPEN,
        "de",
        opening(denials=[]),
        "opening.denial_references",
    ),
    (
        "denial_references-duplicate",
        OPEN,
        "de",
        opening(denials=[DUAL_USE_DENIAL, DUAL_USE_DENIAL]),
        "opening.denial_references",
    ),
    (
        "denial_references-21",
        OPEN,
        "de",
        opening(denials=_references(21)),
        "opening.denial_references",
    ),
    (
        "denial_references-malformed",
        OPEN,
        "de",
        opening(denials=["not a reference"]),
        "opening.denial_references[0]",
    ),
    (
        "denial_references-second-malformed",
        OPEN,
        "de",
        opening(denials=[DUAL_USE_DENIAL, "NL 2026 D002"]),
        "opening.denial_references[1]",
    ),
    (
        "denial_references-empty-string",
        OPEN,
        "de",
        opening(denials=[""]),
        "opening.denial_references[0]",
    ),
    # The transaction.
    ("transaction-missing", OPEN, "de", without_transaction(), "opening.transaction"),
    (
        "transaction.regime-unspecified",
        OPEN,
        "de",
        opening(tx=transaction(regime=denial_pb2.REGIME_UNSPECIFIED)),
        "opening.transaction.regime",
    ),
    (
        "transaction.regime-unknown-number",
        OPEN,
        "de",
        opening(tx=transaction(regime=7)),
        "opening.transaction.regime",
    ),
    (
        "transaction.licence_type-unknown-number",
        OPEN,
        "de",
        opening(tx=transaction(licence_type=42)),
        "opening.transaction.licence_type",
    ),
    (
        "transaction.destination_country-not-iso",
        OPEN,
        "de",
        opening(tx=transaction(destination_country="ZZ")),
        "opening.transaction.destination_country",
    ),
    (
        "transaction.destination_country-missing",
        OPEN,
        "de",
        opening(tx=transaction(destination_country="")),
        "opening.transaction.destination_country",
    ),
    (
        "transaction.destination_country-alpha-3",
        OPEN,
        "de",
        opening(tx=transaction(destination_country="RUS")),
        "opening.transaction.destination_country",
    ),
    (
        "transaction-no-names",
        OPEN,
        "de",
        opening(tx=transaction(end_user=denial_pb2.Party(country="RU"))),
        "opening.transaction.end_user.name",
    ),
    (
        "transaction.end_user.country-invalid",
        OPEN,
        "de",
        opening(tx=transaction(end_user=party("Radio Engineering Plant", "QQ"))),
        "opening.transaction.end_user.country",
    ),
    (
        "transaction.consignee.name-control-character",
        OPEN,
        "de",
        opening(tx=transaction(consignee=party("Techno\x1b[2Jpark", "RU"))),
        "opening.transaction.consignee.name",
    ),
    (
        "transaction.control_entries-empty",
        OPEN,
        "de",
        opening(tx=transaction(control_entries=[])),
        "opening.transaction.control_entries",
    ),
    (
        "transaction.control_entries-ML-on-dual-use",
        OPEN,
        "de",
        opening(tx=transaction(control_entries=["ML10.a"])),
        "opening.transaction.control_entries[0]",
    ),
    (
        "transaction.control_entries-annex-I-on-military",
        OPEN,
        "de",
        opening(
            denials=[MILITARY_DENIAL],
            tx=transaction(regime=denial_pb2.MILITARY, control_entries=["3B001.f.1"]),
        ),
        "opening.transaction.control_entries[0]",
    ),
    (
        "transaction.control_entries-duplicate",
        OPEN,
        "de",
        opening(tx=transaction(control_entries=["3B001.f.1", "3B001.f.1"])),
        "opening.transaction.control_entries[1]",
    ),
    (
        "transaction.value_eur-negative",
        OPEN,
        "de",
        opening(tx=transaction(value_eur=-1)),
        "opening.transaction.value_eur",
    ),
    ("opening.message-empty", OPEN, "de", opening(message=""), "opening.message"),
    ("opening.message-blank", OPEN, "de", opening(message="  \n "), "opening.message"),
    ("opening.contact-empty", OPEN, "de", opening(contact=""), "opening.contact"),
    ("opening.contact-301-chars", OPEN, "de", opening(contact="c" * 301), "opening.contact"),
    # The answer.
    (
        "answer.position-unspecified",
        RESPOND,
        "nl",
        answer(consultation_pb2.CONSULTATION_POSITION_UNSPECIFIED),
        "answer.position",
    ),
    ("answer.position-unknown-number", RESPOND, "nl", answer(9), "answer.position"),
    ("answer.explanation-empty", RESPOND, "nl", answer(explanation=""), "answer.explanation"),
    ("answer.explanation-blank", RESPOND, "nl", answer(explanation="   "), "answer.explanation"),
    (
        "answer.explanation-4001-chars",
        RESPOND,
        "nl",
        answer(explanation="e" * 4001),
        "answer.explanation",
    ),
    # The extension.
    ("extension.new_deadline-empty", EXTEND, "nl", extension(""), "extension.new_deadline"),
    (
        "extension.new_deadline-day-first",
        EXTEND,
        "nl",
        extension("31/12/2026"),
        "extension.new_deadline",
    ),
    (
        "extension.new_deadline-february-30",
        EXTEND,
        "nl",
        extension("2027-02-30"),
        "extension.new_deadline",
    ),
    (
        "extension.new_deadline-with-time",
        EXTEND,
        "nl",
        extension("2026-12-31T12:00:00Z"),
        "extension.new_deadline",
    ),
    (
        "extension.new_deadline-the-current-deadline",
        EXTEND,
        "nl",
        extension(DEADLINE.isoformat()),
        "extension.new_deadline",
    ),
    (
        "extension.new_deadline-earlier",
        EXTEND,
        "nl",
        extension((DEADLINE - dt.timedelta(days=1)).isoformat()),
        "extension.new_deadline",
    ),
    (
        "extension.new_deadline-91-days-of-extension",
        EXTEND,
        "nl",
        extension(FAR_DEADLINE),
        "extension.new_deadline",
    ),
    ("extension.reason-empty", EXTEND, "nl", extension(reason=""), "extension.reason"),
    # The decision.
    (
        "decision.decision-unspecified",
        DECIDE,
        "de",
        decision(consultation_pb2.DECISION_UNSPECIFIED),
        "decision.decision",
    ),
    ("decision.decision-unknown-number", DECIDE, "de", decision(9), "decision.decision"),
    (
        "decision.reasoning-empty-for-a-grant",
        DECIDE,
        "de",
        decision(consultation_pb2.GRANTED),
        "decision.reasoning",
    ),
    (
        "decision.reasoning-99-chars-for-a-grant",
        DECIDE,
        "de",
        decision(consultation_pb2.GRANTED, "r" * 99),
        "decision.reasoning",
    ),
    (
        "decision.reasoning-4001-chars",
        DECIDE,
        "de",
        decision(consultation_pb2.DENIED, "r" * 4001),
        "decision.reasoning",
    ),
    # A statement whose step is not the one the RPC takes.
    ("answer-sent-to-OpenConsultation", OPEN, "de", answer(), "envelope.payload"),
    ("opening-sent-to-RespondToConsultation", RESPOND, "nl", opening(), "envelope.payload"),
    ("decision-sent-to-ExtendConsultation", EXTEND, "nl", decision(), "envelope.payload"),
    ("extension-sent-to-RecordDecision", DECIDE, "de", extension(), "envelope.payload"),
    (
        "no-step-sent-to-OpenConsultation",
        OPEN,
        "de",
        consultation_pb2.ConsultationStatement(reference=NEW_REFERENCE),
        "envelope.payload",
    ),
]


@pytest.mark.parametrize(
    ("method", "sender", "statement", "field"),
    [pytest.param(m, s, st, f, id=case) for case, m, s, st, f in STEP_CASES],
)
async def test_invalid_step_field(
    wires: dict[str, Wire],
    caplog: pytest.LogCaptureFixture,
    method: str,
    sender: str,
    statement: consultation_pb2.ConsultationStatement,
    field: str,
) -> None:
    wire = wires[sender]
    error = await refused(wire.call(method, wire.step(statement)))
    assert_invalid(error, field)
    await assert_nothing_changed(wires)
    assert_hub_logged_no_traceback(caplog)


def test_step_cases_start_from_valid_statements() -> None:
    """Each builder's defaults are what the workflow tests send successfully; the table
    changes one thing at a time."""
    assert opening().opening.transaction.regime == denial_pb2.DUAL_USE
    assert answer().answer.position == consultation_pb2.DENIAL_MAINTAINED
    assert extension().extension.new_deadline > DEADLINE.isoformat()
    assert decision().decision.decision == consultation_pb2.WITHDRAWN


@pytest.mark.parametrize(
    ("method", "sender", "statement"),
    [
        pytest.param(OPEN, "de", opening(), id="opening"),
        pytest.param(RESPOND, "nl", answer(), id="answer"),
        pytest.param(EXTEND, "nl", extension(), id="extension"),
        pytest.param(DECIDE, "de", decision(), id="decision"),
    ],
)
async def test_the_unchanged_builders_are_accepted(
    wires: dict[str, Wire],
    caplog: pytest.LogCaptureFixture,
    method: str,
    sender: str,
    statement: consultation_pb2.ConsultationStatement,
) -> None:
    """The control for the table above."""
    wire = wires[sender]
    response = await wire.call(method, wire.step(statement))
    assert response.consultation.reference == statement.reference
    assert_hub_logged_no_traceback(caplog)


async def test_limits_are_inclusive(
    hub: RunningHub, wires: dict[str, Wire], caplog: pytest.LogCaptureFixture
) -> None:
    """Twenty denials in one consultation, a 65-character reference and exactly ninety days of
    extension are accepted: the limits above are where refusal starts."""
    references = _references(20)
    async with hub.client("nl") as nl:
        for reference in references:
            await nl.submit_denial(dual_use_payload(reference, "NL"))
    de, nl_wire = wires["de"], wires["nl"]
    long_reference = "DE-" + "1" * 62
    first = opening(long_reference, denials=references)
    opened = await de.call(OPEN, de.step(first))
    assert list(opened.consultation.denial_references) == references
    last_day = (TODAY + dt.timedelta(days=21 + 90)).isoformat()
    extended = await nl_wire.call(
        EXTEND,
        nl_wire.step(
            consultation_pb2.ConsultationStatement(
                reference=long_reference,
                extension=consultation_pb2.DeadlineExtension(new_deadline=last_day, reason="Long"),
                link=following(first),
            )
        ),
    )
    assert extended.consultation.answer_deadline == last_day
    assert_hub_logged_no_traceback(caplog)


# Envelopes: tampering, wrong types, wrong signers.


def _flip_last_byte(data: bytes) -> bytes:
    return data[:-1] + bytes([data[-1] ^ 0x01])


def _forged_signature(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    envelope = wire.envelope(data)
    envelope.signatures[0].sig = _flip_last_byte(envelope.signatures[0].sig)
    return envelope


def _payload_changed_after_signing(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    envelope = wire.envelope(data)
    changed = consultation_pb2.ConsultationStatement.FromString(data)
    changed.opening.transaction.destination_country = "BY"
    envelope.payload = changed.SerializeToString(deterministic=True)
    return envelope


def _signed_as_a_denial(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    return wire.envelope(data, DENIAL_PAYLOAD_TYPE)


def _payload_type_changed_after_signing(
    wire: Wire, hub: RunningHub, data: bytes
) -> common_pb2.Envelope:
    envelope = wire.envelope(data)
    envelope.payload_type = DENIAL_PAYLOAD_TYPE
    return envelope


def _two_signatures(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    envelope = wire.envelope(data)
    envelope.signatures.append(envelope.signatures[0])
    return envelope


def _no_signature(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    envelope = wire.envelope(data)
    del envelope.signatures[:]
    return envelope


def _unregistered_key(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    return sign(data, CONSULTATION_PAYLOAD_TYPE, ed25519.Ed25519PrivateKey.generate())


def _keyid_relabelled(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    """de's signature presented under nl's key id."""
    nl_key = hub.identity("nl").require_signing_key()
    envelope = wire.envelope(data)
    envelope.signatures[0].keyid = sign(b"x", CONSULTATION_PAYLOAD_TYPE, nl_key).signatures[0].keyid
    return envelope


def _empty_payload(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    return wire.envelope(b"")


def _garbage_payload(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    return wire.envelope(b"\xff" * 24)


def _truncated_payload(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    return wire.envelope(data[: len(data) // 2])


def _a_denial_payload(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    """A denial's bytes, signed as a consultation step."""
    denial = military_payload("DE-2026-0001", "DE").SerializeToString(deterministic=True)
    return wire.envelope(denial)


def _unknown_field(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    # Field 15, varint 1: unknown to ConsultationStatement.
    return wire.envelope(data + b"\x78\x01")


ENVELOPE_CASES = [
    ("forged-signature", _forged_signature, "envelope.signatures[0].sig"),
    ("payload-changed-after-signing", _payload_changed_after_signing, "envelope.signatures[0].sig"),
    ("signed-as-a-denial", _signed_as_a_denial, "envelope.payload_type"),
    (
        "payload_type-changed-after-signing",
        _payload_type_changed_after_signing,
        "envelope.payload_type",
    ),
    ("two-signatures", _two_signatures, "envelope.signatures"),
    ("no-signature", _no_signature, "envelope.signatures"),
    ("unregistered-key", _unregistered_key, "envelope.signatures[0].keyid"),
    ("keyid-relabelled-as-nl", _keyid_relabelled, "envelope.signatures[0].sig"),
    ("empty-payload", _empty_payload, "envelope.payload"),
    ("garbage-payload", _garbage_payload, "envelope.payload"),
    ("truncated-payload", _truncated_payload, "envelope.payload"),
    ("a-denial-payload", _a_denial_payload, "envelope.payload"),
    ("unknown-field", _unknown_field, "envelope.payload"),
]


@pytest.mark.parametrize(
    ("make_envelope", "field"), [pytest.param(m, f, id=case) for case, m, f in ENVELOPE_CASES]
)
async def test_bad_envelope(
    hub: RunningHub,
    wires: dict[str, Wire],
    caplog: pytest.LogCaptureFixture,
    make_envelope: Any,
    field: str,
) -> None:
    de = wires["de"]
    data = opening().SerializeToString(deterministic=True)
    request = consultation_pb2.ConsultationStepRequest(
        request_id=uuid.uuid4().hex, envelope=make_envelope(de, hub, data)
    )
    error = await refused(de.call(OPEN, request))
    assert_invalid(error, field)
    await assert_nothing_changed(wires)
    assert_hub_logged_no_traceback(caplog)


@pytest.mark.parametrize("method", [OPEN, RESPOND, EXTEND, DECIDE])
async def test_missing_envelope(
    wires: dict[str, Wire], caplog: pytest.LogCaptureFixture, method: str
) -> None:
    request = consultation_pb2.ConsultationStepRequest(request_id=uuid.uuid4().hex)
    error = await refused(wires["de"].call(method, request))
    assert_invalid(error, "envelope")
    await assert_nothing_changed(wires)
    assert_hub_logged_no_traceback(caplog)


@pytest.mark.parametrize(
    ("method", "signer", "sender", "statement"),
    [
        pytest.param(OPEN, "de", "nl", opening("DE-C-2026-0100"), id="de-opening-sent-by-nl"),
        pytest.param(RESPOND, "nl", "de", answer(), id="nl-answer-sent-by-de"),
        pytest.param(EXTEND, "nl", "de", extension(), id="nl-extension-sent-by-de"),
        pytest.param(DECIDE, "de", "nl", decision(), id="de-decision-sent-by-nl"),
        pytest.param(RESPOND, "nl", "fr", answer(), id="nl-answer-replayed-by-fr"),
        # The sender may take these steps itself: only the signer check refuses them.
        pytest.param(OPEN, "nl", "de", opening("DE-C-2026-0100"), id="nl-signed-opening-of-de"),
        pytest.param(RESPOND, "de", "nl", answer(), id="de-signed-answer-sent-by-nl"),
        pytest.param(EXTEND, "de", "nl", extension(), id="de-signed-extension-sent-by-nl"),
        pytest.param(DECIDE, "nl", "de", decision(), id="nl-signed-decision-sent-by-de"),
    ],
)
async def test_the_signer_must_be_the_caller(
    hub: RunningHub,
    wires: dict[str, Wire],
    caplog: pytest.LogCaptureFixture,
    method: str,
    signer: str,
    sender: str,
    statement: consultation_pb2.ConsultationStatement,
) -> None:
    """A valid signature is not enough: a party's captured step replayed by another is refused."""
    request = wires[signer].step(statement)
    async with open_wire(hub, sender) as wire:
        error = await refused(wire.call(method, request))
    assert error.code == PERMISSION_DENIED, error
    await assert_nothing_changed(wires)
    assert_hub_logged_no_traceback(caplog)


REQUEST_ID_CASES = [
    ("request_id-missing", ""),
    ("request_id-space", "retry 1"),
    ("request_id-slash", "a/b"),
    ("request_id-non-ascii", "änderung-1"),
    ("request_id-newline", "abc\n"),
    ("request_id-129-chars", "r" * 129),
]


@pytest.mark.parametrize("request_id", [pytest.param(r, id=case) for case, r in REQUEST_ID_CASES])
@pytest.mark.parametrize(
    ("method", "sender", "statement"),
    [
        pytest.param(OPEN, "de", opening(), id="open"),
        pytest.param(RESPOND, "nl", answer(), id="respond"),
    ],
)
async def test_invalid_request_id(
    wires: dict[str, Wire],
    caplog: pytest.LogCaptureFixture,
    method: str,
    sender: str,
    statement: consultation_pb2.ConsultationStatement,
    request_id: str,
) -> None:
    wire = wires[sender]
    error = await refused(wire.call(method, wire.step(statement, request_id=request_id)))
    assert_invalid(error, "request_id")
    await assert_nothing_changed(wires)
    assert_hub_logged_no_traceback(caplog)


# ScreenTransaction


SCREEN_CASES = [
    ("transaction-missing", consultation_pb2.ScreenTransactionRequest(), "transaction"),
    (
        "max_results-201",
        consultation_pb2.ScreenTransactionRequest(transaction=transaction(), max_results=201),
        "max_results",
    ),
    (
        "destination_country-not-iso",
        consultation_pb2.ScreenTransactionRequest(
            transaction=transaction(destination_country="ZZ")
        ),
        "transaction.destination_country",
    ),
    (
        "destination_country-lowercase",
        consultation_pb2.ScreenTransactionRequest(
            transaction=transaction(destination_country="ru")
        ),
        "transaction.destination_country",
    ),
    (
        "regime-unspecified",
        consultation_pb2.ScreenTransactionRequest(
            transaction=transaction(regime=denial_pb2.REGIME_UNSPECIFIED)
        ),
        "transaction.regime",
    ),
    (
        "no-names",
        consultation_pb2.ScreenTransactionRequest(
            transaction=transaction(end_user=denial_pb2.Party(country="RU"))
        ),
        "transaction.end_user.name",
    ),
    (
        "end_user.name-301-chars",
        consultation_pb2.ScreenTransactionRequest(
            transaction=transaction(end_user=party("N" * 301, "RU"))
        ),
        "transaction.end_user.name",
    ),
    (
        "control_entries-ML-on-dual-use",
        consultation_pb2.ScreenTransactionRequest(
            transaction=transaction(control_entries=["ML10.a"])
        ),
        "transaction.control_entries[0]",
    ),
]


@pytest.mark.parametrize(
    ("request_", "field"), [pytest.param(r, f, id=case) for case, r, f in SCREEN_CASES]
)
async def test_invalid_screening(
    wires: dict[str, Wire],
    caplog: pytest.LogCaptureFixture,
    request_: consultation_pb2.ScreenTransactionRequest,
    field: str,
) -> None:
    error = await refused(wires["de"].call("ScreenTransaction", request_))
    assert_invalid(error, field)
    assert_hub_logged_no_traceback(caplog)


async def test_screening_limits_are_inclusive(
    wires: dict[str, Wire], caplog: pytest.LogCaptureFixture
) -> None:
    request = consultation_pb2.ScreenTransactionRequest(
        transaction=transaction(end_user=party("N" * 300, "RU")), max_results=200
    )
    await wires["de"].call("ScreenTransaction", request)
    found = await wires["de"].call(
        "ScreenTransaction", consultation_pb2.ScreenTransactionRequest(transaction=transaction())
    )
    assert DUAL_USE_DENIAL in [c.reference for c in found.candidates]
    assert_hub_logged_no_traceback(caplog)


# ListConsultations and GetConsultation


LIST_CASES = [
    (
        "page_token-garbage",
        consultation_pb2.ListConsultationsRequest(page_token="zzz"),
        "page_token",
    ),
    (
        "page_token-prefix-only",
        consultation_pb2.ListConsultationsRequest(page_token="c"),
        "page_token",
    ),
    (
        "page_token-no-prefix",
        consultation_pb2.ListConsultationsRequest(page_token="5"),
        "page_token",
    ),
    (
        "page_token-negative",
        consultation_pb2.ListConsultationsRequest(page_token="c-1"),
        "page_token",
    ),
    (
        "page_token-huge",
        consultation_pb2.ListConsultationsRequest(page_token="c" + "9" * 40),
        "page_token",
    ),
    ("page_size-501", consultation_pb2.ListConsultationsRequest(page_size=501), "page_size"),
    ("role-unknown-number", consultation_pb2.ListConsultationsRequest(role=7), "role"),  # type: ignore[arg-type]
    ("state-unknown-number", consultation_pb2.ListConsultationsRequest(state=9), "state"),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(
    ("request_", "field"), [pytest.param(r, f, id=case) for case, r, f in LIST_CASES]
)
async def test_invalid_list_request(
    wires: dict[str, Wire],
    caplog: pytest.LogCaptureFixture,
    request_: consultation_pb2.ListConsultationsRequest,
    field: str,
) -> None:
    error = await refused(wires["de"].call("ListConsultations", request_))
    assert_invalid(error, field)
    assert_hub_logged_no_traceback(caplog)


async def test_list_pages_follow_their_tokens(
    wires: dict[str, Wire], caplog: pytest.LogCaptureFixture
) -> None:
    """The control for the page cases: a real token and page size 500 are accepted."""
    de = wires["de"]
    for n in range(2, 4):
        await de.call(OPEN, de.step(opening(f"DE-C-2026-000{n}")))
    seen: list[str] = []
    token = ""
    while True:
        page = await de.call(
            "ListConsultations",
            consultation_pb2.ListConsultationsRequest(page_size=1, page_token=token),
        )
        seen += [c.reference for c in page.consultations]
        token = page.next_page_token
        if not token:
            break
    assert seen == ["DE-C-2026-0001", "DE-C-2026-0002", "DE-C-2026-0003"]
    everything = await de.call(
        "ListConsultations", consultation_pb2.ListConsultationsRequest(page_size=500)
    )
    assert [c.reference for c in everything.consultations] == seen
    assert_hub_logged_no_traceback(caplog)


@pytest.mark.parametrize(
    "reference",
    [pytest.param("", id="reference-missing"), pytest.param("DE-" + "1" * 63, id="reference-66")],
)
async def test_invalid_get_request(
    wires: dict[str, Wire], caplog: pytest.LogCaptureFixture, reference: str
) -> None:
    request = consultation_pb2.GetConsultationRequest(reference=reference)
    error = await refused(wires["de"].call("GetConsultation", request))
    assert_invalid(error, "reference")
    assert_hub_logged_no_traceback(caplog)
