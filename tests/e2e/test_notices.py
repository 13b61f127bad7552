"""Sensitive notices end to end over real mutual TLS: shared to a list and to all, opened by
every recipient and by nobody else, updated, withdrawn, acknowledged, passed on only with the
originator's consent; and a dual-use broadcast reaching every state and the Commission."""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from certs.devpki import DevPki
from client.errors import RemoteError, VerificationError
from ecx.v1 import audit_pb2, notice_pb2
from tests.helpers import RunningHub
from tests.notice_support import AUTHORITIES, RECIPIENTS, REVIEW, content, notice_hub

REF = "NL-N-2026-0001"


@pytest.fixture
async def hub(pki: DevPki, tmp_path: Path) -> AsyncIterator[RunningHub]:
    async with notice_hub(pki, tmp_path) as running:
        yield running


async def _share(hub: RunningHub, to: list[str] | None, **kwargs: object) -> notice_pb2.Notice:
    async with hub.client("nl") as nl:
        return await nl.notices.share(
            REF,
            content(),
            kind=kwargs.get("kind", notice_pb2.END_USER_OF_CONCERN),  # type: ignore[arg-type]
            classification=notice_pb2.RESTREINT_UE,
            to=to,
            review=REVIEW,
        )


async def _opened(hub: RunningHub, name: str, reference: str = REF) -> notice_pb2.NoticeContent:
    async with hub.client(name) as client:
        return (await client.notices.open(await client.notices.get(reference))).content


async def _refused(hub: RunningHub, name: str, reference: str = REF) -> grpc.StatusCode:
    async with hub.client(name) as client:
        with pytest.raises(RemoteError) as caught:
            await client.notices.get(reference)
    return caught.value.code


async def test_a_notice_to_a_list_opens_for_each_recipient_and_nobody_else(
    hub: RunningHub,
) -> None:
    shared = await _share(hub, ["de", "fr"])
    assert (shared.version, shared.originator, list(shared.recipients)) == (1, "nl", ["de", "fr"])
    assert shared.classification == notice_pb2.RESTREINT_UE
    for name in ("de", "fr", "nl"):
        assert await _opened(hub, name) == content()
    for outsider in ("es", "it", "commission"):
        assert await _refused(hub, outsider) == grpc.StatusCode.NOT_FOUND
        async with hub.client(outsider) as client:
            assert [n async for n in client.notices.list()] == []


async def test_a_notice_to_all_reaches_every_member_state_but_not_the_commission(
    hub: RunningHub,
) -> None:
    shared = await _share(hub, None)
    assert list(shared.recipients) == [a for a in AUTHORITIES if a != "nl"]
    for name in AUTHORITIES:
        assert await _opened(hub, name) == content()
    assert await _refused(hub, "commission") == grpc.StatusCode.NOT_FOUND


@pytest.mark.parametrize(
    "kind",
    [notice_pb2.CATCH_ALL_DECISION, notice_pb2.NATIONAL_MEASURE, notice_pb2.TRANSIT_PROHIBITION],
    ids=["catch-all", "national-measure", "transit-prohibition"],
)
async def test_a_dual_use_broadcast_reaches_every_state_and_the_commission(
    hub: RunningHub, kind: int
) -> None:
    shared = await _share(hub, None, kind=kind)
    assert list(shared.recipients) == [r for r in RECIPIENTS if r != "nl"]
    for name in RECIPIENTS:
        assert await _opened(hub, name) == content()
    # Not to a list: the regulation sends these to everyone.
    async with hub.client("nl") as nl:
        with pytest.raises(RemoteError) as caught:
            await nl.notices.share(
                "NL-N-2026-0002",
                content(),
                kind=kind,
                classification=notice_pb2.SENSITIVE,
                to=["de"],
                review=REVIEW,
            )
    assert caught.value.violations[0][0] == "envelope.payload.version.recipients"


async def test_an_update_makes_a_new_version_for_its_recipients(hub: RunningHub) -> None:
    shared = await _share(hub, ["de", "fr"])
    changed = content(text="Orion now ships through a second company, Vega Logistics.")
    async with hub.client("nl") as nl:
        updated = await nl.notices.update(REF, changed, to=["de"], follows=shared)
    assert updated.version == 2
    assert await _opened(hub, "de") == changed
    # fr keeps what it was shared: version 1 only.
    assert await _opened(hub, "fr") == content()


async def test_a_withdrawal_is_shown_to_every_reader(hub: RunningHub) -> None:
    shared = await _share(hub, ["de"])
    async with hub.client("nl") as nl:
        withdrawn = await nl.notices.withdraw(REF, "The company was delisted", follows=shared)
        with pytest.raises(RemoteError) as caught:
            await nl.notices.update(REF, content(), follows=withdrawn)
        assert caught.value.code == grpc.StatusCode.FAILED_PRECONDITION
    assert withdrawn.state == notice_pb2.NOTICE_WITHDRAWN
    async with hub.client("de") as de:
        opened = await de.notices.open(await de.notices.get(REF))
    assert opened.withdrawn == "The company was delisted"


