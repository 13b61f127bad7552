"""What a confused user or an attacker can send, and what the hub must answer.

Every invalid field gets INVALID_ARGUMENT with a google.rpc.BadRequest violation naming it;
signatures are checked over the bytes received; retries never duplicate; oversized requests are
refused by the transport; and none of it makes the hub log a traceback or store anything.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import dataclasses
import datetime as dt
import logging
import re
import uuid
from collections.abc import AsyncIterator, Awaitable
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from certs.devpki import DevPki, issue_identity
from client.api import EcxClient
from client.core.chain import link_after
from client.core.envelope import DENIAL_CHANGE_PAYLOAD_TYPE, DENIAL_PAYLOAD_TYPE, SigningKey, sign
from client.errors import RemoteError
from client.identity import Identity
from ecx.v1 import common_pb2, denial_pb2, denial_pb2_grpc
from server.app import Hub
from server.clock import FixedClock
from server.domain.countries import normalize_country
from server.domain.denials import DenialContent, DenialRules
from server.errors import InvalidArgument
from tests.helpers import (
    START,
    TODAY,
    RunningHub,
    dual_use_payload,
    hub_config,
    military_payload,
    party,
)

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED
NOT_FOUND = grpc.StatusCode.NOT_FOUND
RESOURCE_EXHAUSTED = grpc.StatusCode.RESOURCE_EXHAUSTED

MILITARY_REF = "NL-2026-0042"
DUAL_USE_REF = "NL-2026-0043"


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
    """A participant's own mTLS channel with raw stubs, for requests the library never builds."""

    denials: Any
    key: SigningKey

    def envelope(self, data: bytes, payload_type: str = DENIAL_PAYLOAD_TYPE) -> common_pb2.Envelope:
        return sign(data, payload_type, self.key)

    def submit_request(
        self, payload: denial_pb2.DenialPayload, *, request_id: str | None = None
    ) -> denial_pb2.SubmitDenialRequest:
        return denial_pb2.SubmitDenialRequest(
            request_id=uuid.uuid4().hex if request_id is None else request_id,
            envelope=self.envelope(payload.SerializeToString(deterministic=True)),
        )


@contextlib.asynccontextmanager
async def open_wire(hub: RunningHub, name: str) -> AsyncIterator[Wire]:
    identity = hub.identity(name)
    credentials = grpc.ssl_channel_credentials(
        root_certificates=identity.ca_pem,
        private_key=identity.key_pem,
        certificate_chain=identity.cert_pem,
    )
    async with grpc.aio.secure_channel(hub.address, credentials) as channel:
        yield Wire(denial_pb2_grpc.DenialServiceStub(channel), identity.require_signing_key())


@pytest.fixture
async def nl(hub: RunningHub) -> AsyncIterator[Wire]:
    async with open_wire(hub, "nl") as wire:
        yield wire


async def refused(call: Awaitable[Any]) -> RemoteError:
    """The error the hub answered with; fails the test if the call succeeded."""
    try:
        await call
    except grpc.aio.AioRpcError as e:
        return RemoteError.from_rpc_error(e)
    pytest.fail("the hub accepted the request")


async def drained(stream: Any) -> list[Any]:
    return [item async for item in stream]


def fields(error: RemoteError) -> list[str]:
    return [field for field, _ in error.violations]


def assert_invalid(error: RemoteError, field: str) -> None:
    assert error.code == INVALID_ARGUMENT, error
    assert field in fields(error), error.violations


async def stored_references(hub: RunningHub) -> list[str]:
    async with hub.client("nl") as client:
        return sorted([d.reference async for d in client.list_denials()])


# Invalid payload fields. Each case changes one thing in an otherwise valid denial and names the
# field the hub must report.


def _military(reference: str = MILITARY_REF, **fields: object) -> denial_pb2.DenialPayload:
    return military_payload(reference, "NL", **fields)


def _dual_use(reference: str = DUAL_USE_REF, **fields: object) -> denial_pb2.DenialPayload:
    return dual_use_payload(reference, "NL", **fields)


def _without(payload: denial_pb2.DenialPayload, field: str) -> denial_pb2.DenialPayload:
    payload.ClearField(field)
    return payload


def _reason(explanation: str = "Risk of diversion", **fields: Any) -> denial_pb2.Reason:
    return denial_pb2.Reason(explanation=explanation, **fields)


def _military_entries(count: int) -> list[str]:
    return [f"ML{n}.{letter}" for n in range(1, 23) for letter in "abc"][:count]


THREE_YEARS_AND_A_DAY_AGO = (TODAY.replace(year=TODAY.year - 3) - dt.timedelta(days=1)).isoformat()
TOMORROW = (TODAY + dt.timedelta(days=1)).isoformat()

