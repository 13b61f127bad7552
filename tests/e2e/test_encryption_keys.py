"""Publishing encryption keys over real mutual TLS: who may publish, what the hub refuses (each
refusal naming the field), retries, rotation, and a hub that substitutes a recipient's key,
which the sender's client catches before it seals anything."""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import shutil
import sqlite3
from collections.abc import Awaitable
from pathlib import Path

import grpc
import pytest

from certs.devpki import DevPki
from client.api import EcxClient
from client.core.envelope import ENCRYPTION_KEY_PAYLOAD_TYPE, sign
from client.core.published_keys import KeyStatement
from client.core.sealing import (
    EncryptionPrivateKey,
    Suite,
    key_id_of,
    open_content,
    seal_content,
    unwrap_key,
    wrap_key,
)
from client.errors import NoEncryptionKey, RemoteError, VerificationError
from client.identity import Identity
from client.keystore import make_current, save_encryption_key
from ecx.v1 import audit_pb2, common_pb2, participant_pb2
from server.app import Hub
from server.clock import FixedClock
from server.store import sqlite as sqlite_store
from tests.helpers import START, TODAY, RunningHub, hub_config, store_rows

A_YEAR = TODAY + dt.timedelta(days=365)
INFO = b"notice NL-2026-N001 v1 from nl to de"


async def refused(call: Awaitable[object], code: grpc.StatusCode) -> RemoteError:
    with pytest.raises(RemoteError) as caught:
        await call
    assert caught.value.code == code, caught.value
    return caught.value


def statement(
    key: EncryptionPrivateKey, participant: str = "nl", **fields: object
) -> participant_pb2.EncryptionKey:
    """A valid key statement for `key`; keyword arguments override its fields."""
    message = participant_pb2.EncryptionKey.FromString(
        KeyStatement.of(key, participant, A_YEAR).to_payload()
    )
    for name, value in fields.items():
        setattr(message, name, value)
    return message


def signed(
    hub: RunningHub,
    signer: str,
    message: participant_pb2.EncryptionKey | bytes,
    payload_type: str = ENCRYPTION_KEY_PAYLOAD_TYPE,
) -> common_pb2.Envelope:
    payload = message if isinstance(message, bytes) else message.SerializeToString()
    return sign(payload, payload_type, hub.identity(signer).require_signing_key())


async def publish_raw(
    client: EcxClient, envelope: common_pb2.Envelope | None, request_id: str = "publish-1"
) -> participant_pb2.PublishedKey:
    """A PublishEncryptionKey request as sent, without the client library's own signing."""
    request = participant_pb2.PublishEncryptionKeyRequest(request_id=request_id)
    if envelope is not None:
        request.envelope.CopyFrom(envelope)
    response: participant_pb2.PublishEncryptionKeyResponse = await client._call(
        client._participants.PublishEncryptionKey, request
    )
    return response.key


async def listed_keys(client: EcxClient) -> dict[str, list[KeyStatement]]:
    """Each participant's keys as ListParticipants serves them (not verified)."""
    return {
        p.id: [KeyStatement.from_payload(k.envelope.payload) for k in p.encryption_keys]
        for p in await client.participants()
        if p.encryption_keys
    }


def log_entries(hub: RunningHub, action: str) -> list[audit_pb2.LogEntry]:
    rows = store_rows(
        hub.store_path, f"SELECT entry FROM log_entries WHERE action = '{action}' ORDER BY idx"
    )
    return [audit_pb2.LogEntry.FromString(bytes(entry)) for (entry,) in rows]  # type: ignore[arg-type]


# Publish and list


