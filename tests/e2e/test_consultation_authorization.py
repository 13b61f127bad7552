"""Who may call what on ConsultationService: every RPC against every kind of caller, over real
mutual TLS, cell by cell.

The scene: `nl` denied a dual-use export; `de` consults it on an essentially identical transaction
(DE-C-2026-0001). Callers: the requester `de`, the responder `nl`, a third state `fr`, the
Commission, an auditor, an operator, `revoked` (certificate on the CRL) and a client without any
certificate. A consultation is bilateral: a third state is told it does not exist; auditors and
operators may use no ConsultationService RPC; the Commission only reads, and only what it was
notified of. The second table repeats the reads and steps after a grant despite the denial, which
for dual-use goods is notified to every authority and the Commission, for military goods only to
the denying state.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import uuid
from collections.abc import Awaitable, Callable

import grpc
import pytest

from client.api import EcxClient
from client.core.envelope import CONSULTATION_PAYLOAD_TYPE, sign
from client.errors import RemoteError
from client.identity import Identity
from ecx.v1 import common_pb2, consultation_pb2, consultation_pb2_grpc, denial_pb2
from tests.helpers import TODAY, RunningHub, dual_use_payload, military_payload, party

OK = grpc.StatusCode.OK
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED
NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION

DUAL_USE_DENIAL = "NL-2026-D001"
MILITARY_DENIAL = "NL-2026-M001"
CONSULTATION = "DE-C-2026-0001"
NO_CERT = "no-cert"

REQUESTER, RESPONDER, THIRD_STATE = "de", "nl", "fr"
CALLERS = [
    REQUESTER,
    RESPONDER,
    THIRD_STATE,
    "commission",
    "auditor",
    "operator",
    "revoked",
    NO_CERT,
]

# The state whose prefix a caller's own consultation reference carries.
OWN_STATE = {"de": "DE", "nl": "NL", "fr": "FR", "revoked": "PT"}

GRANT_REASONING = (
    "Granted after an on-site end-use check and a binding end-use undertaking; the goods serve a "
    "documented civil production line and shipments are subject to post-shipment verification."
)

# (RPC, caller, expected status) while the consultation is open.
TABLE = [
    # Screening: authorities only.
    ("ScreenTransaction", REQUESTER, OK),
    ("ScreenTransaction", RESPONDER, OK),
    ("ScreenTransaction", THIRD_STATE, OK),
    ("ScreenTransaction", "commission", PERMISSION_DENIED),
    ("ScreenTransaction", "auditor", PERMISSION_DENIED),
    ("ScreenTransaction", "operator", PERMISSION_DENIED),
    ("ScreenTransaction", "revoked", UNAUTHENTICATED),
    ("ScreenTransaction", NO_CERT, UNAVAILABLE),
    # Opening a consultation on nl's denial: any other authority; nl does not consult itself.
    ("OpenConsultation", REQUESTER, OK),
    ("OpenConsultation", RESPONDER, INVALID_ARGUMENT),
    ("OpenConsultation", THIRD_STATE, OK),
    ("OpenConsultation", "commission", PERMISSION_DENIED),
    ("OpenConsultation", "auditor", PERMISSION_DENIED),
    ("OpenConsultation", "operator", PERMISSION_DENIED),
    ("OpenConsultation", "revoked", UNAUTHENTICATED),
    ("OpenConsultation", NO_CERT, UNAVAILABLE),
    # Answering and extending: the denying state only; a third state does not see it.
    ("RespondToConsultation", REQUESTER, PERMISSION_DENIED),
    ("RespondToConsultation", RESPONDER, OK),
    ("RespondToConsultation", THIRD_STATE, NOT_FOUND),
    ("RespondToConsultation", "commission", PERMISSION_DENIED),
    ("RespondToConsultation", "auditor", PERMISSION_DENIED),
    ("RespondToConsultation", "operator", PERMISSION_DENIED),
    ("RespondToConsultation", "revoked", UNAUTHENTICATED),
    ("RespondToConsultation", NO_CERT, UNAVAILABLE),
    ("ExtendConsultation", REQUESTER, PERMISSION_DENIED),
    ("ExtendConsultation", RESPONDER, OK),
    ("ExtendConsultation", THIRD_STATE, NOT_FOUND),
    ("ExtendConsultation", "commission", PERMISSION_DENIED),
    ("ExtendConsultation", "auditor", PERMISSION_DENIED),
    ("ExtendConsultation", "operator", PERMISSION_DENIED),
    ("ExtendConsultation", "revoked", UNAUTHENTICATED),
    ("ExtendConsultation", NO_CERT, UNAVAILABLE),
    # Deciding (here: withdrawing, allowed at any time before a decision): the requester only.
    ("RecordDecision", REQUESTER, OK),
    ("RecordDecision", RESPONDER, PERMISSION_DENIED),
    ("RecordDecision", THIRD_STATE, NOT_FOUND),
    ("RecordDecision", "commission", PERMISSION_DENIED),
    ("RecordDecision", "auditor", PERMISSION_DENIED),
    ("RecordDecision", "operator", PERMISSION_DENIED),
    ("RecordDecision", "revoked", UNAUTHENTICATED),
    ("RecordDecision", NO_CERT, UNAVAILABLE),
    # Reads: the two parties; the Commission was notified of nothing yet.
    ("GetConsultation", REQUESTER, OK),
    ("GetConsultation", RESPONDER, OK),
    ("GetConsultation", THIRD_STATE, NOT_FOUND),
    ("GetConsultation", "commission", NOT_FOUND),
    ("GetConsultation", "auditor", PERMISSION_DENIED),
    ("GetConsultation", "operator", PERMISSION_DENIED),
    ("GetConsultation", "revoked", UNAUTHENTICATED),
    ("GetConsultation", NO_CERT, UNAVAILABLE),
    ("ListConsultations", REQUESTER, OK),
    ("ListConsultations", RESPONDER, OK),
    ("ListConsultations", THIRD_STATE, OK),
    ("ListConsultations", "commission", OK),
    ("ListConsultations", "auditor", PERMISSION_DENIED),
    ("ListConsultations", "operator", PERMISSION_DENIED),
    ("ListConsultations", "revoked", UNAUTHENTICATED),
    ("ListConsultations", NO_CERT, UNAVAILABLE),
]

RPCS = list(dict.fromkeys(rpc for rpc, _, _ in TABLE))
STEPS = {"OpenConsultation", "RespondToConsultation", "ExtendConsultation", "RecordDecision"}


def _cell_id(*cell: object) -> str:
    return "-".join(c.name if isinstance(c, grpc.StatusCode) else str(c) for c in cell)


def transaction(regime: int = denial_pb2.DUAL_USE) -> consultation_pb2.Transaction:
    """Essentially identical to nl's denial of that regime (tests.helpers)."""
    if regime == denial_pb2.MILITARY:
        return consultation_pb2.Transaction(
            regime=denial_pb2.MILITARY,
            destination_country="AE",
            end_user=party("Al Noor Armed Forces Supply LLC", "AE"),
            control_entries=["ML2.a"],
        )
    return consultation_pb2.Transaction(
        regime=denial_pb2.DUAL_USE,
        licence_type=denial_pb2.EXPORT,
        destination_country="RU",
        end_user=party("JSC Radio Engineering Plant", "RU"),
        control_entries=["3B001.f.1"],
    )


