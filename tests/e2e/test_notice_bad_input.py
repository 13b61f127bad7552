"""What a confused user or an attacker can send to NoticeService, and what the hub answers.

The hub cannot read a notice, but it checks everything that decides who may read what: the
marking (nothing above RESTREINT UE), the kind, the recipients, one key wrap per recipient to
its current published key, the review date, the sealed content's form, and each statement's
place in the notice's history. Every invalid field gets INVALID_ARGUMENT with a
google.rpc.BadRequest violation naming it; a statement signed by another participant than the
caller is PERMISSION_DENIED; none of it stores anything or makes the hub log a traceback.
Requests are raw NoticeStepRequests on the generated stub, each signed by the sender's own
signing key, since the client library would not build most of them.
"""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import grpc
import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from certs.devpki import DevPki
from client.core.chain import first_link, link_after
from client.core.envelope import DENIAL_PAYLOAD_TYPE, NOTICE_PAYLOAD_TYPE, SigningKey, sign
from client.core.notices import grant_wraps, seal_version
from client.core.sealing import EncryptionPrivateKey, RecipientKey
from client.errors import RemoteError
from ecx.v1 import common_pb2, notice_pb2, notice_pb2_grpc
from server.domain.denials import add_years
from tests.helpers import TODAY, RunningHub, store_rows
from tests.notice_support import KEYS_VALID_UNTIL, RECIPIENTS, REVIEW, content, notice_hub

INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED
FAILED_PRECONDITION = grpc.StatusCode.FAILED_PRECONDITION

REF = "NL-N-2026-0001"  # shared by nl with de alone, version 1
NEW = "NL-N-2026-0100"

SHARE = "ShareNotice"
UPDATE = "UpdateNotice"
WITHDRAW = "WithdrawNotice"
GRANT = "GrantFurtherSharing"
ACK = "AcknowledgeNotice"
ASK = "RequestFurtherSharing"
STEP_METHODS = [SHARE, UPDATE, WITHDRAW, GRANT, ACK, ASK]

# Who sends what, when nothing is wrong with it: the originator its own steps, the recipient
# its replies.
SENDER = {SHARE: "nl", UPDATE: "nl", WITHDRAW: "nl", GRANT: "nl", ACK: "de", ASK: "de"}

VERSION = "envelope.payload.version"
GRANTED = "envelope.payload.grant"
ACKED = "envelope.payload.acknowledgement"
ASKED = "envelope.payload.request"
LINK = "envelope.payload.link"
REFERENCE = "envelope.payload.reference"

# Tables counted to show that a refused request stored nothing.
TABLES = (
    "notices",
    "notice_steps",
    "notice_readers",
    "notice_replies",
    "idempotency",
    "encryption_keys",
)


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
class Scene:
    """nl's notice REF to de, as nl reads it, and what statements about it need."""

    notice: notice_pb2.Notice
    content_key: bytes
    content_sha256: bytes
    keys: dict[str, RecipientKey]

    def following(self) -> common_pb2.VersionLink:
        return link_after(1, self.notice.steps[0].envelope.payload).to_proto()


