"""Requests built to cost the hub more than they cost the sender, or to leave something behind:
many bad elements in one message, fields the hub does not know, text aimed at the hub's log.
Each is refused as cheaply as a plain mistake, names the field, and leaves nothing stored."""

from __future__ import annotations

import asyncio
import logging
import random
import sqlite3
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from certs.devpki import DevPki
from client.core.envelope import DENIAL_PAYLOAD_TYPE, sign
from client.errors import RemoteError
from ecx.v1 import denial_pb2, denial_pb2_grpc
from server.domain.denials import MAX_VIOLATIONS
from tests.helpers import (
    RunningHub,
    costly_denial,
    costly_transaction,
    eventually,
    military_payload,
    running_hub,
)

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
# A field number no ecx message uses, length-delimited: b"abc" as field 999.
UNKNOWN_FIELD = b"\xba\x3e\x03abc"


@pytest.fixture(autouse=True)
def _capture_hub_log(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


@pytest.fixture
async def nl_stub(hub: RunningHub) -> AsyncIterator[denial_pb2_grpc.DenialServiceStub]:
    identity = hub.identity("nl")
    credentials = grpc.ssl_channel_credentials(
        root_certificates=identity.ca_pem,
        private_key=identity.key_pem,
        certificate_chain=identity.cert_pem,
    )
    async with grpc.aio.secure_channel(
        hub.address, credentials, options=[("grpc.max_receive_message_length", 64 << 20)]
    ) as channel:
        yield denial_pb2_grpc.DenialServiceStub(channel)


def _signed(hub: RunningHub, payload: denial_pb2.DenialPayload) -> denial_pb2.SubmitDenialRequest:
    envelope = sign(
        payload.SerializeToString(deterministic=True),
        DENIAL_PAYLOAD_TYPE,
        hub.identity("nl").require_signing_key(),
    )
    return denial_pb2.SubmitDenialRequest(request_id=uuid.uuid4().hex, envelope=envelope)


async def _refused(call: object) -> RemoteError:
    try:
        await call  # type: ignore[misc]
    except grpc.aio.AioRpcError as e:
        return RemoteError.from_rpc_error(e)
    pytest.fail("the hub accepted the request")


def _stored_denials(hub: RunningHub) -> int:
    with sqlite3.connect(hub.store_path) as db:
        return int(db.execute("SELECT COUNT(*) FROM denials").fetchone()[0])


def _many_reasons(p: denial_pb2.DenialPayload) -> None:
    p.reasons.extend(denial_pb2.Reason() for _ in range(100_000))


def _many_aliases(p: denial_pb2.DenialPayload) -> None:
    p.end_user.aliases.extend([""] * 100_000)


def _many_entries(p: denial_pb2.DenialPayload) -> None:
    p.control_entries.extend(["x"] * 100_000)


def _many_bad_fields(p: denial_pb2.DenialPayload) -> None:
    """Every element within its count limit, and each of them wrong."""
    del p.reasons[:]
    p.reasons.extend(denial_pb2.Reason(criterion=99) for _ in range(16))
    p.end_user.aliases.extend(["\x07"] * 20)
    p.control_entries.extend(["x"] * 50)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        pytest.param(_many_reasons, "reasons", id="100k-empty-reasons"),
        pytest.param(_many_aliases, "end_user.aliases", id="100k-empty-aliases"),
        pytest.param(_many_entries, "control_entries", id="100k-bad-entries"),
        pytest.param(_many_bad_fields, "reasons[0].criterion", id="every-element-wrong"),
    ],
)
async def test_a_message_of_many_bad_elements_gets_a_short_answer(
    hub: RunningHub,
    nl_stub: denial_pb2_grpc.DenialServiceStub,
    caplog: pytest.LogCaptureFixture,
    change: object,
    field: str,
) -> None:
    payload = military_payload(reference="NL-2026-0500", state="NL")
    change(payload)  # type: ignore[operator]
    error = await _refused(nl_stub.SubmitDenial(_signed(hub, payload)))
    assert error.code == INVALID_ARGUMENT
    assert field in [f for f, _ in error.violations]
    assert len(error.violations) <= MAX_VIOLATIONS
    assert len(error.message) < 4_000
    assert max(len(r.getMessage()) for r in caplog.records) < 4_000
    assert _stored_denials(hub) == 0


