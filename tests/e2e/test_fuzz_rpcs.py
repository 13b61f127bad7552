"""Every RPC of the hub, and health, fuzzed over real mTLS with random bytes, mutations of valid
requests (bit flips, truncation, duplication, unknown fields, oversized lengths, deep nesting),
valid requests filled with hostile values, and hostile statements signed by the caller: every
answer is a documented status code, never UNKNOWN or INTERNAL; the hub logs no traceback and
no error; and it still answers a normal call afterwards.

A modest number of examples per method and kind runs in CI; ECX_FUZZ_EXAMPLES=500 runs more.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import os
import threading
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
import pytest
from google.protobuf import message_factory
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from grpc_health.v1 import health_pb2
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certs.devpki import DevPki
from client.api import EcxClient
from client.core.chain import first_link, link_after
from client.core.envelope import (
    CONSULTATION_PAYLOAD_TYPE,
    DENIAL_CHANGE_PAYLOAD_TYPE,
    DENIAL_PAYLOAD_TYPE,
    ENCRYPTION_KEY_PAYLOAD_TYPE,
    NOTICE_PAYLOAD_TYPE,
    sign,
)
from client.core.published_keys import KeyStatement
from client.core.sealing import EncryptionPrivateKey
from client.identity import Identity
from client.notices import NoticeClient
from ecx.v1 import audit_pb2, consultation_pb2, denial_pb2, notice_pb2, participant_pb2
from server.app import SERVICES, Hub
from server.clock import FixedClock
from server.wire import varint
from tests.helpers import (
    START,
    TODAY,
    dual_use_payload,
    following,
    hub_config,
    military_payload,
    party,
)

EXAMPLES = int(os.environ.get("ECX_FUZZ_EXAMPLES", "16"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)

DOCUMENTED = {
    grpc.StatusCode.OK,
    grpc.StatusCode.INVALID_ARGUMENT,
    grpc.StatusCode.NOT_FOUND,
    grpc.StatusCode.PERMISSION_DENIED,
    grpc.StatusCode.FAILED_PRECONDITION,
    grpc.StatusCode.ALREADY_EXISTS,
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    grpc.StatusCode.UNAUTHENTICATED,
}

CALLERS = ("nl", "de", "fr", "commission", "auditor", "operator", "revoked", "stranger")
HEALTH = "/grpc.health.v1.Health/Check"


@dataclass(frozen=True)
class Method:
    path: str
    streaming: bool
    request: type[Message]

    @property
    def name(self) -> str:
        return self.path.rsplit("/", 1)[-1]


METHODS = [
    Method(
        f"/{service.full_name}/{method.name}",
        method.server_streaming,
        message_factory.GetMessageClass(method.input_type),
    )
    for service in SERVICES
    for method in service.methods
] + [Method(HEALTH, False, health_pb2.HealthCheckRequest)]
IDS = [m.name for m in METHODS]

# What each write signs, and as which payload type.
STATEMENTS: dict[str, tuple[type[Message], str]] = {
    "SubmitDenial": (denial_pb2.DenialPayload, DENIAL_PAYLOAD_TYPE),
    "AmendDenial": (denial_pb2.DenialPayload, DENIAL_PAYLOAD_TYPE),
    "RevokeDenial": (denial_pb2.DenialStatusChange, DENIAL_CHANGE_PAYLOAD_TYPE),
    "RenewDenial": (denial_pb2.DenialStatusChange, DENIAL_CHANGE_PAYLOAD_TYPE),
    "OpenConsultation": (consultation_pb2.ConsultationStatement, CONSULTATION_PAYLOAD_TYPE),
    "RespondToConsultation": (consultation_pb2.ConsultationStatement, CONSULTATION_PAYLOAD_TYPE),
    "ExtendConsultation": (consultation_pb2.ConsultationStatement, CONSULTATION_PAYLOAD_TYPE),
    "RecordDecision": (consultation_pb2.ConsultationStatement, CONSULTATION_PAYLOAD_TYPE),
    "PublishEncryptionKey": (participant_pb2.EncryptionKey, ENCRYPTION_KEY_PAYLOAD_TYPE),
    **{
        name: (notice_pb2.NoticeStatement, NOTICE_PAYLOAD_TYPE)
        for name in (
            "ShareNotice",
            "UpdateNotice",
            "WithdrawNotice",
            "AcknowledgeNotice",
            "RequestFurtherSharing",
            "GrantFurtherSharing",
        )
    },
}
WRITES = [m for m in METHODS if m.name in STATEMENTS]

NL_DENIAL = "NL-2026-F001"
NL_NOTICE = "NL-N-2026-F001"
DE_DENIAL = "DE-2026-F001"
CONSULTATION = "DE-C-2026-F001"

_T = TypeVar("_T")


# The hub, on an event loop of its own, called from hypothesis's synchronous tests.


class _Records(logging.Handler):
    """The hub's log records since they were last taken."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self._lock = threading.Lock()
        self._records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            self._records.append(record)

    def take(self) -> list[logging.LogRecord]:
        with self._lock:
            taken, self._records = self._records, []
        return taken


