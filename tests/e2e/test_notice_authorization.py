"""Who may call what on NoticeService: every RPC against every kind of caller, over real mutual
TLS, cell by cell.

The scene: `nl` shared an END_USER_OF_CONCERN notice (NL-N-2026-0001) with `de` alone. Callers:
the originator `nl`, the recipient `de`, a state it was not shared with (`fr`), the Commission
(not a recipient of such a notice), an auditor, an operator, `rogue` (a certificate of another CA
claiming to be nl), `revoked` (certificate on the CRL), `expired` and a client without any
certificate. A notice is for its originator and its readers: anyone else is told it does not
exist, whatever it reads or replies to; a reader who tries the originator's changes is told it may
not; auditors and operators may use no NoticeService RPC at all. The second table repeats every
RPC after a dual-use broadcast, which goes to every member state and the Commission: there the
Commission and `fr` are readers.

Every call is a real request on the generated stub, each statement signed by the caller's own
signing key (a captured party's request for the client without a certificate); a successful call
is checked for what it must show, a refused step for leaving the notice as it was.
"""

from __future__ import annotations

import contextlib
import dataclasses
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from certs.devpki import DevPki
from client.core.chain import first_link, link_after
from client.core.envelope import NOTICE_PAYLOAD_TYPE, sign
from client.core.notices import grant_wraps, seal_version
from client.core.sealing import RecipientKey
from ecx.v1 import audit_pb2, notice_pb2, notice_pb2_grpc
from tests.helpers import RunningHub, store_rows
from tests.notice_support import RECIPIENTS, REVIEW, content, notice_hub

OK = grpc.StatusCode.OK
PERMISSION_DENIED = grpc.StatusCode.PERMISSION_DENIED
NOT_FOUND = grpc.StatusCode.NOT_FOUND
UNAUTHENTICATED = grpc.StatusCode.UNAUTHENTICATED
UNAVAILABLE = grpc.StatusCode.UNAVAILABLE
INVALID_ARGUMENT = grpc.StatusCode.INVALID_ARGUMENT

REF = "NL-N-2026-0001"
MISSING = "NL-N-2026-0404"
ORIGINATOR, RECIPIENT, OUTSIDER = "nl", "de", "fr"
# Whom a grant or a request for further sharing names: a state that does not read the notice.
GRANTEE = "it"
NO_CERT = "no-cert"
CALLERS = [
    ORIGINATOR,
    RECIPIENT,
    OUTSIDER,
    "commission",
    "auditor",
    "operator",
    "rogue",
    "revoked",
    "expired",
    NO_CERT,
]
# The state whose prefix a caller's own new notice carries (`rogue` claims to be nl).
OWN_STATE = {"nl": "NL", "de": "DE", "fr": "FR", "revoked": "PT", "expired": "AT", "rogue": "NL"}

WRITES = ["ShareNotice", "UpdateNotice", "WithdrawNotice", "GrantFurtherSharing"]
REPLIES = ["AcknowledgeNotice", "RequestFurtherSharing"]
READS = ["GetNotice", "ListNotices"]
STEPS = {*WRITES, *REPLIES}


def _refused_everywhere(rpc: str) -> list[tuple[str, str, grpc.StatusCode]]:
    """The cells every RPC shares: no NoticeService RPC for auditors and operators, no call at
    all without a valid certificate of the network CA."""
    return [
        (rpc, "auditor", PERMISSION_DENIED),
        (rpc, "operator", PERMISSION_DENIED),
        (rpc, "rogue", UNAVAILABLE),
        (rpc, "revoked", UNAUTHENTICATED),
        (rpc, "expired", UNAVAILABLE),
        (rpc, NO_CERT, UNAVAILABLE),
    ]