@dataclasses.dataclass(frozen=True)
class Wire:
    """A participant's own mTLS channel with the raw NoticeService stub and its signing key."""

    stub: Any
    key: SigningKey

    def envelope(self, data: bytes, payload_type: str = NOTICE_PAYLOAD_TYPE) -> common_pb2.Envelope:
        return sign(data, payload_type, self.key)

    def step(
        self, statement: notice_pb2.NoticeStatement, *, request_id: str | None = None
    ) -> notice_pb2.NoticeStepRequest:
        return notice_pb2.NoticeStepRequest(
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
        yield Wire(notice_pb2_grpc.NoticeServiceStub(channel), identity.require_signing_key())


def counts(hub: RunningHub) -> dict[str, object]:
    """Rows in each table of TABLES."""
    return {t: store_rows(hub.store_path, f"SELECT COUNT(*) FROM {t}")[0][0] for t in TABLES}


@dataclasses.dataclass
class Bench:
    """The hub with nl's notice, a wire per participant, and the store as it stood."""

    hub: RunningHub
    scene: Scene
    wires: dict[str, Wire]
    stored: dict[str, object]

    async def assert_nothing_changed(self) -> None:
        """The notice reads as first recorded, and no table of notices, replies, readers,
        request ids or keys holds a row more."""
        async with self.hub.client("nl") as nl:
            assert await nl.notices.get(REF) == self.scene.notice
        assert counts(self.hub) == self.stored
        readers = store_rows(self.hub.store_path, "SELECT participant FROM notice_readers")
        assert readers == [("de",)]


@pytest.fixture
async def bench(pki: DevPki, tmp_path: Path) -> AsyncIterator[Bench]:
    async with notice_hub(pki, tmp_path) as hub:
        async with hub.client("nl") as nl:
            shared = await nl.notices.share(
                REF,
                content(),
                kind=notice_pb2.END_USER_OF_CONCERN,
                classification=notice_pb2.RESTREINT_UE,
                to=["de"],
                review=REVIEW,
            )
            opened = await nl.notices.open(shared)
            current = await nl.notices.get(REF)
        keys = {r: hub.identity(r).require_encryption_key().recipient(r) for r in RECIPIENTS}
        scene = Scene(current, opened.content_key, opened.content_sha256, keys)
        async with contextlib.AsyncExitStack() as stack:
            wires = {
                name: await stack.enter_async_context(open_wire(hub, name))
                for name in ("nl", "de", "fr")
            }
            yield Bench(hub, scene, wires, counts(hub))


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


# Valid statements; each case below changes one thing.

Build = Callable[[Scene], notice_pb2.NoticeStatement]


def sealed_version(
    s: Scene,
    reference: str,
    number: int,
    *,
    kind: int = notice_pb2.END_USER_OF_CONCERN,
    classification: int = notice_pb2.RESTREINT_UE,
    recipients: Sequence[str] = ("de",),
    to_all: bool = False,
    review: str = REVIEW.isoformat(),
    wrap_for: Sequence[str] | None = None,
    keys: dict[str, RecipientKey] | None = None,
) -> notice_pb2.NoticeVersion:
    """A version sealed as nl's client seals it: to each of `wrap_for` (by default every
    recipient that has a key) and to nl's own key."""
    keys = {**s.keys, **(keys or {})}
    wrapped = [r for r in recipients if r in keys] if wrap_for is None else list(wrap_for)
    sealed = seal_version(
        content(),
        reference=reference,
        version=number,
        originator="nl",
        recipients=[keys[r] for r in wrapped],
        own_key=keys["nl"],
    )
    return notice_pb2.NoticeVersion(
        kind=kind,  # type: ignore[arg-type]
        classification=classification,  # type: ignore[arg-type]
        recipients=recipients,
        to_all=to_all,
        review_date=review,
        ciphertext=sealed.ciphertext,
        content_sha256=sealed.content_sha256,
        wraps=sealed.wraps,
    )


def share(
    s: Scene,
    reference: str = NEW,
    *,
    link: common_pb2.VersionLink | None = None,
    **version: Any,
) -> notice_pb2.NoticeStatement:
    return notice_pb2.NoticeStatement(
        reference=reference,
        link=link or first_link().to_proto(),
        version=sealed_version(s, reference, 1, **version),
    )


def update(
    s: Scene, *, link: common_pb2.VersionLink | None = None, **version: Any
) -> notice_pb2.NoticeStatement:
    return notice_pb2.NoticeStatement(
        reference=REF, link=link or s.following(), version=sealed_version(s, REF, 2, **version)
    )


def withdrawal(s: Scene, reason: str = "The end-user was delisted") -> notice_pb2.NoticeStatement:
    return notice_pb2.NoticeStatement(
        reference=REF,
        link=s.following(),
        withdrawal=notice_pb2.NoticeWithdrawal(reason=reason),
    )


def grant(
    s: Scene,
    recipients: Sequence[str] = ("fr",),
    *,
    content_version: int = 1,
    answers: Sequence[int] = (),
    wrap_for: Sequence[str] | None = None,
) -> notice_pb2.NoticeStatement:
    wrapped = [r for r in recipients if r in s.keys] if wrap_for is None else list(wrap_for)
    wraps = grant_wraps(
        s.content_key,
        reference=REF,
        statement_version=2,
        originator="nl",
        content_version=1,
        content_sha256=s.content_sha256,
        recipients=[s.keys[r] for r in wrapped],
    )
    return notice_pb2.NoticeStatement(
        reference=REF,
        link=s.following(),
        grant=notice_pb2.SharingGrant(
            content_version=content_version, recipients=recipients, wraps=wraps, answers=answers
        ),
    )


def acknowledgement(
    s: Scene, version: int = 1, digest: bytes | None = None
) -> notice_pb2.NoticeStatement:
    return notice_pb2.NoticeStatement(
        reference=REF,
        acknowledgement=notice_pb2.Acknowledgement(
            version=version, content_sha256=s.content_sha256 if digest is None else digest
        ),
    )


def sharing_request(
    s: Scene,
    recipients: Sequence[str] = ("fr",),
    *,
    version: int = 1,
    reason: str = "FR licenses exports to the same end-user",
) -> notice_pb2.NoticeStatement:
    return notice_pb2.NoticeStatement(
        reference=REF,
        request=notice_pb2.SharingRequest(version=version, recipients=recipients, reason=reason),
    )


def edited(build: Build, change: Callable[[notice_pb2.NoticeStatement], object]) -> Build:
    """`build`, then one change to what it built."""

    def made(s: Scene) -> notice_pb2.NoticeStatement:
        statement = build(s)
        change(statement)
        return statement

    return made


def _clear(field: str) -> Callable[[notice_pb2.NoticeStatement], object]:
    return lambda statement: statement.ClearField(field)


def _set_wrap(index: int, **values: Any) -> Callable[[notice_pb2.NoticeStatement], object]:
    def change(statement: notice_pb2.NoticeStatement) -> None:
        for name, value in values.items():
            setattr(statement.version.wraps[index], name, value)

    return change


def _set_version(**values: Any) -> Callable[[notice_pb2.NoticeStatement], object]:
    def change(statement: notice_pb2.NoticeStatement) -> None:
        for name, value in values.items():
            setattr(statement.version, name, value)

    return change


def _link(version: int, previous: bytes = b"") -> common_pb2.VersionLink:
    return common_pb2.VersionLink(version=version, previous_sha256=previous)


AUTHORITIES_BUT_NL = ["de", "es", "fr", "it"]
EVERYONE_BUT_NL = [r for r in RECIPIENTS if r != "nl"]
TOO_FAR = add_years(TODAY, 2) + dt.timedelta(days=1)

# (case, RPC, statement, field)
STEP_CASES: list[tuple[str, str, Build, str]] = [
    # The marking and the kind.
    (
        "classification-unspecified",
        SHARE,
        lambda s: share(s, classification=notice_pb2.CLASSIFICATION_UNSPECIFIED),
        f"{VERSION}.classification",
    ),
    (
        "classification-unknown-number",
        SHARE,
        lambda s: share(s, classification=9),
        f"{VERSION}.classification",
    ),
    (
        "kind-unspecified",
        SHARE,
        lambda s: share(s, kind=notice_pb2.NOTICE_KIND_UNSPECIFIED),
        f"{VERSION}.kind",
    ),
    ("kind-unknown-number", SHARE, lambda s: share(s, kind=42), f"{VERSION}.kind"),
    (
        "update-kind-unspecified",
        UPDATE,
        lambda s: update(s, kind=notice_pb2.NOTICE_KIND_UNSPECIFIED),
        f"{VERSION}.kind",
    ),
    # Recipients.
    (
        "recipient-unknown-id",
        SHARE,
        lambda s: share(s, recipients=["de", "pl"]),
        f"{VERSION}.recipients[1]",
    ),
    (
        "recipient-the-auditor",
        SHARE,
        lambda s: share(s, recipients=["auditor", "de"]),
        f"{VERSION}.recipients[0]",
    ),
    (
        "recipient-the-operator",
        SHARE,
        lambda s: share(s, recipients=["de", "operator"]),
        f"{VERSION}.recipients[1]",
    ),
    (
        "recipient-a-suspended-authority",
        SHARE,
        lambda s: share(s, recipients=["de", "revoked"]),
        f"{VERSION}.recipients[1]",
    ),
    (
        "recipient-the-originator",
        SHARE,
        lambda s: share(s, recipients=["de", "nl"], wrap_for=["de"]),
        f"{VERSION}.recipients[1]",
    ),
    ("recipients-empty", SHARE, lambda s: share(s, recipients=[]), f"{VERSION}.recipients"),
    (
        "recipients-unsorted",
        SHARE,
        lambda s: share(s, recipients=["fr", "de"]),
        f"{VERSION}.recipients",
    ),
    (
        "recipients-repeated",
        SHARE,
        lambda s: share(s, recipients=["de", "de"], wrap_for=["de"]),
        f"{VERSION}.recipients",
    ),
    (
        "to_all-with-a-partial-list",
        SHARE,
        lambda s: share(s, recipients=["de", "fr"], to_all=True),
        f"{VERSION}.recipients",
    ),
    (
        "to_all-naming-the-commission-for-a-non-broadcast",
        SHARE,
        lambda s: share(s, recipients=EVERYONE_BUT_NL, to_all=True),
        f"{VERSION}.recipients",
    ),
    (
        "catch-all-broadcast-to-a-list",
        SHARE,
        lambda s: share(s, kind=notice_pb2.CATCH_ALL_DECISION, recipients=["de"]),
        f"{VERSION}.recipients",
    ),
    (
        "national-measure-to-a-list",
        SHARE,
        lambda s: share(s, kind=notice_pb2.NATIONAL_MEASURE, recipients=["de", "fr"]),
        f"{VERSION}.recipients",
    ),
    (
        "transit-prohibition-to-every-list-member-not-to_all",
        SHARE,
        lambda s: share(s, kind=notice_pb2.TRANSIT_PROHIBITION, recipients=EVERYONE_BUT_NL),
        f"{VERSION}.recipients",
    ),
    (
        "broadcast-to_all-without-the-commission",
        SHARE,
        lambda s: share(
            s, kind=notice_pb2.NATIONAL_MEASURE, recipients=AUTHORITIES_BUT_NL, to_all=True
        ),
        f"{VERSION}.recipients",
    ),
    (
        "update-to-the-originator",
        UPDATE,
        lambda s: update(s, recipients=["de", "nl"], wrap_for=["de"]),
        f"{VERSION}.recipients[1]",
    ),
    # Key wraps.
    (
        "wrap-missing-for-a-recipient",
        SHARE,
        lambda s: share(s, recipients=["de", "fr"], wrap_for=["de"]),
        f"{VERSION}.wraps",
    ),
    (
        "wrap-for-a-non-recipient",
        SHARE,
        lambda s: share(s, recipients=["de"], wrap_for=["de", "fr"]),
        f"{VERSION}.wraps",
    ),
    (
        "two-wraps-for-one-recipient",
        SHARE,
        lambda s: share(s, recipients=["de"], wrap_for=["de", "de"]),
        f"{VERSION}.wraps",
    ),
    (
        "wrap-key_id-of-no-key",
        SHARE,
        edited(share, _set_wrap(0, key_id="0" * 64)),
        f"{VERSION}.wraps[0].key_id",
    ),
    ("wrap-enc-empty", SHARE, edited(share, _set_wrap(0, enc=b"")), f"{VERSION}.wraps[0].enc"),
    (
        "wrap-enc-2049-bytes",
        SHARE,
        edited(share, _set_wrap(0, enc=b"\x01" * 2049)),
        f"{VERSION}.wraps[0].enc",
    ),
    (
        "wrap-wrapped_key-empty",
        SHARE,
        edited(share, _set_wrap(0, wrapped_key=b"")),
        f"{VERSION}.wraps[0].wrapped_key",
    ),
    (
        "update-wrap-missing",
        UPDATE,
        lambda s: update(s, recipients=["de", "fr"], wrap_for=["fr"]),
        f"{VERSION}.wraps",
    ),
    # Review date.
    (
        "review_date-yesterday",
        SHARE,
        lambda s: share(s, review=(TODAY - dt.timedelta(days=1)).isoformat()),
        f"{VERSION}.review_date",
    ),
    (
        "review_date-two-years-and-a-day-ahead",
        SHARE,
        lambda s: share(s, review=TOO_FAR.isoformat()),
        f"{VERSION}.review_date",
    ),
    ("review_date-empty", SHARE, lambda s: share(s, review=""), f"{VERSION}.review_date"),
    (
        "review_date-day-first",
        SHARE,
        lambda s: share(s, review="28/11/2027"),
        f"{VERSION}.review_date",
    ),
    (
        "review_date-february-30",
        SHARE,
        lambda s: share(s, review="2027-02-30"),
        f"{VERSION}.review_date",
    ),
    (
        "review_date-with-time",
        SHARE,
        lambda s: share(s, review="2027-06-01T00:00:00Z"),
        f"{VERSION}.review_date",
    ),
    (
        "update-review_date-in-the-past",
        UPDATE,
        lambda s: update(s, review="2020-01-01"),
        f"{VERSION}.review_date",
    ),
    # The sealed content.
    (
        "ciphertext-empty",
        SHARE,
        edited(share, _set_version(ciphertext=b"")),
        f"{VERSION}.ciphertext",
    ),
    (
        "ciphertext-over-256-KiB",
        SHARE,
        edited(share, _set_version(ciphertext=b"\x00" * (256 * 1024 + 1))),
        f"{VERSION}.ciphertext",
    ),
    (
        "content_sha256-31-bytes",
        SHARE,
        edited(share, _set_version(content_sha256=b"\x01" * 31)),
        f"{VERSION}.content_sha256",
    ),
    (
        "content_sha256-empty",
        SHARE,
        edited(share, _set_version(content_sha256=b"")),
        f"{VERSION}.content_sha256",
    ),
    # The reference, chosen by the originator and prefixed by its state.
    ("reference-of-another-state", SHARE, lambda s: share(s, "DE-N-2026-0100"), REFERENCE),
    ("reference-missing", SHARE, lambda s: share(s, ""), REFERENCE),
    ("reference-no-state-prefix", SHARE, lambda s: share(s, "N-2026-0100"), REFERENCE),
    ("reference-lowercase-prefix", SHARE, lambda s: share(s, "nl-N-2026-0100"), REFERENCE),
    ("reference-66-chars", SHARE, lambda s: share(s, "NL-" + "1" * 63), REFERENCE),
    # The link: the originator's statements chain; replies stand outside the chain.
    ("share-link-missing", SHARE, edited(share, _clear("link")), LINK),
    (
        "share-link-version-2",
        SHARE,
        lambda s: share(s, link=_link(2, b"\x01" * 32)),
        f"{LINK}.version",
    ),
    ("share-link-version-0", SHARE, lambda s: share(s, link=_link(0)), f"{LINK}.version"),
    (
        "share-link-version-1-following-something",
        SHARE,
        lambda s: share(s, link=_link(1, b"\x01" * 32)),
        f"{LINK}.previous_sha256",
    ),
    ("update-link-missing", UPDATE, edited(update, _clear("link")), LINK),
    ("update-link-version-1", UPDATE, lambda s: update(s, link=_link(1)), f"{LINK}.version"),
    (
        "update-link-previous-short",
        UPDATE,
        lambda s: update(s, link=_link(2, b"\x01" * 31)),
        f"{LINK}.previous_sha256",
    ),
    ("withdrawal-link-missing", WITHDRAW, edited(withdrawal, _clear("link")), LINK),
    ("grant-link-missing", GRANT, edited(grant, _clear("link")), LINK),
    (
        "acknowledgement-carrying-a-link",
        ACK,
        edited(acknowledgement, lambda st: st.link.CopyFrom(_link(2, b"\x01" * 32))),
        LINK,
    ),
    (
        "request-carrying-a-link",
        ASK,
        edited(sharing_request, lambda st: st.link.CopyFrom(_link(2, b"\x01" * 32))),
        LINK,
    ),
    # The withdrawal.
    (
        "withdrawal-reason-empty",
        WITHDRAW,
        lambda s: withdrawal(s, ""),
        "envelope.payload.withdrawal.reason",
    ),
    (
        "withdrawal-reason-blank",
        WITHDRAW,
        lambda s: withdrawal(s, "  \n "),
        "envelope.payload.withdrawal.reason",
    ),
    # The grant.
    (
        "grant-content_version-that-does-not-exist",
        GRANT,
        lambda s: grant(s, content_version=2),
        f"{GRANTED}.content_version",
    ),
    ("grant-to-a-current-reader", GRANT, lambda s: grant(s, ["de"]), f"{GRANTED}.recipients"),
    ("grant-to-the-auditor", GRANT, lambda s: grant(s, ["auditor"]), f"{GRANTED}.recipients[0]"),
    ("grant-to-nobody", GRANT, lambda s: grant(s, []), f"{GRANTED}.recipients"),
    (
        "grant-wrap-missing",
        GRANT,
        lambda s: grant(s, ["es", "fr"], wrap_for=["fr"]),
        f"{GRANTED}.wraps",
    ),
    (
        "grant-answering-no-request",
        GRANT,
        lambda s: grant(s, answers=[0]),
        f"{GRANTED}.answers[0]",
    ),
    # Acknowledgements.
    (
        "acknowledgement-of-version-2-that-does-not-exist",
        ACK,
        lambda s: acknowledgement(s, version=2),
        f"{ACKED}.version",
    ),
    (
        "acknowledgement-of-version-0",
        ACK,
        lambda s: acknowledgement(s, version=0),
        f"{ACKED}.version",
    ),
    (
        "acknowledgement-with-the-wrong-digest",
        ACK,
        lambda s: acknowledgement(s, digest=bytes(32)),
        f"{ACKED}.content_sha256",
    ),
    (
        "acknowledgement-with-an-empty-digest",
        ACK,
        lambda s: acknowledgement(s, digest=b""),
        f"{ACKED}.content_sha256",
    ),
    # Requests for further sharing.
    (
        "request-naming-a-current-reader",
        ASK,
        lambda s: sharing_request(s, ["de"]),
        f"{ASKED}.recipients",
    ),
    (
        "request-naming-the-originator",
        ASK,
        lambda s: sharing_request(s, ["nl"]),
        f"{ASKED}.recipients[0]",
    ),
    (
        "request-naming-the-auditor",
        ASK,
        lambda s: sharing_request(s, ["auditor"]),
        f"{ASKED}.recipients[0]",
    ),
    ("request-naming-nobody", ASK, lambda s: sharing_request(s, []), f"{ASKED}.recipients"),
    (
        "request-of-version-0",
        ASK,
        lambda s: sharing_request(s, version=0),
        f"{ASKED}.version",
    ),
    (
        "request-of-version-2-that-does-not-exist",
        ASK,
        lambda s: sharing_request(s, version=2),
        f"{ASKED}.version",
    ),
    ("request-reason-empty", ASK, lambda s: sharing_request(s, reason=""), f"{ASKED}.reason"),
    # A statement whose step is not the one the RPC takes.
    ("withdrawal-sent-to-ShareNotice", SHARE, withdrawal, "envelope.payload"),
    ("acknowledgement-sent-to-UpdateNotice", UPDATE, acknowledgement, "envelope.payload"),
    ("version-sent-to-GrantFurtherSharing", GRANT, update, "envelope.payload"),
    ("request-sent-to-AcknowledgeNotice", ACK, sharing_request, "envelope.payload"),
    ("acknowledgement-sent-to-RequestFurtherSharing", ASK, acknowledgement, "envelope.payload"),
    (
        "no-step-sent-to-ShareNotice",
        SHARE,
        lambda s: notice_pb2.NoticeStatement(reference=NEW, link=first_link().to_proto()),
        "envelope.payload",
    ),
]


@pytest.mark.parametrize(
    ("method", "build", "field"),
    [pytest.param(m, b, f, id=case) for case, m, b, f in STEP_CASES],
)
async def test_invalid_step_field(
    bench: Bench, caplog: pytest.LogCaptureFixture, method: str, build: Build, field: str
) -> None:
    wire = bench.wires[SENDER[method]]
    error = await refused(wire.call(method, wire.step(build(bench.scene))))
    assert_invalid(error, field)
    await bench.assert_nothing_changed()
    assert_hub_logged_no_traceback(caplog)


def test_step_cases_cover_every_step_rpc() -> None:
    assert {method for _, method, _, _ in STEP_CASES} == set(STEP_METHODS)
    service = notice_pb2.DESCRIPTOR.services_by_name["NoticeService"]
    assert set(STEP_METHODS) == {
        m.name for m in service.methods if m.input_type.name == "NoticeStepRequest"
    }
    cases = [case for case, _, _, _ in STEP_CASES]
    assert len(cases) == len(set(cases))


CONTROLS: list[tuple[str, Build]] = [
    (SHARE, share),
    (UPDATE, update),
    (WITHDRAW, withdrawal),
    (GRANT, grant),
    (ACK, acknowledgement),
    (ASK, sharing_request),
]


@pytest.mark.parametrize(("method", "build"), [pytest.param(m, b, id=m) for m, b in CONTROLS])
async def test_the_unchanged_builders_are_accepted(
    bench: Bench, caplog: pytest.LogCaptureFixture, method: str, build: Build
) -> None:
    """The control for the tables: what every case starts from is what the hub takes."""
    wire = bench.wires[SENDER[method]]
    statement = build(bench.scene)
    response = await wire.call(method, wire.step(statement))
    assert response.notice.reference == statement.reference
    assert counts(bench.hub) != bench.stored
    assert_hub_logged_no_traceback(caplog)


async def test_limits_are_inclusive(bench: Bench, caplog: pytest.LogCaptureFixture) -> None:
    """A review date exactly two years ahead, another review date today, and a dual-use
    broadcast to every member state and the Commission are accepted."""
    nl = bench.wires["nl"]
    last_day = add_years(TODAY, 2).isoformat()
    for reference, review in (("NL-N-2026-0200", last_day), ("NL-N-2026-0201", TODAY.isoformat())):
        shared = await nl.call(SHARE, nl.step(share(bench.scene, reference, review=review)))
        assert shared.notice.review_date == review
    broadcast = share(
        bench.scene,
        "NL-N-2026-0202",
        kind=notice_pb2.TRANSIT_PROHIBITION,
        classification=notice_pb2.SENSITIVE,
        recipients=EVERYONE_BUT_NL,
        to_all=True,
    )
    shared = await nl.call(SHARE, nl.step(broadcast))
    assert list(shared.notice.recipients) == EVERYONE_BUT_NL
    assert_hub_logged_no_traceback(caplog)


# Markings above RESTREINT UE: refused, saying which and why.

ABOVE = [notice_pb2.CONFIDENTIEL_UE, notice_pb2.SECRET_UE, notice_pb2.TRES_SECRET_UE]


@pytest.mark.parametrize("method", [SHARE, UPDATE])
@pytest.mark.parametrize(
    "marking", [pytest.param(m, id=notice_pb2.Classification.Name(m)) for m in ABOVE]
)
async def test_a_marking_above_restreint_ue_is_refused_by_name(
    bench: Bench, caplog: pytest.LogCaptureFixture, method: str, marking: int
) -> None:
    wire = bench.wires["nl"]
    build = share if method == SHARE else update
    error = await refused(wire.call(method, wire.step(build(bench.scene, classification=marking))))
    assert error.violations == [
        (
            f"{VERSION}.classification",
            f"ecx carries notices up to RESTREINT_UE; {notice_pb2.Classification.Name(marking)}"
            " must not be sent through it",
        )
    ]
    assert error.code == INVALID_ARGUMENT
    await bench.assert_nothing_changed()
    assert_hub_logged_no_traceback(caplog)


# A wrap to a key its owner has since replaced.


async def test_a_wrap_to_a_key_that_is_no_longer_current(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    """de publishes a second key: a notice sealed to its first one is refused, naming the wrap's
    key id; sealed to the new one, it is taken."""
    newer = EncryptionPrivateKey.generate()
    async with bench.hub.client("de") as de:
        await de.publish_encryption_key(newer, KEYS_VALID_UNTIL)
    stored = counts(bench.hub)
    wire = bench.wires["nl"]
    stale = share(bench.scene)
    assert [w.participant for w in stale.version.wraps] == ["de", "nl"]
    assert stale.version.wraps[0].key_id == bench.scene.keys["de"].key_id != newer.key_id
    error = await refused(wire.call(SHARE, wire.step(stale)))
    assert_invalid(error, f"{VERSION}.wraps[0].key_id")
    assert counts(bench.hub) == stored
    current = share(bench.scene, keys={"de": newer.recipient("de")})
    response = await wire.call(SHARE, wire.step(current))
    assert response.notice.recipients == ["de"]
    assert_hub_logged_no_traceback(caplog)


# The history: a change must follow the version in force.


async def test_a_stale_change_is_refused_as_not_following(
    bench: Bench, caplog: pytest.LogCaptureFixture
) -> None:
    """An update and a withdrawal that both follow version 1: the first is taken, the second no
    longer follows and is refused without effect."""
    wire = bench.wires["nl"]
    await wire.call(UPDATE, wire.step(update(bench.scene)))
    stored = counts(bench.hub)
    error = await refused(wire.call(WITHDRAW, wire.step(withdrawal(bench.scene))))
    assert error.code == FAILED_PRECONDITION, error
    assert counts(bench.hub) == stored
    async with bench.hub.client("nl") as nl:
        current = await nl.notices.get(REF)
    assert (current.version, current.state) == (2, notice_pb2.NOTICE_SHARED)
    assert_hub_logged_no_traceback(caplog)


# Signed by another participant than the caller.


@pytest.mark.parametrize(
    ("method", "signer", "sender", "build"),
    [
        pytest.param(SHARE, "nl", "de", share, id="nl-share-sent-by-de"),
        pytest.param(UPDATE, "nl", "de", update, id="nl-update-sent-by-de"),
        pytest.param(WITHDRAW, "nl", "fr", withdrawal, id="nl-withdrawal-sent-by-fr"),
        pytest.param(GRANT, "nl", "de", grant, id="nl-grant-sent-by-de"),
        pytest.param(ACK, "de", "fr", acknowledgement, id="de-acknowledgement-sent-by-fr"),
        pytest.param(ASK, "de", "nl", sharing_request, id="de-request-sent-by-nl"),
        # The sender may take these steps itself: only the signer check refuses them.
        pytest.param(SHARE, "de", "nl", share, id="de-signed-nl-share-sent-by-nl"),
        pytest.param(ACK, "fr", "de", acknowledgement, id="fr-signed-acknowledgement-sent-by-de"),
    ],
)
async def test_the_signer_must_be_the_caller(
    bench: Bench,
    caplog: pytest.LogCaptureFixture,
    method: str,
    signer: str,
    sender: str,
    build: Build,
) -> None:
    """A valid signature is not enough: a participant's captured step sent by another, or a
    statement a participant signs for another, is refused."""
    request = bench.wires[signer].step(build(bench.scene))
    error = await refused(bench.wires[sender].call(method, request))
    assert error.code == PERMISSION_DENIED, error
    await bench.assert_nothing_changed()
    assert_hub_logged_no_traceback(caplog)


# Envelopes.


def _forged_signature(wire: Wire, data: bytes) -> common_pb2.Envelope:
    envelope = wire.envelope(data)
    envelope.signatures[0].sig = envelope.signatures[0].sig[:-1] + bytes(
        [envelope.signatures[0].sig[-1] ^ 1]
    )
    return envelope


def _payload_changed_after_signing(wire: Wire, data: bytes) -> common_pb2.Envelope:
    envelope = wire.envelope(data)
    changed = notice_pb2.NoticeStatement.FromString(data)
    changed.version.recipients.append("fr")
    envelope.payload = changed.SerializeToString(deterministic=True)
    return envelope


def _signed_as_a_denial(wire: Wire, data: bytes) -> common_pb2.Envelope:
    return wire.envelope(data, DENIAL_PAYLOAD_TYPE)


def _no_signature(wire: Wire, data: bytes) -> common_pb2.Envelope:
    envelope = wire.envelope(data)
    del envelope.signatures[:]
    return envelope


def _unregistered_key(wire: Wire, data: bytes) -> common_pb2.Envelope:
    return sign(data, NOTICE_PAYLOAD_TYPE, ed25519.Ed25519PrivateKey.generate())


def _garbage_payload(wire: Wire, data: bytes) -> common_pb2.Envelope:
    return wire.envelope(b"\xff" * 24)


def _unknown_field(wire: Wire, data: bytes) -> common_pb2.Envelope:
    # Field 15, varint 1: unknown to NoticeStatement.
    return wire.envelope(data + b"\x78\x01")


ENVELOPE_CASES = [
    ("forged-signature", _forged_signature, "envelope.signatures[0].sig"),
    ("payload-changed-after-signing", _payload_changed_after_signing, "envelope.signatures[0].sig"),
    ("signed-as-a-denial", _signed_as_a_denial, "envelope.payload_type"),
    ("no-signature", _no_signature, "envelope.signatures"),
    ("unregistered-key", _unregistered_key, "envelope.signatures[0].keyid"),
    ("garbage-payload", _garbage_payload, "envelope.payload"),
    ("unknown-field", _unknown_field, "envelope.payload"),
]


@pytest.mark.parametrize(
    ("make_envelope", "field"), [pytest.param(m, f, id=case) for case, m, f in ENVELOPE_CASES]
)
async def test_bad_envelope(
    bench: Bench, caplog: pytest.LogCaptureFixture, make_envelope: Any, field: str
) -> None:
    nl = bench.wires["nl"]
    data = share(bench.scene).SerializeToString(deterministic=True)
    request = notice_pb2.NoticeStepRequest(
        request_id=uuid.uuid4().hex, envelope=make_envelope(nl, data)
    )
    error = await refused(nl.call(SHARE, request))
    assert_invalid(error, field)
    await bench.assert_nothing_changed()
    assert_hub_logged_no_traceback(caplog)


@pytest.mark.parametrize("method", STEP_METHODS)
async def test_missing_envelope(
    bench: Bench, caplog: pytest.LogCaptureFixture, method: str
) -> None:
    request = notice_pb2.NoticeStepRequest(request_id=uuid.uuid4().hex)
    error = await refused(bench.wires[SENDER[method]].call(method, request))
    assert_invalid(error, "envelope")
    await bench.assert_nothing_changed()
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
    ("method", "build"),
    [pytest.param(SHARE, share, id="share"), pytest.param(ACK, acknowledgement, id="ack")],
)
async def test_invalid_request_id(
    bench: Bench, caplog: pytest.LogCaptureFixture, method: str, build: Build, request_id: str
) -> None:
    wire = bench.wires[SENDER[method]]
    error = await refused(wire.call(method, wire.step(build(bench.scene), request_id=request_id)))
    assert_invalid(error, "request_id")
    await bench.assert_nothing_changed()
    assert_hub_logged_no_traceback(caplog)


# Reads.


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        pytest.param(notice_pb2.ListNoticesRequest(kind=42), "kind", id="kind-unknown-number"),  # type: ignore[arg-type]
        pytest.param(notice_pb2.ListNoticesRequest(page_size=201), "page_size", id="page_size-201"),
        pytest.param(
            notice_pb2.ListNoticesRequest(originating_state="NLD"),
            "originating_state",
            id="originating_state-alpha-3",
        ),
        pytest.param(
            notice_pb2.ListNoticesRequest(page_token="zzz"), "page_token", id="page_token-garbage"
        ),
    ],
)
async def test_invalid_list_request(
    bench: Bench,
    caplog: pytest.LogCaptureFixture,
    request_: notice_pb2.ListNoticesRequest,
    field: str,
) -> None:
    error = await refused(bench.wires["de"].call("ListNotices", request_))
    assert_invalid(error, field)
    assert_hub_logged_no_traceback(caplog)


@pytest.mark.parametrize(
    "reference",
    [
        pytest.param("", id="reference-missing"),
        pytest.param("NL-" + "1" * 63, id="reference-66"),
        pytest.param("NL N 2026", id="reference-space"),
    ],
)
async def test_invalid_get_request(
    bench: Bench, caplog: pytest.LogCaptureFixture, reference: str
) -> None:
    error = await refused(
        bench.wires["de"].call("GetNotice", notice_pb2.GetNoticeRequest(reference=reference))
    )
    assert_invalid(error, "reference")
    assert_hub_logged_no_traceback(caplog)