def _problems(records: list[logging.LogRecord]) -> list[str]:
    """Log records that must not follow any request: tracebacks, INTERNAL, errors."""
    found = []
    for record in records:
        text = record.getMessage()
        if (
            record.exc_info
            or record.exc_text
            or record.stack_info
            or record.levelno >= logging.ERROR
            or "Traceback" in text
            or "code=INTERNAL" in text
        ):
            found.append(f"{record.name} {record.levelname}: {text[:500]}")
    return found


@dataclass
class FuzzedHub:
    """One hub over real mTLS, with a channel per participant and valid requests to mutate."""

    loop: asyncio.AbstractEventLoop
    hub: Hub
    records: _Records
    identities: dict[str, Identity]
    channels: dict[str, grpc.aio.Channel] = field(default_factory=dict)
    seeds: dict[str, list[tuple[str, Message]]] = field(default_factory=dict)
    statements: dict[str, list[Message]] = field(default_factory=dict)

    def run(self, coroutine: Coroutine[Any, Any, _T], timeout: float = 120) -> _T:
        return asyncio.run_coroutine_threadsafe(coroutine, self.loop).result(timeout)

    def call(self, caller: str, method: Method, body: bytes) -> tuple[grpc.StatusCode, str]:
        return self.run(_raw_call(self.channels[caller], method, body))

    def expect_documented(self, caller: str, method: Method, body: bytes) -> None:
        """Send the bytes; the answer must be a documented code and the log stay clean."""
        code, details = self.call(caller, method, body)
        problems = _problems(self.records.take())
        assert code in DOCUMENTED, (method.path, caller, code, details, body[:200])
        assert not problems, (method.path, caller, code, problems, body[:200])

    def assert_answers(self) -> None:
        """A normal call still succeeds, and health still says SERVING."""
        code, details = self.call("nl", _method("WhoAmI"), b"")
        assert code == grpc.StatusCode.OK, details
        health = health_pb2.HealthCheckRequest().SerializeToString()
        assert self.call("nl", _method("Check"), health) == (grpc.StatusCode.OK, "")
        assert not _problems(self.records.take())

    def signing_key(self, caller: str) -> Any:
        return self.identities[caller].signing_key


async def _raw_call(
    channel: grpc.aio.Channel, method: Method, body: bytes
) -> tuple[grpc.StatusCode, str]:
    try:
        if method.streaming:
            async for _ in channel.unary_stream(method.path)(body, timeout=60):
                pass
        else:
            await channel.unary_unary(method.path)(body, timeout=60)
    except grpc.aio.AioRpcError as e:
        return e.code(), e.details() or ""
    return grpc.StatusCode.OK, ""


def _method(name: str) -> Method:
    (found,) = [m for m in METHODS if m.name == name]
    return found