async def test_a_published_key_is_listed_and_sealed_to(hub: RunningHub) -> None:
    nl_key = hub.identity("nl").require_encryption_key()
    async with hub.client("nl") as nl:
        published = await nl.publish_encryption_key(nl_key, A_YEAR)
    assert published.signer == "nl"
    assert published.published_at.ToDatetime(tzinfo=dt.UTC) == START
    async with hub.client("de") as de:
        assert await listed_keys(de) == {"nl": [KeyStatement.of(nl_key, "nl", A_YEAR)]}
        (recipient,) = await de.recipient_keys(["nl"])
        with pytest.raises(NoEncryptionKey, match="fr has no current encryption key"):
            await de.recipient_keys(["nl", "fr"])
    assert recipient == nl_key.recipient("nl")
    content_key, sealed = seal_content(b"warning about an end-user", b"aad")
    opened = unwrap_key(wrap_key(content_key, recipient, INFO), nl_key, INFO)
    assert open_content(opened, sealed, b"aad") == b"warning about an end-user"


async def test_the_commission_publishes_too_and_every_sender_verifies(hub: RunningHub) -> None:
    async with hub.client("commission") as commission:
        await commission.publish_encryption_key(
            hub.identity("commission").require_encryption_key(), A_YEAR
        )
    async with hub.client("nl") as nl:
        await nl.publish_encryption_key(hub.identity("nl").require_encryption_key(), A_YEAR)
    async with hub.client("fr") as fr:
        keys = await fr.recipient_keys(["commission", "nl", "commission"])
        checks = {p.id: c for p, c in await fr.encryption_keys()}
    assert [k.participant for k in keys] == ["commission", "nl"]
    assert [k.key_id for k in keys] == [
        hub.identity(name).require_encryption_key().key_id for name in ("commission", "nl")
    ]
    assert [c.ok for c in checks["nl"] + checks["commission"]] == [True, True]
    assert checks["de"] == []
    assert checks["auditor"] == []


async def test_a_publication_is_an_exchange_event_for_everyone_who_may_seal_to_it(
    hub: RunningHub,
) -> None:
    key = hub.identity("nl").require_encryption_key()
    async with hub.client("nl") as nl:
        published = await nl.publish_encryption_key(key, A_YEAR)
    (entry,) = log_entries(hub, "PublishEncryptionKey")
    assert entry.SerializeToString(deterministic=True) == published.log_entry
    assert (entry.index, entry.actor, entry.outcome) == (published.log_index, "nl", "OK")
    assert list(entry.object_ids) == [f"encryption-key:nl:{key.key_id}"]
    assert entry.payload_sha256 == hashlib.sha256(published.envelope.payload).digest()
    assert list(entry.parties) == ["nl", "role:authority", "role:commission"]
    for reader, sees in (("de", True), ("commission", True), ("operator", False)):
        async with hub.client(reader) as client:
            request = audit_pb2.QueryLogRequest(action="PublishEncryptionKey")
            found = [e.index async for e in client.audit.query(request)]
        assert found == ([published.log_index] if sees else []), reader
    async with hub.client("de") as de:
        _, proven = await de.audit.prove_inclusion(published.log_index, published.log_entry)
    assert proven.object_ids == entry.object_ids


# What the hub refuses


KEY = EncryptionPrivateKey.generate(Suite.HYBRID)
OTHER_KEY = EncryptionPrivateKey.generate(Suite.X25519)
BAD_MLKEM = b"\xff" * 1216