PAYLOAD_CASES = [
    ("reference-missing", _military(reference=""), "reference"),
    ("reference-other-state-prefix", _military(reference="DE-2026-0042"), "reference"),
    ("reference-no-state-prefix", _military(reference="2026-0042"), "reference"),
    ("reference-space", _military(reference="NL-2026 0042"), "reference"),
    ("reference-hash", _military(reference="NL-2026#0042"), "reference"),
    ("reference-non-ascii", _military(reference="NL-2026-Ø042"), "reference"),
    ("reference-66-chars", _military(reference="NL-" + "1" * 63), "reference"),
    ("reference-300-chars", _military(reference="NL-" + "1" * 297), "reference"),
    ("regime-unspecified", _military(regime=denial_pb2.REGIME_UNSPECIFIED), "regime"),
    ("regime-unknown-number", _military(regime=9), "regime"),
    ("licence_type-unspecified", _military(licence_type=0), "licence_type"),
    ("licence_type-unknown-number", _military(licence_type=42), "licence_type"),
    (
        "licence_type-technical-assistance-on-military",
        _military(licence_type=denial_pb2.TECHNICAL_ASSISTANCE),
        "licence_type",
    ),
    ("issuing_state-missing", _military(issuing_state=""), "issuing_state"),
    ("issuing_state-not-iso", _military(issuing_state="XX"), "issuing_state"),
    ("issuing_state-lowercase", _military(issuing_state="nl"), "issuing_state"),
    ("issuing_state-name", _military(issuing_state="Netherlands"), "issuing_state"),
    (
        "issuing_state-another-states",
        _military(reference="DE-2026-0042", issuing_state="DE"),
        "issuing_state",
    ),
    ("originating_authority-empty", _military(originating_authority=""), "originating_authority"),
    (
        "originating_authority-blank",
        _military(originating_authority="   "),
        "originating_authority",
    ),
    ("denial_date-missing", _military(denial_date=""), "denial_date"),
    ("denial_date-day-first", _military(denial_date="20/11/2026"), "denial_date"),
    ("denial_date-with-time", _military(denial_date="2026-11-20T10:00:00Z"), "denial_date"),
    ("denial_date-unpadded", _military(denial_date="2026-1-5"), "denial_date"),
    ("denial_date-february-30", _military(denial_date="2026-02-30"), "denial_date"),
    ("denial_date-future", _military(denial_date=TOMORROW), "denial_date"),
    (
        "denial_date-older-than-3-years",
        _military(denial_date=THREE_YEARS_AND_A_DAY_AGO),
        "denial_date",
    ),
    ("destination_country-missing", _military(destination_country=""), "destination_country"),
    ("destination_country-not-iso", _military(destination_country="ZZ"), "destination_country"),
    ("destination_country-lowercase", _military(destination_country="ae"), "destination_country"),
    ("destination_country-alpha-3", _military(destination_country="ARE"), "destination_country"),
    (
        "destination_country-issuing-state",
        _military(destination_country="NL"),
        "destination_country",
    ),
    ("end_user-missing", _without(_military(), "end_user"), "end_user"),
    ("end_user.name-empty", _military(end_user=party("", "AE")), "end_user.name"),
    ("end_user.name-301-chars", _military(end_user=party("N" * 301, "AE")), "end_user.name"),
    ("end_user.country-invalid", _military(end_user=party("Al Noor", "QQ")), "end_user.country"),
    ("end_user.country-missing", _military(end_user=party("Al Noor", "")), "end_user.country"),
    (
        "consignee.country-invalid",
        _military(consignee=party("Gulf FZE", "A1")),
        "consignee.country",
    ),
    (
        "end_user.aliases-too-many",
        _military(end_user=party("Al Noor", "AE", *[f"Alias {i}" for i in range(21)])),
        "end_user.aliases",
    ),
    (
        "end_user.aliases-empty-alias",
        _military(end_user=party("Al Noor", "AE", "Al-Nour", "")),
        "end_user.aliases[1]",
    ),
    (
        "end_user.address-501-chars",
        _military(end_user=denial_pb2.Party(name="Al Noor", country="AE", address="a" * 501)),
        "end_user.address",
    ),
    ("control_entries-empty", _military(control_entries=[]), "control_entries"),
    ("control_entries-ML23", _military(control_entries=["ML23"]), "control_entries[0]"),
    ("control_entries-ML10.A", _military(control_entries=["ML10.A"]), "control_entries[0]"),
    ("control_entries-ML0", _military(control_entries=["ML0"]), "control_entries[0]"),
    (
        "control_entries-annex-I-on-military",
        _military(control_entries=["3B001.f.1"]),
        "control_entries[0]",
    ),
    ("control_entries-ML-on-dual-use", _dual_use(control_entries=["ML10.a"]), "control_entries[0]"),
    ("control_entries-annex-I-group-F", _dual_use(control_entries=["3F001"]), "control_entries[0]"),
    (
        "control_entries-duplicate",
        _military(control_entries=["ML2.a", "ML5.c", "ML2.a"]),
        "control_entries[2]",
    ),
    ("control_entries-51", _military(control_entries=_military_entries(51)), "control_entries"),
    ("reasons-empty", _military(reasons=[]), "reasons"),
    ("reasons-17", _military(reasons=[_reason(criterion=7)] * 17), "reasons"),
    (
        "reasons-criterion-0-military",
        _military(reasons=[_reason(criterion=0)]),
        "reasons[0].criterion",
    ),
    (
        "reasons-criterion-9-military",
        _military(reasons=[_reason(criterion=9)]),
        "reasons[0].criterion",
    ),
    (
        "reasons-ground-on-military",
        _military(reasons=[_reason(criterion=7, ground=denial_pb2.SANCTIONS)]),
        "reasons[0].ground",
    ),
    ("reasons-dual-use-without-ground", _dual_use(reasons=[_reason()]), "reasons[0].ground"),
    (
        "reasons-dual-use-unknown-ground",
        _dual_use(reasons=[_reason(ground=99)]),
        "reasons[0].ground",
    ),
    (
        "reasons-dual-use-criterion-without-foreign-policy-ground",
        _dual_use(reasons=[_reason(ground=denial_pb2.SANCTIONS, criterion=2)]),
        "reasons[0].criterion",
    ),
    (
        "reasons-second-explanation-empty",
        _military(reasons=[_reason(criterion=7), _reason("", criterion=2)]),
        "reasons[1].explanation",
    ),
    (
        "reasons-explanation-empty",
        _military(reasons=[_reason("", criterion=7)]),
        "reasons[0].explanation",
    ),
    ("goods_description-empty", _military(goods_description=""), "goods_description"),
    ("goods_description-4001-chars", _military(goods_description="g" * 4001), "goods_description"),
    ("quantity-101-chars", _military(quantity="9" * 101), "quantity"),
    ("value_eur-negative", _military(value_eur=-1), "value_eur"),
    ("contact-empty", _military(contact=""), "contact"),
    ("end_user.name-bell", _military(end_user=party("Al\x07Noor", "AE")), "end_user.name"),
    ("end_user.name-escape", _military(end_user=party("\x1b[2JAl Noor", "AE")), "end_user.name"),
    ("end_user.name-newline", _military(end_user=party("Al Noor\nLLC", "AE")), "end_user.name"),
    ("end_user.name-c1-csi", _military(end_user=party("Al Noor\x9b2J", "AE")), "end_user.name"),
    ("consignee.name-nul", _military(consignee=party("Gulf\x00FZE", "AE")), "consignee.name"),
    ("end_use-escape", _military(end_use="Coastal patrol\x1b[8m"), "end_use"),
    ("contact-delete", _military(contact="denials@example.org\x7f"), "contact"),
]