def _channel(identity: Identity, address: str) -> grpc.aio.Channel:
    credentials = grpc.ssl_channel_credentials(identity.ca_pem, identity.key_pem, identity.cert_pem)
    return grpc.aio.secure_channel(address, credentials)


def _transaction() -> consultation_pb2.Transaction:
    return consultation_pb2.Transaction(
        regime=denial_pb2.DUAL_USE,
        licence_type=denial_pb2.EXPORT,
        destination_country="RU",
        end_user=party("JSC Radio Engineering Plant", "RU"),
        consignee=party("Technopark Trading LLC", "RU"),
        control_entries=["3B001.f.1"],
        goods_description="Lithography exposure tool",
        end_use="Stated: civil telecommunications",
        quantity="1 unit",
        value_eur=1_700_000,
    )


def _signed(statement: Message, payload_type: str, identity: Identity) -> Any:
    key = identity.signing_key
    assert key is not None
    return sign(statement.SerializeToString(deterministic=True), payload_type, key)


class _Statements(NoticeClient):
    """A notice client that keeps the statements it would send instead of sending them."""

    def __init__(self, client: EcxClient) -> None:
        super().__init__(client)
        self.kept: list[notice_pb2.NoticeStatement] = []

    async def _send(
        self, method: str, statement: notice_pb2.NoticeStatement, request_id: str | None
    ) -> notice_pb2.Notice:
        self.kept.append(statement)
        return notice_pb2.Notice()


async def _notice_statements(
    nl: EcxClient, de: EcxClient
) -> dict[str, tuple[str, notice_pb2.NoticeStatement]]:
    """A notice from NL to DE on the hub, and a valid statement for each notice write."""
    review = TODAY + dt.timedelta(days=365)
    content = notice_pb2.NoticeContent(
        title="Procurement front", parties=[party("Orion Trading FZE", "AE")], destinations=["AE"]
    )
    kind, marking = notice_pb2.END_USER_OF_CONCERN, notice_pb2.SENSITIVE
    shared = await nl.notices.share(
        NL_NOTICE, content, kind=kind, classification=marking, to=["de"], review=review
    )
    by_nl, by_de = _Statements(nl), _Statements(de)
    await by_nl.share(
        "NL-N-2026-F002", content, kind=kind, classification=marking, to=["de"], review=review
    )
    await by_nl.update(NL_NOTICE, content, follows=shared)
    await by_nl.withdraw(NL_NOTICE, "No longer of concern", follows=shared)
    await by_nl.grant(NL_NOTICE, ["fr"], follows=shared)
    await by_de.acknowledge(NL_NOTICE)
    await by_de.request_sharing(NL_NOTICE, ["fr"], "FR licenses the same exporter")
    share, update, withdraw, grant = by_nl.kept
    acknowledge, request = by_de.kept
    return {
        "ShareNotice": ("nl", share),
        "UpdateNotice": ("nl", update),
        "WithdrawNotice": ("nl", withdraw),
        "GrantFurtherSharing": ("nl", grant),
        "AcknowledgeNotice": ("de", acknowledge),
        "RequestFurtherSharing": ("de", request),
    }