@pytest.mark.parametrize(
    ("signer", "payload", "field"),
    [
        pytest.param("de", statement(KEY), "envelope.signatures[0].keyid", id="signed-by-another"),
        pytest.param("nl", statement(KEY, "de"), "participant", id="names-another"),
        pytest.param("nl", statement(KEY, ""), "participant", id="names-nobody"),
        pytest.param(
            "nl",
            statement(KEY, public_key=BAD_MLKEM, key_id=key_id_of(Suite.HYBRID, BAD_MLKEM)),
            "public_key",
            id="malformed-public-key",
        ),
        pytest.param(
            "nl",
            statement(KEY, public_key=KEY.public_bytes()[:-1]),
            "public_key",
            id="short-public-key",
        ),
        pytest.param(
            "nl",
            statement(KEY, suite=participant_pb2.X25519),
            "public_key",
            id="suite-mismatch-hybrid-key-as-x25519",
        ),
        pytest.param(
            "nl",
            statement(
                KEY,
                key_id=key_id_of(Suite.X25519, KEY.public_bytes()),
            ),
            "key_id",
            id="key-id-of-another-suite",
        ),
        pytest.param(
            "nl",
            statement(KEY, key_id=OTHER_KEY.key_id),
            "key_id",
            id="key-id-of-another-key",
        ),
        pytest.param(
            "nl",
            statement(KEY, suite=participant_pb2.ENCRYPTION_SUITE_UNSPECIFIED),
            "suite",
            id="no-suite",
        ),
        pytest.param("nl", statement(KEY, suite=7), "suite", id="unknown-suite"),  # type: ignore[arg-type]
        pytest.param(
            "nl",
            statement(KEY, not_after=(TODAY - dt.timedelta(days=1)).isoformat()),
            "not_after",
            id="expired",
        ),
        pytest.param(
            "nl", statement(KEY, not_after=TODAY.isoformat()), "not_after", id="ends-today"
        ),
        pytest.param(
            "nl",
            statement(KEY, not_after=(TODAY + dt.timedelta(days=3 * 366)).isoformat()),
            "not_after",
            id="beyond-three-years",
        ),
        pytest.param("nl", statement(KEY, not_after="2027-02-30"), "not_after", id="no-date"),
        pytest.param("nl", statement(KEY, not_after=""), "not_after", id="no-not-after"),
        pytest.param("nl", b"\x0a\x40abc", "envelope.payload", id="not-a-statement"),
        pytest.param(
            "nl",
            statement(KEY).SerializeToString() + b"\xa0\x06\x01",
            "envelope.payload",
            id="unknown-field",
        ),
    ],
)
async def test_an_unfit_key_is_refused_naming_the_field(
    hub: RunningHub, signer: str, payload: participant_pb2.EncryptionKey | bytes, field: str
) -> None:
    async with hub.client("nl") as nl:
        error = await refused(
            publish_raw(nl, signed(hub, signer, payload)), grpc.StatusCode.INVALID_ARGUMENT
        )
        assert [f for f, _ in error.violations] == [field]
        assert await listed_keys(nl) == {}
    assert log_entries(hub, "PublishEncryptionKey")[0].outcome == "INVALID_ARGUMENT"
    assert store_rows(hub.store_path, "SELECT COUNT(*) FROM encryption_keys") == [(0,)]


@pytest.mark.parametrize(
    ("envelope", "request_id", "field"),
    [
        pytest.param("other-type", "publish-1", "envelope.payload_type", id="payload-type"),
        pytest.param("none", "publish-1", "envelope", id="no-envelope"),
        pytest.param("valid", "", "request_id", id="no-request-id"),
        pytest.param("valid", "a b", "request_id", id="bad-request-id"),
        pytest.param("tampered", "publish-1", "envelope.signatures[0].sig", id="tampered"),
    ],
)
async def test_an_unfit_request_is_refused_naming_the_field(
    hub: RunningHub, envelope: str, request_id: str, field: str
) -> None:
    sent: common_pb2.Envelope | None = signed(hub, "nl", statement(KEY))
    if envelope == "other-type":
        sent = signed(hub, "nl", statement(KEY), "application/vnd.ecx.denial.v1+protobuf")
    elif envelope == "none":
        sent = None
    elif envelope == "tampered":
        assert sent is not None
        sent.payload = statement(
            KEY, not_after=(A_YEAR + dt.timedelta(1)).isoformat()
        ).SerializeToString()
    async with hub.client("nl") as nl:
        error = await refused(publish_raw(nl, sent, request_id), grpc.StatusCode.INVALID_ARGUMENT)
    assert [f for f, _ in error.violations] == [field]