def statement(reference: str, **step: object) -> consultation_pb2.ConsultationStatement:
    return consultation_pb2.ConsultationStatement(reference=reference, **step)  # type: ignore[arg-type]


def opening(
    reference: str, denial: str = DUAL_USE_DENIAL
) -> consultation_pb2.ConsultationStatement:
    return statement(
        reference,
        opening=consultation_pb2.ConsultationOpening(
            denial_references=[denial],
            transaction=transaction(),
            message="Essentially identical transaction: do you maintain your denial?",
            contact="export-control@example.org",
        ),
    )


ANSWER = statement(
    CONSULTATION,
    answer=consultation_pb2.ConsultationAnswer(
        position=consultation_pb2.NO_OBJECTION, explanation="No objection."
    ),
)
EXTENSION = statement(
    CONSULTATION,
    extension=consultation_pb2.DeadlineExtension(
        new_deadline=(TODAY + dt.timedelta(days=30)).isoformat(), reason="Inter-ministerial review"
    ),
)
WITHDRAWAL = statement(
    CONSULTATION,
    decision=consultation_pb2.ConsultationDecision(
        decision=consultation_pb2.WITHDRAWN, reasoning="Application withdrawn."
    ),
)


@dataclasses.dataclass(frozen=True)
class Scene:
    """What a successful read must show each caller."""

    visible: dict[str, list[str]]
    # The consultation as it stands, for the steps to follow (read by its requester).
    current: consultation_pb2.Consultation | None = None