@pytest.mark.parametrize(
    ("payload", "field"), [pytest.param(p, f, id=case) for case, p, f in PAYLOAD_CASES]
)
async def test_invalid_payload_field(
    hub: RunningHub,
    nl: Wire,
    caplog: pytest.LogCaptureFixture,
    payload: denial_pb2.DenialPayload,
    field: str,
) -> None:
    error = await refused(nl.denials.SubmitDenial(nl.submit_request(payload)))
    assert_invalid(error, field)
    assert await stored_references(hub) == []
    assert_hub_logged_no_traceback(caplog)


def test_payload_cases_start_from_valid_denials() -> None:
    """The bases of the table are valid, so each case tests only the field it changes."""
    for payload in (_military(), _dual_use()):
        DenialContent.from_payload(payload, caller_state="NL", today=TODAY, rules=DenialRules())


async def test_limits_are_inclusive(
    hub: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    """Values exactly at each limit are accepted: the limits above are where refusal starts."""
    reference = "NL-" + "1" * 62
    assert len(reference) == 65
    payload = _military(
        reference=reference,
        denial_date=TODAY.replace(year=TODAY.year - 3).isoformat(),
        end_user=party("N" * 300, "AE", *[f"Alias {i}" for i in range(20)]),
        control_entries=_military_entries(50),
        reasons=[_reason(criterion=c) for c in (1, 8)] * 8,
        goods_description="g" * 4000,
        quantity="9" * 100,
        value_eur=0,
    )
    response = await nl.denials.SubmitDenial(nl.submit_request(payload, request_id="r" * 128))
    assert response.denial.reference == reference
    got = await nl.denials.GetDenial(denial_pb2.GetDenialRequest(reference=reference))
    assert got.denial.version == 1
    assert_hub_logged_no_traceback(caplog)


async def test_denial_date_is_judged_by_the_hubs_clock(
    hub: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    """A date that is past by the machine's clock is still future if the hub's clock says so."""
    hub.clock.advance(dt.timedelta(days=-30))
    payload = _military(denial_date=(TODAY - dt.timedelta(days=10)).isoformat())
    error = await refused(nl.denials.SubmitDenial(nl.submit_request(payload)))
    assert_invalid(error, "denial_date")
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
async def test_invalid_request_id(
    hub: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture, request_id: str
) -> None:
    request = nl.submit_request(_military(), request_id=request_id)
    error = await refused(nl.denials.SubmitDenial(request))
    assert_invalid(error, "request_id")
    assert await stored_references(hub) == []
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
    tampered = denial_pb2.DenialPayload.FromString(data)
    tampered.destination_country = "SA"
    envelope.payload = tampered.SerializeToString(deterministic=True)
    return envelope


def _payload_type_changed_after_signing(
    wire: Wire, hub: RunningHub, data: bytes
) -> common_pb2.Envelope:
    envelope = wire.envelope(data)
    envelope.payload_type = DENIAL_CHANGE_PAYLOAD_TYPE
    return envelope


def _signed_as_status_change(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    return wire.envelope(data, DENIAL_CHANGE_PAYLOAD_TYPE)


def _two_signatures(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    envelope = wire.envelope(data)
    envelope.signatures.append(envelope.signatures[0])
    return envelope


def _no_signature(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    envelope = wire.envelope(data)
    del envelope.signatures[:]
    return envelope


def _unregistered_key(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    return sign(data, DENIAL_PAYLOAD_TYPE, ed25519.Ed25519PrivateKey.generate())


def _keyid_relabelled(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    """nl's signature presented under de's key id."""
    de_key = hub.identity("de").require_signing_key()
    envelope = wire.envelope(data)
    envelope.signatures[0].keyid = sign(b"x", DENIAL_PAYLOAD_TYPE, de_key).signatures[0].keyid
    return envelope


def _empty_payload(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    return wire.envelope(b"")


def _garbage_payload(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    return wire.envelope(b"\xff" * 24)


def _truncated_payload(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    return wire.envelope(data[: len(data) // 2])


def _invalid_utf8_payload(wire: Wire, hub: RunningHub, data: bytes) -> common_pb2.Envelope:
    # Field 1 (reference), length 4, bytes that are not UTF-8.
    return wire.envelope(b"\x0a\x04NL-\xff")


ENVELOPE_CASES = [
    ("forged-signature", _forged_signature, "envelope.signatures[0].sig"),
    ("payload-changed-after-signing", _payload_changed_after_signing, "envelope.signatures[0].sig"),
    (
        "payload_type-changed-after-signing",
        _payload_type_changed_after_signing,
        "envelope.payload_type",
    ),
    ("signed-as-status-change", _signed_as_status_change, "envelope.payload_type"),
    ("two-signatures", _two_signatures, "envelope.signatures"),
    ("no-signature", _no_signature, "envelope.signatures"),
    ("unregistered-key", _unregistered_key, "envelope.signatures[0].keyid"),
    ("keyid-relabelled-as-de", _keyid_relabelled, "envelope.signatures[0].sig"),
    ("empty-payload", _empty_payload, "envelope.payload"),
    ("garbage-payload", _garbage_payload, "envelope.payload"),
    ("truncated-payload", _truncated_payload, "envelope.payload"),
    ("invalid-utf8-payload", _invalid_utf8_payload, "envelope.payload"),
]


@pytest.mark.parametrize(
    ("make_envelope", "field"), [pytest.param(m, f, id=case) for case, m, f in ENVELOPE_CASES]
)
async def test_bad_envelope(
    hub: RunningHub,
    nl: Wire,
    caplog: pytest.LogCaptureFixture,
    make_envelope: Any,
    field: str,
) -> None:
    data = _military().SerializeToString(deterministic=True)
    request = denial_pb2.SubmitDenialRequest(
        request_id=uuid.uuid4().hex, envelope=make_envelope(nl, hub, data)
    )
    error = await refused(nl.denials.SubmitDenial(request))
    assert_invalid(error, field)
    assert await stored_references(hub) == []
    assert_hub_logged_no_traceback(caplog)


async def test_missing_envelope(
    hub: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    request = denial_pb2.SubmitDenialRequest(request_id=uuid.uuid4().hex)
    error = await refused(nl.denials.SubmitDenial(request))
    assert_invalid(error, "envelope")
    assert_hub_logged_no_traceback(caplog)


async def test_payload_signed_by_another_state_sent_by_nl(
    hub: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    """A valid signature is not enough: the signer must be the caller."""
    async with open_wire(hub, "de") as de:
        request = de.submit_request(military_payload(reference="DE-2026-0042", state="DE"))
    error = await refused(nl.denials.SubmitDenial(request))
    assert error.code == PERMISSION_DENIED
    assert await stored_references(hub) == []
    assert_hub_logged_no_traceback(caplog)


async def test_captured_request_of_nl_replayed_by_another_state(
    hub: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    request = nl.submit_request(_military())
    async with open_wire(hub, "de") as de:
        error = await refused(de.denials.SubmitDenial(request))
    assert error.code == PERMISSION_DENIED
    assert await stored_references(hub) == []
    assert_hub_logged_no_traceback(caplog)


# Retries: the same request_id returns the first result and changes nothing.


async def test_retry_returns_the_first_result(
    hub: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    request = nl.submit_request(_military(), request_id="submit-0042")
    first = await nl.denials.SubmitDenial(request)
    again = await nl.denials.SubmitDenial(request)
    assert (again.denial.version, again.denial.log_index) == (1, first.denial.log_index)
    assert again == first
    assert await stored_references(hub) == [MILITARY_REF]
    got = await nl.denials.GetDenial(
        denial_pb2.GetDenialRequest(reference=MILITARY_REF, include_versions=True)
    )
    assert len(got.versions) == 1
    synced = await drained(nl.denials.SyncDenials(denial_pb2.SyncDenialsRequest()))
    assert [c.reference for batch in synced for c in batch.changes] == [MILITARY_REF]
    assert_hub_logged_no_traceback(caplog)


async def test_a_retry_gets_the_first_result_where_the_hub_would_now_refuse_the_request(
    hub: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    """The answer to a stored denial dated on the last day the hub accepts was lost; the
    retry the next day must learn what happened, not be told the date is too old."""
    oldest = hub.clock.now().date() - dt.timedelta(days=3 * 365)
    while True:  # the oldest date accepted today: one day older is refused
        try:
            DenialContent.from_payload(
                _military(denial_date=(oldest - dt.timedelta(days=1)).isoformat()),
                caller_state="NL",
                today=hub.clock.now().date(),
                rules=DenialRules(),
            )
        except InvalidArgument:
            break
        oldest -= dt.timedelta(days=1)
    request = nl.submit_request(_military(denial_date=oldest.isoformat()), request_id="late-1")
    first = await nl.denials.SubmitDenial(request)
    hub.clock.advance(dt.timedelta(days=1))
    fresh = nl.submit_request(_military(denial_date=oldest.isoformat()), request_id="late-2")
    assert_invalid(await refused(nl.denials.SubmitDenial(fresh)), "denial_date")
    again = await nl.denials.SubmitDenial(request)
    assert again == first
    other = nl.submit_request(
        _military(denial_date=oldest.isoformat(), contact="x"), request_id="late-1"
    )  # same id, another request: still refused
    assert_invalid(await refused(nl.denials.SubmitDenial(other)), "denial_date")
    assert await stored_references(hub) == [MILITARY_REF]
    assert_hub_logged_no_traceback(caplog)


async def test_concurrent_retries_record_once(
    hub: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    request = nl.submit_request(_military(), request_id="submit-0042")
    answers = await asyncio.gather(*(nl.denials.SubmitDenial(request) for _ in range(8)))
    assert len({a.SerializeToString(deterministic=True) for a in answers}) == 1
    assert await stored_references(hub) == [MILITARY_REF]
    assert_hub_logged_no_traceback(caplog)


async def test_request_id_reused_for_a_different_payload(
    hub: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    first = await nl.denials.SubmitDenial(nl.submit_request(_military(), request_id="submit-1"))
    other = nl.submit_request(_military(reference="NL-2026-0099"), request_id="submit-1")
    error = await refused(nl.denials.SubmitDenial(other))
    assert_invalid(error, "request_id")
    assert await stored_references(hub) == [MILITARY_REF]
    missing = await refused(
        nl.denials.GetDenial(denial_pb2.GetDenialRequest(reference="NL-2026-0099"))
    )
    assert missing.code == NOT_FOUND
    got = await nl.denials.GetDenial(denial_pb2.GetDenialRequest(reference=MILITARY_REF))
    assert got.denial == first.denial
    assert_hub_logged_no_traceback(caplog)


async def test_request_id_reused_for_another_method(
    hub: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    await nl.denials.SubmitDenial(nl.submit_request(_military(), request_id="op-1"))
    amended = _military(quantity="6 units", link=FOLLOWS).SerializeToString(deterministic=True)
    request = denial_pb2.AmendDenialRequest(
        request_id="op-1", reference=MILITARY_REF, envelope=nl.envelope(amended)
    )
    error = await refused(nl.denials.AmendDenial(request))
    assert_invalid(error, "request_id")
    got = await nl.denials.GetDenial(denial_pb2.GetDenialRequest(reference=MILITARY_REF))
    assert got.denial.version == 1
    assert_hub_logged_no_traceback(caplog)


async def test_request_ids_belong_to_their_caller(
    hub: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    """de reusing nl's request_id neither receives nl's result nor is refused."""
    mine = await nl.denials.SubmitDenial(nl.submit_request(_military(), request_id="shared-1"))
    async with open_wire(hub, "de") as de:
        payload = military_payload(reference="DE-2026-0042", state="DE")
        theirs = await de.denials.SubmitDenial(de.submit_request(payload, request_id="shared-1"))
    assert (theirs.denial.reference, theirs.denial.signer) == ("DE-2026-0042", "de")
    assert theirs.denial.log_index != mine.denial.log_index
    assert await stored_references(hub) == ["DE-2026-0042", MILITARY_REF]
    assert_hub_logged_no_traceback(caplog)


# Size.


async def test_oversized_request_is_refused_by_the_transport(
    hub: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    payload = _military(end_use="x" * (1200 * 1024))
    request = nl.submit_request(payload)
    assert len(request.envelope.payload) >= 1.1 * 1024 * 1024
    error = await refused(nl.denials.SubmitDenial(request))
    assert error.code == RESOURCE_EXHAUSTED
    assert await stored_references(hub) == []
    # The channel and the hub carry on.
    accepted = await nl.denials.SubmitDenial(nl.submit_request(_military()))
    assert accepted.denial.version == 1
    assert_hub_logged_no_traceback(caplog)


# Changes to an existing denial.


@pytest.fixture
async def seeded(hub: RunningHub, nl: Wire) -> RunningHub:
    await nl.denials.SubmitDenial(nl.submit_request(_military()))
    return hub


# What follows the seeded denial (version 1, `_military()` as submitted).
FOLLOWS = link_after(1, _military().SerializeToString(deterministic=True)).to_proto()


def _statement(
    change: denial_pb2.DenialChange.ValueType,
    *,
    reference: str = MILITARY_REF,
    reason: str = "Licence granted on appeal",
    effective_date: str = TODAY.isoformat(),
) -> bytes:
    return denial_pb2.DenialStatusChange(
        reference=reference,
        change=change,
        reason=reason,
        effective_date=effective_date,
        link=FOLLOWS,
    ).SerializeToString(deterministic=True)


REVOKE, RENEW = denial_pb2.REVOKE, denial_pb2.RENEW

# (case, RPC, request reference, signed bytes, payload type, field)
CHANGE_CASES = [
    (
        "RevokeDenial-reason-missing",
        "RevokeDenial",
        MILITARY_REF,
        _statement(REVOKE, reason=""),
        None,
        "envelope.payload.reason",
    ),
    (
        "RevokeDenial-statement-says-RENEW",
        "RevokeDenial",
        MILITARY_REF,
        _statement(RENEW),
        None,
        "envelope.payload.change",
    ),
    (
        "RenewDenial-statement-says-REVOKE",
        "RenewDenial",
        MILITARY_REF,
        _statement(REVOKE),
        None,
        "envelope.payload.change",
    ),
    (
        "RevokeDenial-statement-names-another-denial",
        "RevokeDenial",
        MILITARY_REF,
        _statement(REVOKE, reference="NL-2026-0099"),
        None,
        "envelope.payload.reference",
    ),
    (
        "RevokeDenial-effective-date-future",
        "RevokeDenial",
        MILITARY_REF,
        _statement(REVOKE, effective_date=TOMORROW),
        None,
        "envelope.payload.effective_date",
    ),
    (
        "RenewDenial-effective-date-missing",
        "RenewDenial",
        MILITARY_REF,
        _statement(RENEW, effective_date=""),
        None,
        "envelope.payload.effective_date",
    ),
    (
        "RenewDenial-effective-date-month-13",
        "RenewDenial",
        MILITARY_REF,
        _statement(RENEW, effective_date="2026-13-01"),
        None,
        "envelope.payload.effective_date",
    ),
    (
        "RevokeDenial-reference-missing",
        "RevokeDenial",
        "",
        _statement(REVOKE, reference=""),
        None,
        "reference",
    ),
    (
        "RevokeDenial-reference-66-chars",
        "RevokeDenial",
        "NL-" + "1" * 63,
        _statement(REVOKE, reference="NL-" + "1" * 63),
        None,
        "reference",
    ),
    (
        "RevokeDenial-garbage-statement",
        "RevokeDenial",
        MILITARY_REF,
        b"\xff" * 16,
        None,
        "envelope.payload",
    ),
    (
        "RevokeDenial-signed-as-denial",
        "RevokeDenial",
        MILITARY_REF,
        _statement(REVOKE),
        DENIAL_PAYLOAD_TYPE,
        "envelope.payload_type",
    ),
    (
        "AmendDenial-payload-names-another-denial",
        "AmendDenial",
        MILITARY_REF,
        _military(reference="NL-2026-0099", link=FOLLOWS).SerializeToString(deterministic=True),
        DENIAL_PAYLOAD_TYPE,
        "reference",
    ),
    (
        "AmendDenial-regime-changes",
        "AmendDenial",
        MILITARY_REF,
        dual_use_payload(reference=MILITARY_REF, state="NL", link=FOLLOWS).SerializeToString(
            deterministic=True
        ),
        DENIAL_PAYLOAD_TYPE,
        "regime",
    ),
    (
        "AmendDenial-invalid-destination",
        "AmendDenial",
        MILITARY_REF,
        _military(destination_country="Iran", link=FOLLOWS).SerializeToString(deterministic=True),
        DENIAL_PAYLOAD_TYPE,
        "destination_country",
    ),
    (
        "AmendDenial-reference-missing",
        "AmendDenial",
        "",
        _military().SerializeToString(deterministic=True),
        DENIAL_PAYLOAD_TYPE,
        "reference",
    ),
    (
        "AmendDenial-status-change-as-payload",
        "AmendDenial",
        MILITARY_REF,
        _statement(REVOKE),
        DENIAL_CHANGE_PAYLOAD_TYPE,
        "envelope.payload_type",
    ),
]

_REQUESTS = {
    "AmendDenial": denial_pb2.AmendDenialRequest,
    "RevokeDenial": denial_pb2.RevokeDenialRequest,
    "RenewDenial": denial_pb2.RenewDenialRequest,
}


@pytest.mark.parametrize(
    ("rpc", "reference", "data", "payload_type", "field"),
    [pytest.param(*rest, id=case) for case, *rest in CHANGE_CASES],
)
async def test_invalid_change(
    seeded: RunningHub,
    nl: Wire,
    caplog: pytest.LogCaptureFixture,
    rpc: str,
    reference: str,
    data: bytes,
    payload_type: str | None,
    field: str,
) -> None:
    kind = payload_type or DENIAL_CHANGE_PAYLOAD_TYPE
    request = _REQUESTS[rpc](
        request_id=uuid.uuid4().hex, reference=reference, envelope=nl.envelope(data, kind)
    )
    error = await refused(getattr(nl.denials, rpc)(request))
    assert_invalid(error, field)
    got = await nl.denials.GetDenial(
        denial_pb2.GetDenialRequest(reference=MILITARY_REF, include_versions=True)
    )
    assert (got.denial.version, got.denial.status, len(got.versions)) == (1, denial_pb2.ACTIVE, 1)
    assert_hub_logged_no_traceback(caplog)


@pytest.mark.parametrize("rpc", ["AmendDenial", "RevokeDenial", "RenewDenial"])
async def test_change_without_envelope(
    seeded: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture, rpc: str
) -> None:
    request = _REQUESTS[rpc](request_id=uuid.uuid4().hex, reference=MILITARY_REF)
    error = await refused(getattr(nl.denials, rpc)(request))
    assert_invalid(error, "envelope")
    assert_hub_logged_no_traceback(caplog)


# Reads: references, filters, page tokens and cursors.


def _token(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode()


GET_CASES = [
    ("reference-missing", "", "reference"),
    ("reference-66-chars", "NL-" + "1" * 63, "reference"),
    ("reference-100k-chars", "NL-" + "1" * 100_000, "reference"),
    ("reference-newline", "NL-2026-0042\nGetDenial caller=fr code=OK", "reference"),
    ("reference-no-state-prefix", "2026-0042", "reference"),
]


@pytest.mark.parametrize(
    ("reference", "field"), [pytest.param(r, f, id=case) for case, r, f in GET_CASES]
)
async def test_invalid_get(
    hub: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture, reference: str, field: str
) -> None:
    error = await refused(nl.denials.GetDenial(denial_pb2.GetDenialRequest(reference=reference)))
    assert_invalid(error, field)
    assert_hub_logged_no_traceback(caplog)


LIST_CASES = [
    ("page_token-not-base64", {"page_token": "not a token!"}, "page_token"),
    ("page_token-foreign", {"page_token": _token(b"offset=10")}, "page_token"),
    ("page_token-not-a-number", {"page_token": _token(b"ecx-page:ten")}, "page_token"),
    ("page_token-negative", {"page_token": _token(b"ecx-page:-5")}, "page_token"),
    ("page_token-beyond-int64", {"page_token": _token(b"ecx-page:" + b"9" * 30)}, "page_token"),
    ("page_size-501", {"page_size": 501}, "page_size"),
    ("page_size-uint32-max", {"page_size": 2**32 - 1}, "page_size"),
    ("issuing_state-lowercase", {"issuing_state": "nl"}, "issuing_state"),
    ("issuing_state-name", {"issuing_state": "Netherlands"}, "issuing_state"),
    ("issuing_state-not-iso", {"issuing_state": "ZZ"}, "issuing_state"),
    ("destination_country-not-iso", {"destination_country": "XX"}, "destination_country"),
    ("destination_country-wildcard", {"destination_country": "%"}, "destination_country"),
    ("regime-unknown", {"regime": 9}, "regime"),
    ("status-unknown", {"status": 9}, "status"),
]


@pytest.mark.parametrize(
    ("request_fields", "field"), [pytest.param(r, f, id=case) for case, r, f in LIST_CASES]
)
async def test_invalid_list(
    seeded: RunningHub,
    nl: Wire,
    caplog: pytest.LogCaptureFixture,
    request_fields: dict[str, Any],
    field: str,
) -> None:
    error = await refused(nl.denials.ListDenials(denial_pb2.ListDenialsRequest(**request_fields)))
    assert_invalid(error, field)
    assert_hub_logged_no_traceback(caplog)


SYNC_CASES = [
    ("cursor-letters", {"cursor": "abc"}, "cursor"),
    ("cursor-negative", {"cursor": "-1"}, "cursor"),
    ("cursor-decimal", {"cursor": "1.5"}, "cursor"),
    ("cursor-padded", {"cursor": " 1"}, "cursor"),
    ("cursor-20-digits", {"cursor": "9" * 20}, "cursor"),
    ("cursor-beyond-int64", {"cursor": "9" * 19}, "cursor"),
    ("cursor-superscript-digit", {"cursor": "²"}, "cursor"),
    ("batch_size-too-large", {"batch_size": 1001}, "batch_size"),
]


@pytest.mark.parametrize(
    ("request_fields", "field"), [pytest.param(r, f, id=case) for case, r, f in SYNC_CASES]
)
async def test_invalid_sync(
    seeded: RunningHub,
    nl: Wire,
    caplog: pytest.LogCaptureFixture,
    request_fields: dict[str, Any],
    field: str,
) -> None:
    stream = nl.denials.SyncDenials(denial_pb2.SyncDenialsRequest(**request_fields))
    error = await refused(drained(stream))
    assert_invalid(error, field)
    assert_hub_logged_no_traceback(caplog)


# Greece: the EU writes EL, ISO writes GR; the hub accepts both and stores GR.

COUNTRY_CASES = [
    ("EL", "GR"),
    ("GR", "GR"),
    ("UK", "GB"),
    ("XK", "XK"),
    ("NL", "NL"),
    ("el", None),
    ("Gr", None),
    ("ZZ", None),
    ("GRC", None),
    ("", None),
    ("ＮＬ", None),
]


@pytest.mark.parametrize(
    ("code", "stored"), [pytest.param(c, s, id=c or "empty") for c, s in COUNTRY_CASES]
)
def test_country_normalisation(code: str, stored: str | None) -> None:
    assert normalize_country(code) == stored


def _registry_with_greece(pki: DevPki, dest: Path, greece: Path) -> Path:
    """The dev registry plus a Greek authority, with absolute signing-certificate paths."""
    text = pki.registry.read_text(encoding="utf-8")
    text = re.sub(
        r'signing_certificate = "([^"]+)"',
        lambda m: f'signing_certificate = "{(pki.root / m.group(1)).as_posix()}"',
        text,
    )
    text += (
        "\n[[participant]]\n"
        'id = "gr"\n'
        'member_state = "GR"\n'
        'display_name = "Greece — licensing authority"\n'
        'roles = ["authority"]\n'
        'status = "active"\n'
        f'signing_certificate = "{(greece / "signing-cert.pem").as_posix()}"\n'
    )
    dest.write_text(text, encoding="utf-8")
    return dest


@pytest.fixture
async def hub_with_greece(pki: DevPki, tmp_path: Path) -> AsyncIterator[tuple[RunningHub, Path]]:
    greece = issue_identity(pki.root, "gr", out=tmp_path / "gr")
    registry = _registry_with_greece(pki, tmp_path / "participants.toml", greece)
    store = tmp_path / "greece.db"
    config = dataclasses.replace(hub_config(pki, store), registry=registry)
    clock = FixedClock(START)
    async with Hub(config, clock=clock) as running:
        yield RunningHub(running, pki, clock, store), greece


@pytest.mark.parametrize("written", ["EL", "GR"])
async def test_greece_may_write_el_or_gr(
    hub_with_greece: tuple[RunningHub, Path], caplog: pytest.LogCaptureFixture, written: str
) -> None:
    hub, greece = hub_with_greece
    reference = f"{written}-2026-0007"
    payload = dual_use_payload(reference=reference, state=written, destination_country="TR")
    async with EcxClient(hub.address, Identity.load(greece), timeout=10) as gr:
        denial = await gr.submit_denial(payload)
    assert (denial.issuing_state, denial.signer) == ("GR", "gr")
    async with hub.client("de") as de:
        found = [d.reference async for d in de.list_denials(issuing_state="EL")]
        assert found == [reference]
        assert [d.reference async for d in de.list_denials(issuing_state="GR")] == [reference]
        verified = await de.verify_denial((await de.get_denial(reference)).denial)
    assert verified.issuing_state == written
    assert_hub_logged_no_traceback(caplog)


async def test_greek_reference_from_another_state_is_refused(
    hub: RunningHub, nl: Wire, caplog: pytest.LogCaptureFixture
) -> None:
    payload = _military(reference="EL-2026-0007", issuing_state="EL")
    error = await refused(nl.denials.SubmitDenial(nl.submit_request(payload)))
    assert_invalid(error, "issuing_state")
    assert_hub_logged_no_traceback(caplog)