async def test_a_retry_returns_the_first_result(hub: RunningHub) -> None:
    key = hub.identity("nl").require_encryption_key()
    async with hub.client("nl") as nl:
        first = await nl.publish_encryption_key(key, A_YEAR, request_id="key-1")
        hub.clock.advance(dt.timedelta(hours=1))
        again = await nl.publish_encryption_key(key, A_YEAR, request_id="key-1")
        assert again == first
        # the same request id for another key is another request
        other = EncryptionPrivateKey.generate(Suite.HYBRID)
        error = await refused(
            nl.publish_encryption_key(other, A_YEAR, request_id="key-1"),
            grpc.StatusCode.INVALID_ARGUMENT,
        )
        assert [f for f, _ in error.violations] == ["request_id"]
        # and the same key under a new request id is not published twice
        await refused(
            nl.publish_encryption_key(key, A_YEAR, request_id="key-2"),
            grpc.StatusCode.ALREADY_EXISTS,
        )
    assert [e.outcome for e in log_entries(hub, "PublishEncryptionKey")] == [
        "OK",
        "INVALID_ARGUMENT",
        "ALREADY_EXISTS",
    ]
    assert store_rows(hub.store_path, "SELECT COUNT(*) FROM encryption_keys") == [(1,)]


# Rotation


@pytest.fixture
def de_dir(pki: DevPki, tmp_path: Path) -> Path:
    """A copy of de's identity, to rotate without touching the shared development PKI."""
    return Path(shutil.copytree(pki.identity("de"), tmp_path / "de"))


async def test_after_rotation_the_new_key_is_current_and_the_old_still_opens(
    hub: RunningHub, de_dir: Path
) -> None:
    old = Identity.load(de_dir).require_encryption_key()
    async with EcxClient(hub.address, Identity.load(de_dir)) as de:
        await de.publish_encryption_key(old, A_YEAR)
    async with hub.client("nl") as nl:
        (before,) = await nl.recipient_keys(["de"])
        content_key, sealed = seal_content(b"sealed to the old key", b"aad")
        wrap = wrap_key(content_key, before, INFO)

        new = EncryptionPrivateKey.generate(Suite.X25519)
        save_encryption_key(de_dir, new)
        hub.clock.advance(dt.timedelta(days=1))
        async with EcxClient(hub.address, Identity.load(de_dir)) as de:
            await de.publish_encryption_key(new, A_YEAR)
        make_current(de_dir, new.key_id)

        (after,) = await nl.recipient_keys(["de"])
        assert after == new.recipient("de")
        assert await listed_keys(nl) == {"de": [KeyStatement.of(new, "de", A_YEAR)]}
    rotated = Identity.load(de_dir)
    assert rotated.require_encryption_key().key_id == new.key_id
    opened = unwrap_key(wrap, rotated.encryption_key_for(before.key_id), INFO)
    assert open_content(opened, sealed, b"aad") == b"sealed to the old key"
    # the old key stays stored, and the log has both publications
    assert store_rows(hub.store_path, "SELECT key_id FROM encryption_keys ORDER BY seq") == [
        (old.key_id,),
        (new.key_id,),
    ]
    assert len(log_entries(hub, "PublishEncryptionKey")) == 2


async def test_a_key_past_its_not_after_is_no_longer_current(hub: RunningHub) -> None:
    key = hub.identity("nl").require_encryption_key()
    async with hub.client("nl") as nl:
        await nl.publish_encryption_key(key, TODAY + dt.timedelta(days=1))
        hub.clock.advance(dt.timedelta(days=1))
        assert set(await listed_keys(nl)) == {"nl"}
        hub.clock.advance(dt.timedelta(days=1))
        assert await listed_keys(nl) == {}
        with pytest.raises(NoEncryptionKey):
            await nl.recipient_keys(["nl"])


# A hub that substitutes a key


def _set_record(store: Path, participant: str, record: bytes) -> None:
    with contextlib.closing(sqlite3.connect(store)) as db, db:
        db.execute(
            "UPDATE encryption_keys SET record = ? WHERE participant = ?", (record, participant)
        )