OPEN_SCENE = Scene({REQUESTER: [CONSULTATION], RESPONDER: [CONSULTATION]})


# Operations through the client library, as each caller would issue them. Each one checks what a
# successful call returned; a refusal surfaces as RemoteError.

Operation = Callable[[EcxClient, str, Scene], Awaitable[None]]


async def _screen(ecx: EcxClient, caller: str, scene: Scene) -> None:
    found = await ecx.consultations.screen(transaction())
    candidates = {c.reference: c for c in found.candidates}
    assert DUAL_USE_DENIAL in candidates
    assert candidates[DUAL_USE_DENIAL].own_state == (caller == RESPONDER)


async def _open(ecx: EcxClient, caller: str, scene: Scene) -> None:
    reference = f"{OWN_STATE.get(caller, 'DE')}-C-2026-0100"
    step = opening(reference).opening
    c = await ecx.consultations.open(
        reference, list(step.denial_references), step.transaction, step.message, step.contact
    )
    assert (c.reference, c.requester, c.responder, c.state) == (
        reference,
        caller,
        RESPONDER,
        consultation_pb2.OPEN,
    )


async def _respond(ecx: EcxClient, caller: str, scene: Scene) -> None:
    c = await ecx.consultations.respond(
        CONSULTATION, ANSWER.answer.position, ANSWER.answer.explanation, follows=scene.current
    )
    assert (c.state, c.version, c.events[-1].signer) == (consultation_pb2.ANSWERED, 2, caller)


async def _extend(ecx: EcxClient, caller: str, scene: Scene) -> None:
    new_deadline = dt.date.fromisoformat(EXTENSION.extension.new_deadline)
    c = await ecx.consultations.extend(
        CONSULTATION, new_deadline, EXTENSION.extension.reason, follows=scene.current
    )
    assert (c.answer_deadline, c.version) == (new_deadline.isoformat(), 2)


async def _decide(ecx: EcxClient, caller: str, scene: Scene) -> None:
    decision = WITHDRAWAL.decision
    c = await ecx.consultations.decide(
        CONSULTATION, decision.decision, decision.reasoning, follows=scene.current
    )
    assert (c.state, c.decision) == (consultation_pb2.DECIDED, consultation_pb2.WITHDRAWN)


async def _get(ecx: EcxClient, caller: str, scene: Scene) -> None:
    c = await ecx.consultations.get(CONSULTATION)
    assert (c.reference, c.requester, c.responder) == (CONSULTATION, REQUESTER, RESPONDER)
    await ecx.consultations.verify(c)


async def _list(ecx: EcxClient, caller: str, scene: Scene) -> None:
    seen = [c.reference async for c in ecx.consultations.list()]
    assert seen == scene.visible.get(caller, [])


OPERATIONS: dict[str, Operation] = {
    "ScreenTransaction": _screen,
    "OpenConsultation": _open,
    "RespondToConsultation": _respond,
    "ExtendConsultation": _extend,
    "RecordDecision": _decide,
    "GetConsultation": _get,
    "ListConsultations": _list,
}