async def _prepare(fuzzed: FuzzedHub) -> None:
    """Denials, a consultation and the log entries the seeds name; then one valid request per
    method (with the caller it is valid for) and the statements the writes sign."""
    address = fuzzed.hub.address
    fuzzed.channels = {n: _channel(i, address) for n, i in fuzzed.identities.items()}
    ids = fuzzed.identities
    async with EcxClient(address, ids["nl"]) as nl, EcxClient(address, ids["de"]) as de:
        for name in ("nl", "de", "fr"):
            async with EcxClient(address, ids[name]) as publisher:
                await publisher.publish_encryption_key(
                    ids[name].require_encryption_key(), TODAY + dt.timedelta(days=700)
                )
        notices = await _notice_statements(nl, de)
        listed_notices = await nl._notices.ListNotices(notice_pb2.ListNoticesRequest(page_size=1))
        nl_v1 = await nl.submit_denial(dual_use_payload(NL_DENIAL))
        await de.submit_denial(military_payload(DE_DENIAL, "DE"))
        await nl.submit_denial(dual_use_payload("NL-2026-F002"))
        consultation = await de.consultations.open(
            CONSULTATION, [NL_DENIAL], _transaction(), "Do you maintain it?", "x@example.org"
        )
        page = await nl._denials.ListDenials(denial_pb2.ListDenialsRequest(page_size=1))
        cursor = ""
        async for response in nl.sync_denials(batch_size=1):
            cursor = cursor or response.cursor
        logged = await nl._audit.QueryLog(audit_pb2.QueryLogRequest(page_size=1))
        checkpoint, _ = await nl.audit.checkpoint()
        listed = await de._consultations.ListConsultations(
            consultation_pb2.ListConsultationsRequest(page_size=1)
        )
    size = checkpoint.size
    consulted = link_after(consultation.version, consultation.events[-1].envelope.payload)
    linked = consulted.to_proto()

    def step(reference: str, **step: Message) -> consultation_pb2.ConsultationStatement:
        statement = consultation_pb2.ConsultationStatement(reference=reference, **step)
        statement.link.CopyFrom(linked)
        return statement

    opening = consultation_pb2.ConsultationStatement(
        reference="DE-C-2026-F002",
        opening=consultation_pb2.ConsultationOpening(
            denial_references=[NL_DENIAL],
            transaction=_transaction(),
            message="Another application",
            contact="x@example.org",
        ),
        link=first_link().to_proto(),
    )
    new_denial = dual_use_payload("NL-2026-F900", link=first_link().to_proto())
    amended = dual_use_payload(NL_DENIAL, quantity="3 units", link=following(nl_v1))

    def change(kind: int) -> denial_pb2.DenialStatusChange:
        return denial_pb2.DenialStatusChange(
            reference=NL_DENIAL,
            change=kind,  # type: ignore[arg-type]
            reason="Withdrawn",
            effective_date=TODAY.isoformat(),
            link=following(nl_v1),
        )

    fresh_key = KeyStatement.of(
        EncryptionPrivateKey.generate(), "nl", TODAY + dt.timedelta(days=365)
    ).to_payload()
    statements: dict[str, tuple[str, Message]] = {
        **notices,
        "PublishEncryptionKey": ("nl", participant_pb2.EncryptionKey.FromString(fresh_key)),
        "SubmitDenial": ("nl", new_denial),
        "AmendDenial": ("nl", amended),
        "RevokeDenial": ("nl", change(denial_pb2.REVOKE)),
        "RenewDenial": ("nl", change(denial_pb2.RENEW)),
        "OpenConsultation": ("de", opening),
        "RespondToConsultation": (
            "nl",
            step(
                CONSULTATION,
                answer=consultation_pb2.ConsultationAnswer(
                    position=consultation_pb2.DENIAL_MAINTAINED, explanation="Still valid"
                ),
            ),
        ),
        "ExtendConsultation": (
            "nl",
            step(
                CONSULTATION,
                extension=consultation_pb2.DeadlineExtension(
                    new_deadline=(TODAY + dt.timedelta(days=30)).isoformat(), reason="More time"
                ),
            ),
        ),
        "RecordDecision": (
            "de",
            step(
                CONSULTATION,
                decision=consultation_pb2.ConsultationDecision(
                    decision=consultation_pb2.DENIED, reasoning="Refused"
                ),
            ),
        ),
    }
    seeds: dict[str, list[tuple[str, Message]]] = {
        "WhoAmI": [("nl", _method("WhoAmI").request())],
        "ListParticipants": [("de", _method("ListParticipants").request())],
        "GetDenial": [
            ("nl", denial_pb2.GetDenialRequest(reference=NL_DENIAL, include_versions=True))
        ],
        "ListDenials": [
            ("nl", denial_pb2.ListDenialsRequest(page_size=1, page_token=page.next_page_token)),
            ("commission", denial_pb2.ListDenialsRequest(issuing_state="NL", regime=2)),
        ],
        "SyncDenials": [("nl", denial_pb2.SyncDenialsRequest(cursor=cursor, batch_size=1))],
        "GetCheckpoint": [("auditor", audit_pb2.GetCheckpointRequest())],
        "GetInclusionProof": [
            ("auditor", audit_pb2.GetInclusionProofRequest(leaf_index=1, tree_size=size))
        ],
        "GetConsistencyProof": [
            ("auditor", audit_pb2.GetConsistencyProofRequest(first_size=1, second_size=size))
        ],
        "GetEntries": [("auditor", audit_pb2.GetEntriesRequest(start=0, end=size))],
        "QueryLog": [
            ("nl", audit_pb2.QueryLogRequest(page_size=1, page_token=logged.next_page_token)),
            ("auditor", audit_pb2.QueryLogRequest(actor="nl", action="SubmitDenial")),
        ],
        "ScreenTransaction": [
            ("de", consultation_pb2.ScreenTransactionRequest(transaction=_transaction()))
        ],
        "GetConsultation": [
            ("nl", consultation_pb2.GetConsultationRequest(reference=CONSULTATION))
        ],
        "ListConsultations": [
            (
                "de",
                consultation_pb2.ListConsultationsRequest(
                    page_size=1, page_token=listed.next_page_token
                ),
            )
        ],
        "Check": [("nl", health_pb2.HealthCheckRequest(service="ecx.v1.DenialService"))],
        "GetNotice": [("de", notice_pb2.GetNoticeRequest(reference=NL_NOTICE))],
        "ListNotices": [
            ("nl", notice_pb2.ListNoticesRequest(page_size=1)),
            (
                "de",
                notice_pb2.ListNoticesRequest(
                    page_size=1, page_token=listed_notices.next_page_token
                ),
            ),
        ],
    }
    for name, (signer, statement) in statements.items():
        request_class = _method(name).request
        payload_type = STATEMENTS[name][1]
        request = request_class(
            request_id=f"fuzz-seed-{name}", envelope=_signed(statement, payload_type, ids[signer])
        )
        if "reference" in request_class.DESCRIPTOR.fields_by_name:
            request.reference = NL_DENIAL  # type: ignore[attr-defined]
        seeds[name] = [(signer, request)]
        fuzzed.statements[name] = [statement]
    assert set(seeds) == {m.name for m in METHODS}
    fuzzed.seeds = seeds