def _record(store: Path, participant: str) -> participant_pb2.PublishedKey:
    ((record,),) = store_rows(
        store, f"SELECT record FROM encryption_keys WHERE participant = '{participant}'"
    )
    return participant_pb2.PublishedKey.FromString(bytes(record))  # type: ignore[arg-type]


def _key_swapped(store: Path) -> bytes:
    """The hub's own key in de's statement, de's signature left as it was."""
    own = EncryptionPrivateKey.generate(Suite.HYBRID)
    changed = _record(store, "de")
    changed.envelope.payload = KeyStatement.of(own, "de", A_YEAR).to_payload()
    return changed.SerializeToString()


def _another_participants(store: Path) -> bytes:
    """nl's genuine published key, served as de's."""
    return _record(store, "nl").SerializeToString()


@pytest.mark.parametrize(
    ("substitute", "message"),
    [
        pytest.param(_key_swapped, "signature does not verify", id="payload-swapped"),
        pytest.param(_another_participants, "signed by it but by nl", id="another-participants"),
    ],
)
async def test_a_substituted_key_is_caught_before_anything_is_sealed(
    pki: DevPki, tmp_path: Path, substitute: object, message: str
) -> None:
    clock = FixedClock(START)
    store = tmp_path / "ecx.db"
    config = hub_config(pki, store)
    async with Hub(config, clock=clock) as running:
        hub = RunningHub(running, pki, clock, store)
        for name in ("de", "nl"):
            async with hub.client(name) as client:
                await client.publish_encryption_key(
                    hub.identity(name).require_encryption_key(), A_YEAR
                )
        async with hub.client("fr") as fr:
            assert len(await fr.recipient_keys(["de", "nl"])) == 2  # as published, both verify
    assert callable(substitute)
    replaced = substitute(store)
    _set_record(store, "de", replaced)

    async with Hub(config, clock=clock) as running:
        hub = RunningHub(running, pki, clock, store)
        async with hub.client("fr") as fr:
            served = {p.id: list(p.encryption_keys) for p in await fr.participants()}
            assert served["de"][0].SerializeToString() == replaced  # the hub serves it
            with pytest.raises(VerificationError) as caught:
                await fr.recipient_keys(["nl", "de"])
            checks = {p.id: c for p, c in await fr.encryption_keys()}
            assert len(await fr.recipient_keys(["nl"])) == 1
    assert str(caught.value).startswith("de: its published key is not signed by it")
    assert "the hub may have substituted it" in str(caught.value)
    assert message in str(caught.value)
    assert not checks["de"][0].ok
    assert checks["nl"][0].ok


# The store


async def test_a_store_that_carries_the_withdrawn_migration_11_opens(
    pki: DevPki, tmp_path: Path
) -> None:
    """Migration 11 (an index on denial versions by issuer) was shipped and withdrawn; a store
    it was applied to is migrated on, and loses the index."""
    store = tmp_path / "ecx.db"
    async with sqlite_store.SqliteStore(store):
        pass
    with contextlib.closing(sqlite3.connect(store)) as db, db:
        db.execute("DROP TABLE encryption_keys")
        db.execute("DELETE FROM schema_migrations WHERE version = 12")
        db.execute("INSERT INTO schema_migrations (version) VALUES (11)")
        db.execute(
            "CREATE INDEX denial_versions_by_issuer ON denial_versions (issuer, regime, seq)"
        )
    clock = FixedClock(START)
    async with Hub(hub_config(pki, store), clock=clock) as running:
        hub = RunningHub(running, pki, clock, store)
        async with hub.client("nl") as nl:
            await nl.publish_encryption_key(hub.identity("nl").require_encryption_key(), A_YEAR)
    versions = store_rows(store, "SELECT version FROM schema_migrations ORDER BY version")
    assert [v for (v,) in versions][-4:] == [10, 11, 12, 13]
    indexes = store_rows(store, "SELECT name FROM sqlite_master WHERE type = 'index'")
    assert ("denial_versions_by_issuer",) not in indexes
    assert ("encryption_keys_by_participant",) in indexes