def test_table_covers_every_rpc_and_caller() -> None:
    """A new RPC or caller cannot slip past the table."""
    service = consultation_pb2.DESCRIPTOR.services_by_name["ConsultationService"]
    assert set(RPCS) == {m.name for m in service.methods}
    assert set(OPERATIONS) == set(RPCS)
    assert {caller for _, caller, _ in TABLE} == set(CALLERS)
    cells = [(rpc, caller) for rpc, caller, _ in TABLE]
    assert len(cells) == len(set(cells)) == len(RPCS) * len(CALLERS)


def _signed(
    hub: RunningHub, signer: str, step: consultation_pb2.ConsultationStatement
) -> consultation_pb2.ConsultationStepRequest:
    data = step.SerializeToString(deterministic=True)
    key = hub.identity(signer).require_signing_key()
    envelope: common_pb2.Envelope = sign(data, CONSULTATION_PAYLOAD_TYPE, key)
    return consultation_pb2.ConsultationStepRequest(request_id=uuid.uuid4().hex, envelope=envelope)


def _captured_request(hub: RunningHub, rpc: str) -> object:
    """The parties' own requests, as an eavesdropper without a certificate would replay them."""
    return {
        "ScreenTransaction": consultation_pb2.ScreenTransactionRequest(transaction=transaction()),
        "OpenConsultation": _signed(hub, REQUESTER, opening("DE-C-2026-0100")),
        "RespondToConsultation": _signed(hub, RESPONDER, ANSWER),
        "ExtendConsultation": _signed(hub, RESPONDER, EXTENSION),
        "RecordDecision": _signed(hub, REQUESTER, WITHDRAWAL),
        "GetConsultation": consultation_pb2.GetConsultationRequest(reference=CONSULTATION),
        "ListConsultations": consultation_pb2.ListConsultationsRequest(),
    }[rpc]


async def _call_without_certificate(hub: RunningHub, rpc: str) -> grpc.StatusCode:
    credentials = grpc.ssl_channel_credentials(root_certificates=hub.pki.ca_cert.read_bytes())
    async with grpc.aio.secure_channel(hub.address, credentials) as channel:
        stub = consultation_pb2_grpc.ConsultationServiceStub(channel)
        try:
            await getattr(stub, rpc)(_captured_request(hub, rpc), timeout=10)
        except grpc.aio.AioRpcError as e:
            return e.code()
    return OK


async def _call_as(
    hub: RunningHub, identity: Identity, rpc: str, caller: str, scene: Scene
) -> grpc.StatusCode:
    async with EcxClient(hub.address, identity, timeout=10) as ecx:
        try:
            await OPERATIONS[rpc](ecx, caller, scene)
        except RemoteError as e:
            return e.code
    return OK


async def _call(hub: RunningHub, rpc: str, caller: str, scene: Scene) -> grpc.StatusCode:
    if rpc in STEPS - {"OpenConsultation"}:
        async with hub.client(REQUESTER) as de:
            scene = dataclasses.replace(scene, current=await de.consultations.get(CONSULTATION))
    if caller == NO_CERT:
        return await _call_without_certificate(hub, rpc)
    return await _call_as(hub, hub.identity(caller), rpc, caller, scene)


async def _seed(hub: RunningHub) -> None:
    async with hub.client("nl") as nl:
        await nl.submit_denial(dual_use_payload(DUAL_USE_DENIAL, "NL"))
        await nl.submit_denial(military_payload(MILITARY_DENIAL, "NL"))


async def _open_consultation(hub: RunningHub, denial: str = DUAL_USE_DENIAL) -> None:
    regime = denial_pb2.MILITARY if denial == MILITARY_DENIAL else denial_pb2.DUAL_USE
    async with hub.client(REQUESTER) as de:
        await de.consultations.open(
            CONSULTATION, [denial], transaction(regime), "Please advise.", "bafa@example.org"
        )