# (RPC, caller, expected status) on nl's END_USER_OF_CONCERN notice to de.
TABLE = [
    # A new notice of one's own: any member-state authority; the Commission receives only.
    ("ShareNotice", ORIGINATOR, OK),
    ("ShareNotice", RECIPIENT, OK),
    ("ShareNotice", OUTSIDER, OK),
    ("ShareNotice", "commission", PERMISSION_DENIED),
    *_refused_everywhere("ShareNotice"),
    # Originator control: the reader may not; whoever does not read it is told it does not exist.
    ("UpdateNotice", ORIGINATOR, OK),
    ("UpdateNotice", RECIPIENT, PERMISSION_DENIED),
    ("UpdateNotice", OUTSIDER, NOT_FOUND),
    ("UpdateNotice", "commission", PERMISSION_DENIED),
    *_refused_everywhere("UpdateNotice"),
    ("WithdrawNotice", ORIGINATOR, OK),
    ("WithdrawNotice", RECIPIENT, PERMISSION_DENIED),
    ("WithdrawNotice", OUTSIDER, NOT_FOUND),
    ("WithdrawNotice", "commission", PERMISSION_DENIED),
    *_refused_everywhere("WithdrawNotice"),
    ("GrantFurtherSharing", ORIGINATOR, OK),
    ("GrantFurtherSharing", RECIPIENT, PERMISSION_DENIED),
    ("GrantFurtherSharing", OUTSIDER, NOT_FOUND),
    ("GrantFurtherSharing", "commission", PERMISSION_DENIED),
    *_refused_everywhere("GrantFurtherSharing"),
    # Replies are a reader's; the originator does not reply to itself.
    ("AcknowledgeNotice", ORIGINATOR, PERMISSION_DENIED),
    ("AcknowledgeNotice", RECIPIENT, OK),
    ("AcknowledgeNotice", OUTSIDER, NOT_FOUND),
    ("AcknowledgeNotice", "commission", NOT_FOUND),
    *_refused_everywhere("AcknowledgeNotice"),
    ("RequestFurtherSharing", ORIGINATOR, PERMISSION_DENIED),
    ("RequestFurtherSharing", RECIPIENT, OK),
    ("RequestFurtherSharing", OUTSIDER, NOT_FOUND),
    ("RequestFurtherSharing", "commission", NOT_FOUND),
    *_refused_everywhere("RequestFurtherSharing"),
    # Reads: the originator and its recipient; the others list nothing.
    ("GetNotice", ORIGINATOR, OK),
    ("GetNotice", RECIPIENT, OK),
    ("GetNotice", OUTSIDER, NOT_FOUND),
    ("GetNotice", "commission", NOT_FOUND),
    *_refused_everywhere("GetNotice"),
    ("ListNotices", ORIGINATOR, OK),
    ("ListNotices", RECIPIENT, OK),
    ("ListNotices", OUTSIDER, OK),
    ("ListNotices", "commission", OK),
    *_refused_everywhere("ListNotices"),
]

RPCS = list(dict.fromkeys(rpc for rpc, _, _ in TABLE))

# (RPC, caller, expected status) on nl's dual-use broadcast (CATCH_ALL_DECISION), which went to
# every member state and the Commission: both callers read it, neither changes it. Every
# eligible participant already reads a broadcast, so a request for further sharing passes the
# policy and is refused on its merits (it names a current reader).
BROADCAST_CALLERS = ["commission", OUTSIDER]
BROADCAST_TABLE = [
    ("ShareNotice", "commission", PERMISSION_DENIED),
    ("ShareNotice", OUTSIDER, OK),
    ("UpdateNotice", "commission", PERMISSION_DENIED),
    ("UpdateNotice", OUTSIDER, PERMISSION_DENIED),
    ("WithdrawNotice", "commission", PERMISSION_DENIED),
    ("WithdrawNotice", OUTSIDER, PERMISSION_DENIED),
    ("GrantFurtherSharing", "commission", PERMISSION_DENIED),
    ("GrantFurtherSharing", OUTSIDER, PERMISSION_DENIED),
    ("AcknowledgeNotice", "commission", OK),
    ("AcknowledgeNotice", OUTSIDER, OK),
    ("RequestFurtherSharing", "commission", INVALID_ARGUMENT),
    ("RequestFurtherSharing", OUTSIDER, INVALID_ARGUMENT),
    ("GetNotice", "commission", OK),
    ("GetNotice", OUTSIDER, OK),
    ("ListNotices", "commission", OK),
    ("ListNotices", OUTSIDER, OK),
]