async def test_only_the_originator_changes_its_notice(hub: RunningHub) -> None:
    await _share(hub, ["de"])
    async with hub.client("de") as de:
        with pytest.raises(RemoteError) as caught:
            await de.notices.withdraw(REF, "not mine")
    assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED


async def test_acknowledgements_are_signed_and_shown_to_the_originator_only(
    hub: RunningHub,
) -> None:
    await _share(hub, ["de", "fr"])
    async with hub.client("de") as de:
        acked = await de.notices.acknowledge(REF)
        assert acked.acknowledged
        assert list(acked.acknowledgements) == []  # a recipient sees only that it acknowledged
        with pytest.raises(RemoteError) as again:
            await de.notices.acknowledge(REF)
        assert again.value.code == grpc.StatusCode.ALREADY_EXISTS
    async with hub.client("fr") as fr:
        seen = await fr.notices.get(REF)
        assert not seen.acknowledged
        assert list(seen.acknowledgements) == []
        assert [n.reference async for n in fr.notices.list(unacknowledged_only=True)] == [REF]
    async with hub.client("nl") as nl:
        mine = await nl.notices.get(REF)
    assert [s.signer for s in mine.acknowledgements] == ["de"]
    ack = notice_pb2.NoticeStatement.FromString(mine.acknowledgements[0].envelope.payload)
    assert (
        ack.acknowledgement.content_sha256
        == hashlib.sha256(content().SerializeToString(deterministic=True)).digest()
    )


async def test_further_sharing_needs_the_originators_grant(hub: RunningHub) -> None:
    await _share(hub, ["de"])
    assert await _refused(hub, "fr") == grpc.StatusCode.NOT_FOUND
    async with hub.client("de") as de:
        # A recipient cannot pass it on itself: it can only ask.
        with pytest.raises(RemoteError) as caught:
            await de.notices.grant(REF, ["fr"])
        assert caught.value.code == grpc.StatusCode.PERMISSION_DENIED
        asked = await de.notices.request_sharing(REF, ["fr"], "FR licenses the same end-user")
    assert [s.signer for s in asked.requests] == ["de"]
    assert await _refused(hub, "fr") == grpc.StatusCode.NOT_FOUND
    async with hub.client("nl") as nl:
        seen = await nl.notices.get(REF)
        request = notice_pb2.NoticeStatement.FromString(seen.requests[0].envelope.payload)
        assert list(request.request.recipients) == ["fr"]
        granted = await nl.notices.grant(REF, ["fr"], answers=[0], follows=seen)
    assert granted.version == 2
    assert list(granted.recipients) == ["de", "fr"]
    assert await _opened(hub, "fr") == content()


async def test_every_step_is_a_log_entry_with_a_digest_and_its_readers_as_parties(
    hub: RunningHub,
) -> None:
    shared = await _share(hub, ["de"])
    async with hub.client("auditor") as auditor:
        entries = [
            audit_pb2.LogEntry.FromString(e.entry)
            async for e in auditor.audit.query(audit_pb2.QueryLogRequest(object_id=REF))
        ]
    [share] = [e for e in entries if e.action == "ShareNotice"]
    assert list(share.object_ids) == [f"notice:{REF}:v1"]
    assert list(share.parties) == ["de", "nl"]
    assert share.payload_sha256 == hashlib.sha256(shared.steps[0].envelope.payload).digest()


async def test_a_retry_with_the_same_request_id_shares_once(hub: RunningHub) -> None:
    async with hub.client("nl") as nl:
        first = await nl.notices.share(
            REF,
            content(),
            kind=notice_pb2.DIVERSION_RISK,
            classification=notice_pb2.SENSITIVE,
            to=["de"],
            review=REVIEW,
            request_id="share-1",
        )
        again = await nl.notices.share(
            REF,
            content(),
            kind=notice_pb2.DIVERSION_RISK,
            classification=notice_pb2.SENSITIVE,
            to=["de"],
            review=REVIEW,
            request_id="share-1",
        )
    # Sealed afresh (a new content key), yet the same request: the same content digest, marking
    # and recipients under the same id get the first answer.
    assert again == first


async def test_a_recipient_whose_key_the_hub_swapped_is_caught_before_sealing(
    hub: RunningHub,
) -> None:
    """The hub serves, as DE's key, a key DE never signed: the sender's client refuses to seal
    to it, and nothing is shared."""
    with sqlite3.connect(hub.store_path) as db:
        fr_record = db.execute(
            "SELECT record FROM encryption_keys WHERE participant = 'fr'"
        ).fetchone()[0]
        db.execute("UPDATE encryption_keys SET record = ? WHERE participant = 'de'", (fr_record,))
    async with hub.client("nl") as nl:
        with pytest.raises(VerificationError, match="de"):
            await nl.notices.share(
                REF,
                content(),
                kind=notice_pb2.END_USER_OF_CONCERN,
                classification=notice_pb2.RESTREINT_UE,
                to=["de"],
                review=REVIEW,
            )
    assert await _refused(hub, "de") == grpc.StatusCode.NOT_FOUND