async def _assert_unchanged(hub: RunningHub) -> None:
    """A refused step left nothing behind: both parties still see the one open consultation,
    as first recorded, and nobody else sees any."""
    for party_id in (REQUESTER, RESPONDER):
        async with hub.client(party_id) as client:
            [c] = [c async for c in client.consultations.list()]
            assert (c.reference, c.state, c.version, len(c.events)) == (
                CONSULTATION,
                consultation_pb2.OPEN,
                1,
                1,
            )
            assert c.answer_deadline == (TODAY + dt.timedelta(days=21)).isoformat()
    for outsider in (THIRD_STATE, "commission"):
        async with hub.client(outsider) as client:
            assert [c async for c in client.consultations.list()] == []


@pytest.fixture
async def open_hub(hub: RunningHub) -> RunningHub:
    await _seed(hub)
    await _open_consultation(hub)
    return hub


@pytest.mark.parametrize(
    ("rpc", "caller", "expected"), [pytest.param(*cell, id=_cell_id(*cell)) for cell in TABLE]
)
async def test_policy_while_open(
    open_hub: RunningHub, rpc: str, caller: str, expected: grpc.StatusCode
) -> None:
    assert await _call(open_hub, rpc, caller, OPEN_SCENE) == expected
    if rpc in STEPS and expected != OK:
        await _assert_unchanged(open_hub)


# After a grant despite the denial: who was notified may read it, and still takes no step.

NOTIFIED_OF = {
    "dual-use": {REQUESTER, RESPONDER, THIRD_STATE, "commission"},
    "military": {REQUESTER, RESPONDER},
}

GRANT_TABLE = [
    # Dual-use: every authority and the Commission were notified.
    ("GetConsultation", REQUESTER, "dual-use", OK),
    ("GetConsultation", RESPONDER, "dual-use", OK),
    ("GetConsultation", THIRD_STATE, "dual-use", OK),
    ("GetConsultation", "commission", "dual-use", OK),
    ("ListConsultations", REQUESTER, "dual-use", OK),
    ("ListConsultations", RESPONDER, "dual-use", OK),
    ("ListConsultations", THIRD_STATE, "dual-use", OK),
    ("ListConsultations", "commission", "dual-use", OK),
    # Steps: the parties are told it is decided; those notified may read it, so they are told
    # they may not act rather than that it does not exist; the Commission takes no step at all.
    ("RespondToConsultation", REQUESTER, "dual-use", PERMISSION_DENIED),
    ("RespondToConsultation", RESPONDER, "dual-use", FAILED_PRECONDITION),
    ("RespondToConsultation", THIRD_STATE, "dual-use", PERMISSION_DENIED),
    ("RespondToConsultation", "commission", "dual-use", PERMISSION_DENIED),
    ("ExtendConsultation", REQUESTER, "dual-use", PERMISSION_DENIED),
    ("ExtendConsultation", RESPONDER, "dual-use", FAILED_PRECONDITION),
    ("ExtendConsultation", THIRD_STATE, "dual-use", PERMISSION_DENIED),
    ("ExtendConsultation", "commission", "dual-use", PERMISSION_DENIED),
    ("RecordDecision", REQUESTER, "dual-use", FAILED_PRECONDITION),
    ("RecordDecision", RESPONDER, "dual-use", PERMISSION_DENIED),
    ("RecordDecision", THIRD_STATE, "dual-use", PERMISSION_DENIED),
    ("RecordDecision", "commission", "dual-use", PERMISSION_DENIED),
    # Military: only the denying state was notified; the rest still learn nothing.
    ("GetConsultation", REQUESTER, "military", OK),
    ("GetConsultation", RESPONDER, "military", OK),
    ("GetConsultation", THIRD_STATE, "military", NOT_FOUND),
    ("GetConsultation", "commission", "military", NOT_FOUND),
    ("ListConsultations", REQUESTER, "military", OK),
    ("ListConsultations", RESPONDER, "military", OK),
    ("ListConsultations", THIRD_STATE, "military", OK),
    ("ListConsultations", "commission", "military", OK),
    ("RespondToConsultation", REQUESTER, "military", PERMISSION_DENIED),
    ("RespondToConsultation", RESPONDER, "military", FAILED_PRECONDITION),
    ("RespondToConsultation", THIRD_STATE, "military", NOT_FOUND),
    ("RespondToConsultation", "commission", "military", PERMISSION_DENIED),
    ("ExtendConsultation", REQUESTER, "military", PERMISSION_DENIED),
    ("ExtendConsultation", RESPONDER, "military", FAILED_PRECONDITION),
    ("ExtendConsultation", THIRD_STATE, "military", NOT_FOUND),
    ("ExtendConsultation", "commission", "military", PERMISSION_DENIED),
    ("RecordDecision", REQUESTER, "military", FAILED_PRECONDITION),
    ("RecordDecision", RESPONDER, "military", PERMISSION_DENIED),
    ("RecordDecision", THIRD_STATE, "military", NOT_FOUND),
    ("RecordDecision", "commission", "military", PERMISSION_DENIED),
]


