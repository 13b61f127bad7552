"""The hub cannot read a notice, and cannot move or re-route one unnoticed.

After a realistic exchange of notices the hub's whole store file, its write-ahead log and its
log lines hold none of the plaintext. A step moved to another notice, a reader added in the
store, an old version replayed as a new one: the hub will not serve it, and a recipient's client
shown it anyway refuses it with a clear reason.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import grpc
import pytest

from certs.devpki import DevPki
from client.core.notices import NoticeError, open_notice
from client.errors import RemoteError
from ecx.v1 import denial_pb2, notice_pb2
from tests.helpers import RunningHub
from tests.notice_support import REVIEW, content, notice_hub

SECRETS = {
    "title": "Quasar Avionics resells through Lydian Freight",
    "name": "Lydian Freight Forwarding DMCC",
    "alias": "Lydian FF",
    "address": "Unit 9, Almas Tower, Dubai",
    "goods": "Inertial measurement units with fibre-optic gyroscopes",
    "reason": "Invoices name a missile institute as consignee",
    "text": "Three shipments left Fujairah for Bandar Abbas in October.",
    "update": "A fourth shipment was booked under the name Sable Marine.",
}


def _secret_content(**fields: object) -> notice_pb2.NoticeContent:
    fields = {"text": SECRETS["text"], **fields}
    return content(
        title=SECRETS["title"],
        parties=[
            denial_pb2.Party(
                name=SECRETS["name"],
                aliases=[SECRETS["alias"]],
                address=SECRETS["address"],
                country="AE",
            )
        ],
        goods_description=SECRETS["goods"],
        reasons=[SECRETS["reason"]],
        **fields,
    )


@pytest.fixture
async def hub(pki: DevPki, tmp_path: Path) -> AsyncIterator[RunningHub]:
    async with notice_hub(pki, tmp_path) as running:
        yield running


async def _share(
    hub: RunningHub, reference: str, to: list[str] | None, kind: int = notice_pb2.DIVERSION_RISK
) -> notice_pb2.Notice:
    async with hub.client("nl") as nl:
        return await nl.notices.share(
            reference,
            _secret_content(),
            kind=kind,
            classification=notice_pb2.RESTREINT_UE,
            to=to,
            review=REVIEW,
        )


async def test_the_hubs_store_and_log_hold_no_plaintext(
    pki: DevPki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    async with notice_hub(pki, tmp_path) as hub:
        first = await _share(hub, "NL-N-2026-0101", ["de", "fr"])
        await _share(hub, "NL-N-2026-0102", None)
        await _share(hub, "NL-N-2026-0103", None, kind=notice_pb2.CATCH_ALL_DECISION)
        async with hub.client("nl") as nl, hub.client("de") as de:
            updated = await nl.notices.update(
                "NL-N-2026-0101", _secret_content(text=SECRETS["update"]), follows=first
            )
            await de.notices.acknowledge("NL-N-2026-0101")
            await de.notices.request_sharing("NL-N-2026-0101", ["es"], "ES licenses them too")
            await nl.notices.grant("NL-N-2026-0101", ["es"], follows=updated)
        async with hub.client("es") as es:
            opened = await es.notices.open(await es.notices.get("NL-N-2026-0101"))
        assert opened.content.text == SECRETS["update"]  # the content really went through
        files = [hub.store_path, *hub.store_path.parent.glob(hub.store_path.name + "-*")]
        stored = b"".join(f.read_bytes() for f in files if f.is_file())
    assert len(stored) > 100_000
    for name, secret in SECRETS.items():
        assert secret.encode() not in stored, name
        assert secret not in caplog.text, name


def _store(hub: RunningHub) -> contextlib.closing[sqlite3.Connection]:
    return contextlib.closing(sqlite3.connect(hub.store_path))


def _step_record(hub: RunningHub, reference: str, version: int) -> bytes:
    with _store(hub) as db:
        (record,) = db.execute(
            "SELECT s.record FROM notice_steps s JOIN notices n ON n.id = s.notice_id"
            " WHERE n.reference = ? AND s.version = ?",
            (reference, version),
        ).fetchone()
    return bytes(record)


def _put_step(hub: RunningHub, reference: str, version: int, record: bytes) -> None:
    with _store(hub) as db:
        db.execute(
            "UPDATE notice_steps SET record = ? WHERE version = ? AND notice_id ="
            " (SELECT id FROM notices WHERE reference = ?)",
            (record, version, reference),
        )
        db.commit()


async def _code(hub: RunningHub, name: str, reference: str) -> grpc.StatusCode:
    async with hub.client(name) as client:
        try:
            await client.notices.get(reference)
        except RemoteError as e:
            return e.code
    return grpc.StatusCode.OK


def _opens(hub: RunningHub, notice: notice_pb2.Notice, name: str) -> None:
    """What DE's client makes of a notice the hub shows it (signatures taken as checked: the
    hub moved signed statements, it did not forge them)."""
    identity = hub.identity(name)
    open_notice(notice, name, identity.encryption_keys, lambda step: step.signer)


async def test_a_step_moved_to_another_notice_is_refused(hub: RunningHub) -> None:
    await _share(hub, "NL-N-2026-0201", ["de"])
    other = await _share(hub, "NL-N-2026-0202", ["de"])
    moved = _step_record(hub, "NL-N-2026-0201", 1)
    _put_step(hub, "NL-N-2026-0202", 1, moved)
    assert await _code(hub, "de", "NL-N-2026-0202") == grpc.StatusCode.DATA_LOSS
    shown = notice_pb2.Notice()
    shown.CopyFrom(other)
    shown.steps[0].MergeFromString(moved)
    with pytest.raises(NoticeError, match="about NL-N-2026-0201"):
        _opens(hub, shown, "de")


async def test_a_reader_added_in_the_store_reads_nothing(hub: RunningHub) -> None:
    shared = await _share(hub, "NL-N-2026-0301", ["de"])
    with _store(hub) as db:
        db.execute(
            "INSERT INTO notice_readers (participant, notice_id)"
            " SELECT 'fr', id FROM notices WHERE reference = ?",
            ("NL-N-2026-0301",),
        )
        db.commit()
    assert await _code(hub, "fr", "NL-N-2026-0301") == grpc.StatusCode.NOT_FOUND
    # Shown to FR anyway, the notice holds no key FR can use.
    with pytest.raises(NoticeError, match="no version is sealed to fr"):
        _opens(hub, shared, "fr")


async def test_an_old_version_replayed_as_the_latest_is_refused(hub: RunningHub) -> None:
    first = await _share(hub, "NL-N-2026-0401", ["de"])
    async with hub.client("nl") as nl:
        second = await nl.notices.update(
            "NL-N-2026-0401", _secret_content(text=SECRETS["update"]), follows=first
        )
    old = notice_pb2.NoticeStep.FromString(_step_record(hub, "NL-N-2026-0401", 1))
    old.version = 2
    _put_step(hub, "NL-N-2026-0401", 2, old.SerializeToString())
    assert await _code(hub, "de", "NL-N-2026-0401") == grpc.StatusCode.DATA_LOSS
    shown = notice_pb2.Notice()
    shown.CopyFrom(second)
    shown.steps[1].CopyFrom(old)
    with pytest.raises(NoticeError, match="history does not verify"):
        _opens(hub, shown, "de")


def _edited(notice: notice_pb2.Notice, edit: object) -> notice_pb2.Notice:
    """The notice with its first step's signed statement edited (as a hub could only do by
    also forging the signature, which recipients check first)."""
    copy = notice_pb2.Notice()
    copy.CopyFrom(notice)
    statement = notice_pb2.NoticeStatement.FromString(copy.steps[0].envelope.payload)
    edit(statement)  # type: ignore[operator]
    copy.steps[0].envelope.payload = statement.SerializeToString(deterministic=True)
    return copy


async def test_the_seal_binds_the_notice_its_recipients_and_each_recipient(
    hub: RunningHub,
) -> None:
    """Beneath the signature, the encryption itself: a ciphertext under another reference,
    a recipient list changed, a key wrap relabelled for another recipient: none opens."""
    shared = await _share(hub, "NL-N-2026-0501", ["de", "es"])
    _opens(hub, shared, "de")  # the control

    def rename(statement: notice_pb2.NoticeStatement) -> None:
        statement.reference = "NL-N-2026-0599"

    renamed = _edited(shared, rename)
    renamed.reference = "NL-N-2026-0599"
    with pytest.raises(NoticeError, match="does not open"):
        _opens(hub, renamed, "de")

    def widen(statement: notice_pb2.NoticeStatement) -> None:
        statement.version.recipients[:] = ["de", "es", "fr"]

    with pytest.raises(NoticeError, match="does not open"):
        _opens(hub, _edited(shared, widen), "de")

    fr_key = hub.identity("fr").require_encryption_key().key_id

    def relabel(statement: notice_pb2.NoticeStatement) -> None:
        for wrap in statement.version.wraps:
            if wrap.participant == "es":
                wrap.participant, wrap.key_id = "fr", fr_key
        statement.version.recipients[:] = ["de", "fr"]

    with pytest.raises(NoticeError, match="does not open for fr"):
        _opens(hub, _edited(shared, relabel), "fr")