def _cell_id(*cell: object) -> str:
    return "-".join(c.name if isinstance(c, grpc.StatusCode) else str(c) for c in cell)


def test_table_covers_every_rpc_and_caller() -> None:
    """A new RPC or caller cannot slip past the table."""
    service = notice_pb2.DESCRIPTOR.services_by_name["NoticeService"]
    assert set(RPCS) == {m.name for m in service.methods} == {*STEPS, *READS}
    assert set(REQUESTS) == set(CHECKS) == set(RPCS)
    assert {caller for _, caller, _ in TABLE} == set(CALLERS)
    cells = [(rpc, caller) for rpc, caller, _ in TABLE]
    assert len(cells) == len(set(cells)) == len(RPCS) * len(CALLERS)


def test_broadcast_table_covers_every_rpc() -> None:
    cells = [(rpc, caller) for rpc, caller, _ in BROADCAST_TABLE]
    assert len(cells) == len(set(cells)) == len(RPCS) * len(BROADCAST_CALLERS)
    assert {rpc for rpc, _ in cells} == set(RPCS)
    assert {caller for _, caller in cells} == set(BROADCAST_CALLERS)


@dataclasses.dataclass(frozen=True)
class Scene:
    """The seeded notice, as its originator reads it, and what the steps that follow it need."""

    notice: notice_pb2.Notice
    kind: int
    recipients: list[str]
    to_all: bool
    content_key: bytes
    content_sha256: bytes
    keys: dict[str, RecipientKey]

    def visible(self, caller: str) -> list[str]:
        return [REF] if caller == ORIGINATOR or caller in self.recipients else []


# Requests, as the signer would send them.


def _request(hub: RunningHub, signer: str, statement: notice_pb2.NoticeStatement) -> Any:
    key = hub.identity(signer).require_signing_key()
    envelope = sign(statement.SerializeToString(deterministic=True), NOTICE_PAYLOAD_TYPE, key)
    return notice_pb2.NoticeStepRequest(request_id=uuid.uuid4().hex, envelope=envelope)


def _share_recipients(caller: str) -> list[str]:
    return ["nl"] if caller == RECIPIENT else [RECIPIENT]


def _own_reference(caller: str) -> str:
    return f"{OWN_STATE.get(caller, 'NL')}-N-2026-0100"


def _version(
    scene: Scene, originator: str, reference: str, number: int, recipients: list[str], **kw: Any
) -> notice_pb2.NoticeVersion:
    """A content version sealed to the recipients' current keys and the originator's own."""
    sealed = seal_version(
        content(),
        reference=reference,
        version=number,
        originator=originator,
        recipients=[scene.keys[r] for r in recipients],
        own_key=scene.keys.get(originator),
    )
    return notice_pb2.NoticeVersion(
        kind=kw.get("kind", notice_pb2.END_USER_OF_CONCERN),
        classification=notice_pb2.RESTREINT_UE,
        recipients=recipients,
        to_all=kw.get("to_all", False),
        review_date=REVIEW.isoformat(),
        ciphertext=sealed.ciphertext,
        content_sha256=sealed.content_sha256,
        wraps=sealed.wraps,
    )


def _following(scene: Scene) -> Any:
    return link_after(1, scene.notice.steps[0].envelope.payload).to_proto()


def _share(hub: RunningHub, signer: str, scene: Scene, reference: str = "") -> Any:
    """The signer's own new notice (or one under `reference`)."""
    reference = reference or _own_reference(signer)
    version = _version(scene, signer, reference, 1, _share_recipients(signer))
    statement = notice_pb2.NoticeStatement(
        reference=reference, link=first_link().to_proto(), version=version
    )
    return _request(hub, signer, statement)