@pytest.fixture(scope="module")
def fuzzed(pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FuzzedHub]:
    """A hub that refuses as often as asked (the fuzz is all refusals), on a loop in a thread."""
    store: Path = tmp_path_factory.mktemp("fuzz") / "ecx.db"
    config = hub_config(pki, store, refusal_burst=1_000_000, refusals_per_minute=1_000_000)
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="fuzzed-hub", daemon=True)
    thread.start()
    records = _Records()
    root = logging.getLogger()
    level = root.level
    root.addHandler(records)
    root.setLevel(logging.INFO)
    identities = {name: Identity.load(pki.identity(name)) for name in CALLERS}
    hub = Hub(config, clock=FixedClock(START))
    fuzzed = FuzzedHub(loop, hub, records, identities)
    try:
        fuzzed.run(hub.start())
        fuzzed.run(_prepare(fuzzed))
        assert not _problems(records.take())
        yield fuzzed
    finally:
        with contextlib.suppress(Exception):
            for channel in fuzzed.channels.values():
                fuzzed.run(channel.close())
            fuzzed.run(hub.stop())
        loop.call_soon_threadsafe(loop.stop)
        thread.join(30)
        loop.close()
        root.removeHandler(records)
        root.setLevel(level)


# Hostile values


_SPECIAL_TEXT = [
    "",
    " ",
    "\x00",
    "\x00NL-2026-F001",
    "NL-2026-F001\n",
    "NL-2026-F001\r\nGetDenial caller=fr code=OK",
    "\u202eNL-2026-F001",
    "NL-2026-F001\u200b",
    "\ufeffNL",
    "ＮＬ-２０２６-Ｆ００１",
    NL_DENIAL,
    DE_DENIAL,
    CONSULTATION,
    "NL-2026-F002",
    "NL-" + "9" * 63,
    "nl",
    "de",
    "commission",
    "NL",
    "EL",
    "GR",
    "XK",
    "ZZ",
    "ru",
    "2026-11-28",
    "2026-02-29",
    "0001-01-01",
    "9999-12-31",
    "2026-11-28T00:00:00Z",
    "3B001.f.1",
    "ML2.a",
    "%",
    "_",
    "*",
    "'; DROP TABLE denials; --",
    "../../../../etc/passwd",
    "${jndi:ldap://x}",
    "{{7*7}}",
    "9223372036854775807",
    "-9223372036854775808",
    "18446744073709551616",
    "NaN",
    "application/vnd.ecx.denial+protobuf",
    "\U0001f600" * 4000,
    "A" * 70_000,
    "ẞ" * 30_000,
    "Marakane " * 300,
    "A" * 1_100_000,  # over the hub's message limit
]