async def test_an_envelope_with_fields_the_hub_does_not_know_is_refused(
    hub: RunningHub, nl_stub: denial_pb2_grpc.DenialServiceStub
) -> None:
    """The hub stores envelopes as received and passes them on: bytes outside what is signed
    and understood would travel to every reader."""
    request = _signed(hub, military_payload(reference="NL-2026-0501", state="NL"))
    request.envelope.MergeFromString(UNKNOWN_FIELD)
    error = await _refused(nl_stub.SubmitDenial(request))
    assert error.code == INVALID_ARGUMENT
    assert [f for f, _ in error.violations] == ["envelope"]
    assert _stored_denials(hub) == 0
    # The same envelope without the extra bytes is accepted.
    request.envelope.DiscardUnknownFields()
    accepted = await nl_stub.SubmitDenial(request)
    assert accepted.denial.reference == "NL-2026-0501"


async def test_a_request_with_fields_the_hub_does_not_know_is_refused(
    nl_stub: denial_pb2_grpc.DenialServiceStub,
) -> None:
    """An unknown filter would otherwise be ignored, and the answer taken for a filtered one."""
    request = denial_pb2.ListDenialsRequest()
    request.MergeFromString(UNKNOWN_FIELD)
    error = await _refused(nl_stub.ListDenials(request))
    assert error.code == INVALID_ARGUMENT
    assert [f for f, _ in error.violations] == ["request"]


async def test_a_refused_reference_reaches_neither_the_exchange_log_nor_a_log_line_raw(
    hub: RunningHub,
    nl_stub: denial_pb2_grpc.DenialServiceStub,
    caplog: pytest.LogCaptureFixture,
) -> None:
    forged_line = "GetDenial caller=fr code=OK"
    reference = "NL-2026-0042\n" + forged_line + "x" * 50_000
    error = await _refused(nl_stub.GetDenial(denial_pb2.GetDenialRequest(reference=reference)))
    assert error.code == INVALID_ARGUMENT
    assert all("\n" not in r.getMessage() for r in caplog.records)
    assert max(len(r.getMessage()) for r in caplog.records) < 4_000
    with sqlite3.connect(hub.store_path) as db:
        refusals = db.execute("SELECT COUNT(*) FROM log_entries WHERE outcome != ''").fetchone()[0]
        objects = [row[0] for row in db.execute("SELECT object_id FROM log_objects")]
    assert refusals == 1  # the refusal is recorded, without the text as an object
    assert objects == []


async def test_an_unexpected_error_is_logged_by_kind_and_place_without_traceback_or_message(
    hub: RunningHub,
    nl_stub: denial_pb2_grpc.DenialServiceStub,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A defect in the hub (here: one put in on purpose) must not put request data or the
    hub's code into the log as a traceback, nor anything of it into the answer."""

    async def defect(*_: object) -> None:
        raise RuntimeError("NL-2026-0042 secret-in-message")

    monkeypatch.setattr(hub.hub.store, "denial_with_log", defect)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await nl_stub.GetDenial(denial_pb2.GetDenialRequest(reference="NL-2026-0042"))
    assert refused.value.code() == grpc.StatusCode.INTERNAL
    assert "secret" not in (refused.value.details() or "")
    lines = [r.getMessage() for r in caplog.records if "code=INTERNAL" in r.getMessage()]
    assert len(lines) == 1
    assert "error=RuntimeError at test_hostile_input.py:" in lines[0]
    assert "secret" not in caplog.text
    assert "Traceback" not in caplog.text
    assert all(r.exc_info is None for r in caplog.records)


async def test_a_costly_screening_does_not_hold_up_other_callers(
    pki: DevPki, tmp_path: Path
) -> None:
    """Names of 24 alike words with 20 aliases each make comparing names take seconds when the
    hub allows that much: meanwhile, the hub answers everyone else."""
    rnd = random.Random(7)
    transaction = costly_transaction(rnd)
    del transaction.end_user.aliases[3:]
    transaction.ClearField("consignee")
    async with (
        running_hub(pki, tmp_path / "ecx.db", max_screening_word_pairs=10**9) as hub,
        hub.client("nl") as nl,
        hub.client("de", timeout=300) as de,
        hub.client("fr") as fr,
    ):
        await nl.submit_denial(costly_denial("NL-2026-0900", rnd))
        screening = asyncio.create_task(de.consultations.screen(transaction))
        await eventually(lambda: hub.hub.screener.comparing() == ["de"])
        who = await fr.whoami()
        assert who.id == "fr"
        assert not screening.done()  # fr was answered while DE's names were still compared
        await screening