def _update(hub: RunningHub, signer: str, scene: Scene, reference: str = REF) -> Any:
    """The originator's next version, to the same recipients, signed by `signer`."""
    version = _version(
        scene,
        ORIGINATOR,
        reference,
        2,
        scene.recipients,
        kind=scene.kind,
        to_all=scene.to_all,
    )
    statement = notice_pb2.NoticeStatement(
        reference=reference, link=_following(scene), version=version
    )
    return _request(hub, signer, statement)


def _withdraw(hub: RunningHub, signer: str, scene: Scene, reference: str = REF) -> Any:
    statement = notice_pb2.NoticeStatement(
        reference=reference,
        link=_following(scene),
        withdrawal=notice_pb2.NoticeWithdrawal(reason="The end-user was delisted"),
    )
    return _request(hub, signer, statement)


def _grant(hub: RunningHub, signer: str, scene: Scene, reference: str = REF) -> Any:
    """The content key of version 1 wrapped for GRANTEE, as its originator would."""
    wraps = grant_wraps(
        scene.content_key,
        reference=reference,
        statement_version=2,
        originator=ORIGINATOR,
        content_version=1,
        content_sha256=scene.content_sha256,
        recipients=[scene.keys[GRANTEE]],
    )
    statement = notice_pb2.NoticeStatement(
        reference=reference,
        link=_following(scene),
        grant=notice_pb2.SharingGrant(content_version=1, recipients=[GRANTEE], wraps=wraps),
    )
    return _request(hub, signer, statement)


def _acknowledge(hub: RunningHub, signer: str, scene: Scene, reference: str = REF) -> Any:
    statement = notice_pb2.NoticeStatement(
        reference=reference,
        acknowledgement=notice_pb2.Acknowledgement(version=1, content_sha256=scene.content_sha256),
    )
    return _request(hub, signer, statement)


def _ask(hub: RunningHub, signer: str, scene: Scene, reference: str = REF) -> Any:
    statement = notice_pb2.NoticeStatement(
        reference=reference,
        request=notice_pb2.SharingRequest(
            version=1, recipients=[GRANTEE], reason="IT licenses exports to the same end-user"
        ),
    )
    return _request(hub, signer, statement)


def _get(hub: RunningHub, signer: str, scene: Scene, reference: str = REF) -> Any:
    return notice_pb2.GetNoticeRequest(reference=reference)


def _list(hub: RunningHub, signer: str, scene: Scene, reference: str = REF) -> Any:
    return notice_pb2.ListNoticesRequest()


REQUESTS: dict[str, Callable[..., Any]] = {
    "ShareNotice": _share,
    "UpdateNotice": _update,
    "WithdrawNotice": _withdraw,
    "GrantFurtherSharing": _grant,
    "AcknowledgeNotice": _acknowledge,
    "RequestFurtherSharing": _ask,
    "GetNotice": _get,
    "ListNotices": _list,
}


# What a successful call must have done.

Check = Callable[[RunningHub, str, Scene, Any], Awaitable[None]]


async def _opened_by(hub: RunningHub, name: str, reference: str = REF) -> notice_pb2.NoticeContent:
    async with hub.client(name) as client:
        return (await client.notices.open(await client.notices.get(reference))).content


async def _shared(hub: RunningHub, caller: str, scene: Scene, response: Any) -> None:
    n = response.notice
    assert (n.reference, n.version, n.originator, list(n.recipients)) == (
        _own_reference(caller),
        1,
        caller,
        _share_recipients(caller),
    )


async def _updated(hub: RunningHub, caller: str, scene: Scene, response: Any) -> None:
    n = response.notice
    assert (n.version, n.state, list(n.recipients)) == (
        2,
        notice_pb2.NOTICE_SHARED,
        scene.recipients,
    )


async def _withdrawn(hub: RunningHub, caller: str, scene: Scene, response: Any) -> None:
    assert (response.notice.version, response.notice.state) == (2, notice_pb2.NOTICE_WITHDRAWN)


async def _granted(hub: RunningHub, caller: str, scene: Scene, response: Any) -> None:
    assert (response.notice.version, list(response.notice.recipients)) == (2, ["de", GRANTEE])
    assert await _opened_by(hub, GRANTEE) == content()