_INVISIBLE = st.characters(categories=("Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me", "Co"))
TEXT = st.one_of(
    st.sampled_from(_SPECIAL_TEXT),
    st.text(max_size=40),
    st.text(_INVISIBLE, max_size=40),
    st.builds(
        str.__mul__,
        st.sampled_from(["A", "é", "\u200b", "NL ", "\u0301", "\U0001f600", "A\x00"]),
        st.integers(1, 20_000),
    ),
)
BYTES = st.one_of(
    st.binary(max_size=96),
    st.sampled_from([b"", b"\x00" * 64, b"\xff" * 64, b"\x00" * 200_000]),
)

_RANGES = {
    FieldDescriptor.TYPE_INT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SINT32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_SFIXED32: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_ENUM: (-(2**31), 2**31 - 1),
    FieldDescriptor.TYPE_INT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SINT64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_SFIXED64: (-(2**63), 2**63 - 1),
    FieldDescriptor.TYPE_UINT32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_FIXED32: (0, 2**32 - 1),
    FieldDescriptor.TYPE_UINT64: (0, 2**64 - 1),
    FieldDescriptor.TYPE_FIXED64: (0, 2**64 - 1),
}


def _integers(low: int, high: int, known: list[int]) -> st.SearchStrategy[int]:
    edges = {low, high, low + 1, high - 1, 0, 1, 2, 3, 100, 2**31 - 1, 2**32 - 1, 2**53 + 1}
    edges |= {-1, -(2**31), -(2**63)}
    in_range = sorted(v for v in edges | set(known) if low <= v <= high)
    return st.one_of(st.sampled_from(in_range), st.integers(low, high), st.integers(0, 1100))


def _scalar(descriptor: FieldDescriptor) -> st.SearchStrategy[Any]:
    kind = descriptor.type
    if kind == FieldDescriptor.TYPE_STRING:
        return TEXT
    if kind == FieldDescriptor.TYPE_BYTES:
        return BYTES
    if kind == FieldDescriptor.TYPE_BOOL:
        return st.booleans()
    if kind == FieldDescriptor.TYPE_DOUBLE:
        return st.floats()
    if kind == FieldDescriptor.TYPE_FLOAT:
        return st.floats(width=32)
    known = [v.number for v in descriptor.enum_type.values] if descriptor.enum_type else []
    return _integers(*_RANGES[kind], known)