def test_grant_table_is_complete() -> None:
    rpcs = {"GetConsultation", "ListConsultations"} | STEPS - {"OpenConsultation"}
    callers = {REQUESTER, RESPONDER, THIRD_STATE, "commission"}
    cells = [(rpc, caller, regime) for rpc, caller, regime, _ in GRANT_TABLE]
    assert len(cells) == len(set(cells)) == len(rpcs) * len(callers) * 2
    assert {rpc for rpc, _, _ in cells} == rpcs
    assert {caller for _, caller, _ in cells} == callers


async def _grant(hub: RunningHub, regime: str) -> consultation_pb2.Consultation:
    await _seed(hub)
    await _open_consultation(hub, DUAL_USE_DENIAL if regime == "dual-use" else MILITARY_DENIAL)
    async with hub.client(RESPONDER) as nl:
        await nl.consultations.respond(CONSULTATION, consultation_pb2.NO_OBJECTION, "No objection.")
    async with hub.client(REQUESTER) as de:
        return await de.consultations.decide(
            CONSULTATION, consultation_pb2.GRANTED, GRANT_REASONING
        )


@pytest.mark.parametrize(
    ("rpc", "caller", "regime", "expected"),
    [pytest.param(*cell, id=_cell_id(*cell)) for cell in GRANT_TABLE],
)
async def test_policy_after_a_grant(
    hub: RunningHub, rpc: str, caller: str, regime: str, expected: grpc.StatusCode
) -> None:
    granted = await _grant(hub, regime)
    scene = Scene({who: [CONSULTATION] for who in NOTIFIED_OF[regime]})
    assert await _call(hub, rpc, caller, scene) == expected
    async with hub.client(REQUESTER) as de:
        [after] = [c async for c in de.consultations.list()]
    assert after == granted  # nothing any caller did changed the decided consultation


@pytest.mark.parametrize("regime", ["dual-use", "military"])
async def test_the_commission_reads_only_after_a_dual_use_grant(
    hub: RunningHub, regime: str
) -> None:
    """Before/after for the Commission on one consultation, through each read RPC."""
    await _seed(hub)
    denial = DUAL_USE_DENIAL if regime == "dual-use" else MILITARY_DENIAL
    await _open_consultation(hub, denial)
    async with hub.client(RESPONDER) as nl:
        await nl.consultations.respond(CONSULTATION, consultation_pb2.NO_OBJECTION, "No objection.")
    before = Scene({})
    assert await _call(hub, "GetConsultation", "commission", before) == NOT_FOUND
    assert await _call(hub, "ListConsultations", "commission", before) == OK
    async with hub.client(REQUESTER) as de:
        await de.consultations.decide(CONSULTATION, consultation_pb2.GRANTED, GRANT_REASONING)
    notified = regime == "dual-use"
    after = Scene({"commission": [CONSULTATION] if notified else []})
    assert await _call(hub, "GetConsultation", "commission", after) == (
        OK if notified else NOT_FOUND
    )
    assert await _call(hub, "ListConsultations", "commission", after) == OK
    async with hub.client("commission") as commission:
        role = consultation_pb2.NOTIFIED
        seen = [c.reference async for c in commission.consultations.list(role=role)]
    assert seen == ([CONSULTATION] if notified else [])