async def _acknowledged(hub: RunningHub, caller: str, scene: Scene, response: Any) -> None:
    assert (response.notice.version, response.notice.acknowledged) == (1, True)


async def _asked(hub: RunningHub, caller: str, scene: Scene, response: Any) -> None:
    assert [s.signer for s in response.notice.requests] == [caller]


async def _got(hub: RunningHub, caller: str, scene: Scene, response: Any) -> None:
    assert (response.notice.reference, response.notice.originator) == (REF, ORIGINATOR)
    assert await _opened_by(hub, caller) == content()


async def _listed(hub: RunningHub, caller: str, scene: Scene, response: Any) -> None:
    assert [n.reference for n in response.notices] == scene.visible(caller)


CHECKS: dict[str, Check] = {
    "ShareNotice": _shared,
    "UpdateNotice": _updated,
    "WithdrawNotice": _withdrawn,
    "GrantFurtherSharing": _granted,
    "AcknowledgeNotice": _acknowledged,
    "RequestFurtherSharing": _asked,
    "GetNotice": _got,
    "ListNotices": _listed,
}


@contextlib.asynccontextmanager
async def _stub(hub: RunningHub, caller: str) -> AsyncIterator[Any]:
    """The caller's own mTLS channel; without a certificate, one that only trusts the CA."""
    if caller == NO_CERT:
        credentials = grpc.ssl_channel_credentials(root_certificates=hub.pki.ca_cert.read_bytes())
    else:
        identity = hub.identity(caller)
        credentials = grpc.ssl_channel_credentials(
            root_certificates=identity.ca_pem,
            private_key=identity.key_pem,
            certificate_chain=identity.cert_pem,
        )
    async with grpc.aio.secure_channel(hub.address, credentials) as channel:
        yield notice_pb2_grpc.NoticeServiceStub(channel)


def _signer(caller: str, rpc: str) -> str:
    """Who signs the request: the caller; for a client without a certificate, the party whose
    request an eavesdropper captured."""
    if caller != NO_CERT:
        return caller
    return RECIPIENT if rpc in REPLIES else ORIGINATOR


async def _attempt(
    hub: RunningHub, rpc: str, caller: str, request: Any
) -> tuple[grpc.StatusCode, str, Any]:
    async with _stub(hub, caller) as stub:
        try:
            response = await getattr(stub, rpc)(request, timeout=10)
        except grpc.aio.AioRpcError as e:
            return e.code(), e.details() or "", None
    return OK, "", response


async def _call(hub: RunningHub, rpc: str, caller: str, scene: Scene) -> grpc.StatusCode:
    request = REQUESTS[rpc](hub, _signer(caller, rpc), scene)
    code, _, response = await _attempt(hub, rpc, caller, request)
    if code == OK:
        await CHECKS[rpc](hub, caller, scene, response)
    return code


async def _scene(hub: RunningHub, kind: int, to: list[str] | None) -> Scene:
    async with hub.client(ORIGINATOR) as nl:
        shared = await nl.notices.share(
            REF,
            content(),
            kind=kind,
            classification=notice_pb2.RESTREINT_UE,
            to=to,
            review=REVIEW,
        )
        opened = await nl.notices.open(shared)
        current = await nl.notices.get(REF)
    keys = {r: hub.identity(r).require_encryption_key().recipient(r) for r in RECIPIENTS}
    return Scene(
        notice=current,
        kind=kind,
        recipients=list(shared.recipients),
        to_all=to is None,
        content_key=opened.content_key,
        content_sha256=opened.content_sha256,
        keys=keys,
    )


async def _assert_unchanged(hub: RunningHub, scene: Scene) -> None:
    """A refused step left nothing behind: the originator reads the notice as first recorded,
    and the store holds no other notice, reply or reader."""
    async with hub.client(ORIGINATOR) as nl:
        assert await nl.notices.get(REF) == scene.notice
    assert store_rows(hub.store_path, "SELECT reference FROM notices") == [(REF,)]
    assert store_rows(hub.store_path, "SELECT COUNT(*) FROM notice_steps") == [(1,)]
    assert store_rows(hub.store_path, "SELECT COUNT(*) FROM notice_replies") == [(0,)]
    readers = store_rows(hub.store_path, "SELECT participant FROM notice_readers")
    assert sorted(r for (r,) in readers) == scene.recipients