def fill(data: st.DataObject, message: Message, depth: int = 4) -> Message:
    """Set some fields of `message` (kept otherwise) to hostile values, nested ones too."""
    descriptor: Descriptor = message.DESCRIPTOR
    for f in descriptor.fields:
        if data.draw(st.integers(0, 3), label=f"touch {f.full_name}") != 0:
            continue
        value = getattr(message, f.name)
        is_message = f.type == FieldDescriptor.TYPE_MESSAGE
        if f.is_repeated:
            if is_message and f.message_type.GetOptions().map_entry:
                continue
            if data.draw(st.booleans(), label="clear"):
                del value[:]
            count = data.draw(st.sampled_from([0, 1, 2, 3, 50, 1000]), label="count")
            if is_message:
                for _ in range(min(count, 3) if depth <= 0 else count // 50 + min(count, 3)):
                    item = value.add()
                    if depth > 0:
                        fill(data, item, depth - 1)
            elif count <= 3:
                with contextlib.suppress(ValueError, TypeError):
                    value.extend(data.draw(st.lists(_scalar(f), min_size=count, max_size=count)))
            else:
                one = data.draw(_scalar(f), label=f.name)
                with contextlib.suppress(ValueError, TypeError):
                    value.extend([one[:100] if isinstance(one, str | bytes) else one] * count)
        elif is_message:
            value.SetInParent()
            if depth > 0:
                fill(data, value, depth - 1)
        else:
            with contextlib.suppress(ValueError, TypeError):
                setattr(message, f.name, data.draw(_scalar(f), label=f.name))
    return message


# Mutations of valid request bytes


def _key(number: int, wire_type: int) -> bytes:
    return varint(number << 3 | wire_type)


def _unknown_field(data: st.DataObject) -> bytes:
    number = data.draw(st.one_of(st.integers(1, 20), st.integers(1, 2**29 - 1)), label="field")
    wire_type = data.draw(st.sampled_from([0, 1, 2, 3, 4, 5, 6, 7]), label="wire type")
    if wire_type == 0:
        return _key(number, 0) + varint(data.draw(st.integers(0, 2**64 - 1)))
    if wire_type == 1:
        return _key(number, 1) + data.draw(st.binary(min_size=8, max_size=8))
    if wire_type == 2:
        value = data.draw(st.binary(max_size=64))
        return _key(number, 2) + varint(len(value)) + value
    if wire_type == 5:
        return _key(number, 5) + data.draw(st.binary(min_size=4, max_size=4))
    return _key(number, wire_type)  # groups, and the two wire types that do not exist


def _mutated(data: st.DataObject, raw: bytes, others: list[bytes]) -> bytes:
    for _ in range(data.draw(st.integers(1, 4), label="mutations")):
        kind = data.draw(
            st.sampled_from(
                ["flip", "truncate", "duplicate", "unknown", "oversized", "nest", "group", "splice"]
            ),
            label="mutation",
        )
        at = data.draw(st.integers(0, len(raw)), label="at")
        if kind == "flip" and raw:
            i = min(at, len(raw) - 1)
            bit = data.draw(st.integers(0, 7), label="bit")
            raw = raw[:i] + bytes([raw[i] ^ 1 << bit]) + raw[i + 1 :]
        elif kind == "truncate":
            raw = raw[:at]
        elif kind == "duplicate":
            end = data.draw(st.integers(at, len(raw)), label="end")
            raw = raw[:end] + raw[at:end] + raw[end:] if end > at else raw + raw
        elif kind == "unknown":
            raw = raw[:at] + _unknown_field(data) + raw[at:]
        elif kind == "oversized":
            number = data.draw(st.integers(1, 12), label="field")
            length = data.draw(st.sampled_from([len(raw) + 1, 2**31, 2**32 + 5, 2**63, 2**64 - 1]))
            raw = raw[:at] + _key(number, 2) + varint(length) + raw[at:]
        elif kind == "nest":
            number = data.draw(st.integers(1, 12), label="field")
            for _ in range(data.draw(st.sampled_from([1, 2, 50, 99, 100, 101, 1000]))):
                raw = _key(number, 2) + varint(len(raw)) + raw
        elif kind == "group":
            number = data.draw(st.integers(1, 99), label="field")
            depth = data.draw(st.sampled_from([1, 64, 100, 101, 5000]), label="depth")
            closed = data.draw(st.booleans(), label="closed")
            raw = _key(number, 3) * depth + raw + (_key(number, 4) * depth if closed else b"")
        elif kind == "splice":
            raw = raw[:at] + data.draw(st.sampled_from(others), label="other")
    return raw


# The fuzz


def _caller(data: st.DataObject, usual: str) -> str:
    return data.draw(st.sampled_from([usual, usual, usual, *CALLERS]), label="caller")


def _seed(fuzzed: FuzzedHub, data: st.DataObject, method: Method) -> tuple[str, Message]:
    return data.draw(st.sampled_from(fuzzed.seeds[method.name]), label="seed")


def _all_seed_bytes(fuzzed: FuzzedHub) -> list[bytes]:
    return [s.SerializeToString() for seeds in fuzzed.seeds.values() for _, s in seeds]


def _fuzz(fuzzed: FuzzedHub, example: Callable[[st.DataObject], None]) -> None:
    @FUZZ
    @given(data=st.data())
    def run(data: st.DataObject) -> None:
        example(data)

    run()
    fuzzed.assert_answers()


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_random_bytes(fuzzed: FuzzedHub, method: Method) -> None:
    def example(data: st.DataObject) -> None:
        body = data.draw(st.binary(max_size=2048), label="body")
        fuzzed.expect_documented(_caller(data, "nl"), method, body)

    _fuzz(fuzzed, example)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_mutated_valid_requests(fuzzed: FuzzedHub, method: Method) -> None:
    others = _all_seed_bytes(fuzzed)

    def example(data: st.DataObject) -> None:
        usual, seed = _seed(fuzzed, data, method)
        body = _mutated(data, seed.SerializeToString(), others)
        fuzzed.expect_documented(_caller(data, usual), method, body)

    _fuzz(fuzzed, example)


@pytest.mark.parametrize("method", METHODS, ids=IDS)
def test_valid_requests_with_hostile_values(fuzzed: FuzzedHub, method: Method) -> None:
    def example(data: st.DataObject) -> None:
        usual, seed = _seed(fuzzed, data, method)
        request = method.request()
        if data.draw(st.booleans(), label="from the seed"):
            request.CopyFrom(seed)
        body = fill(data, request).SerializeToString()
        fuzzed.expect_documented(_caller(data, usual), method, body)

    _fuzz(fuzzed, example)


@pytest.mark.parametrize("method", WRITES, ids=[m.name for m in WRITES])
def test_hostile_statements_signed_by_the_caller(fuzzed: FuzzedHub, method: Method) -> None:
    """Past the signature check: what the domain rules see."""
    statement_class, payload_type = STATEMENTS[method.name]
    others = _all_seed_bytes(fuzzed)

    def example(data: st.DataObject) -> None:
        usual, seed = _seed(fuzzed, data, method)
        caller = usual if data.draw(st.integers(0, 3), label="usual") else _caller(data, usual)
        key = fuzzed.signing_key(caller)
        if key is None:
            caller, key = usual, fuzzed.signing_key(usual)
        statement = statement_class()
        statement.CopyFrom(data.draw(st.sampled_from(fuzzed.statements[method.name])))
        how = data.draw(st.sampled_from(["hostile", "mutated", "random"]), label="payload")
        if how == "hostile":
            payload = fill(data, statement).SerializeToString(deterministic=True)
        elif how == "mutated":
            payload = _mutated(data, statement.SerializeToString(deterministic=True), others)
        else:
            payload = data.draw(st.binary(max_size=512), label="payload bytes")
        signed_as = payload_type
        if data.draw(st.integers(0, 9), label="hostile payload type") == 0:
            signed_as = data.draw(TEXT, label="payload type")
        request = method.request()
        request.CopyFrom(seed)
        request.envelope.CopyFrom(sign(payload, signed_as, key))  # type: ignore[attr-defined]
        if data.draw(st.booleans(), label="fresh request id"):
            request.request_id = f"fuzz-{data.draw(st.integers(0, 10**9))}"  # type: ignore[attr-defined]
        if data.draw(st.integers(0, 3), label="hostile request") == 0:
            fill(data, request, depth=1)
        fuzzed.expect_documented(caller, method, request.SerializeToString())

    _fuzz(fuzzed, example)