@pytest.fixture
async def hub(pki: DevPki, tmp_path: Path) -> AsyncIterator[RunningHub]:
    async with notice_hub(pki, tmp_path) as running:
        yield running


@pytest.mark.parametrize(
    ("rpc", "caller", "expected"), [pytest.param(*cell, id=_cell_id(*cell)) for cell in TABLE]
)
async def test_policy_on_a_notice_to_one_state(
    hub: RunningHub, rpc: str, caller: str, expected: grpc.StatusCode
) -> None:
    scene = await _scene(hub, notice_pb2.END_USER_OF_CONCERN, [RECIPIENT])
    assert scene.recipients == [RECIPIENT]
    assert await _call(hub, rpc, caller, scene) == expected
    if rpc in STEPS and expected != OK:
        await _assert_unchanged(hub, scene)


@pytest.mark.parametrize(
    ("rpc", "caller", "expected"),
    [pytest.param(*cell, id=_cell_id(*cell)) for cell in BROADCAST_TABLE],
)
async def test_policy_on_a_dual_use_broadcast(
    hub: RunningHub, rpc: str, caller: str, expected: grpc.StatusCode
) -> None:
    scene = await _scene(hub, notice_pb2.CATCH_ALL_DECISION, None)
    assert scene.recipients == [r for r in RECIPIENTS if r != ORIGINATOR]
    assert await _call(hub, rpc, caller, scene) == expected
    if rpc in STEPS and expected != OK:
        await _assert_unchanged(hub, scene)


# Existence does not leak: to whoever does not read it, a notice that exists is refused exactly as
# one that does not.

LEAK_RPCS = [rpc for rpc in RPCS if rpc != "ListNotices"]


@pytest.mark.parametrize("rpc", LEAK_RPCS)
@pytest.mark.parametrize("caller", [OUTSIDER, "commission"])
async def test_an_existing_notice_is_refused_as_a_missing_one(
    hub: RunningHub, rpc: str, caller: str
) -> None:
    """The outsider names nl's notice, then a reference nobody used: same code, same words.
    (A new notice under another state's reference is invalid whether or not it exists.)"""
    scene = await _scene(hub, notice_pb2.END_USER_OF_CONCERN, [RECIPIENT])
    answers = []
    for reference in (REF, MISSING):
        request = REQUESTS[rpc](hub, caller, scene, reference)
        code, message, _ = await _attempt(hub, rpc, caller, request)
        answers.append((code, message.replace(reference, "<reference>")))
    assert answers[0][0] != OK
    assert answers[0] == answers[1]
    await _assert_unchanged(hub, scene)


async def test_the_log_entry_of_a_refused_read_tells_an_outsider_nothing_more(
    hub: RunningHub,
) -> None:
    """A refused call is an exchange-log entry its caller may read back: for a notice that exists
    it must not name more (its originator, say) than for one that does not."""
    await _scene(hub, notice_pb2.END_USER_OF_CONCERN, [RECIPIENT])
    async with _stub(hub, OUTSIDER) as stub:
        for reference in (REF, MISSING):
            with pytest.raises(grpc.aio.AioRpcError) as caught:
                await stub.GetNotice(notice_pb2.GetNoticeRequest(reference=reference), timeout=10)
            assert caught.value.code() == NOT_FOUND
    async with hub.client(OUTSIDER) as fr:
        query = audit_pb2.QueryLogRequest(actor=OUTSIDER, action="GetNotice")
        entries = [audit_pb2.LogEntry.FromString(e.entry) async for e in fr.audit.query(query)]
    seen = {tuple(e.object_ids): (e.outcome, list(e.parties)) for e in entries if e.outcome != "OK"}
    assert set(seen) == {(f"notice:{REF}",), (f"notice:{MISSING}",)}
    assert seen[(f"notice:{REF}",)] == seen[(f"notice:{MISSING}",)]
