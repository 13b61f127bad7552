"""Someone with write access to the stopped hub's store file changes what nothing signed: deletes
a revocation and resets the denial's row, flips a military denial's regime column to dual-use,
edits a status, adds a version, alters a signed byte, names another party of a consultation.

The hub decides every read on what the authors signed and on what the exchange log recorded, so
none of it is served as true; `ecx-server verify-log` replays every record and names the first
that differs; and a recipient's `denial get --verify` proves the version shown is the latest the
signed log records.
"""

from __future__ import annotations

import contextlib
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import grpc
import pytest

from certs.devpki import DevPki
from client.errors import RemoteError, VerificationError
from ecx.v1 import consultation_pb2, denial_pb2
from server.app import Hub
from server.clock import FixedClock
from server.main import main as ecx_server
from server.store.sqlite import stored_version, version_record
from tests.helpers import START, TODAY, RunningHub, dual_use_payload, hub_config, military_payload

MILITARY = "NL-2026-0801"
REVOKED = "NL-2026-0802"
CONSULTATION = "DE-C-2026-0801"


@dataclass
class Seeded:
    pki: DevPki
    store: Path
    clock: FixedClock
    before_revocation: denial_pb2.Denial


async def _seed(pki: DevPki, store: Path) -> Seeded:
    clock = FixedClock(START)
    async with Hub(hub_config(pki, store), clock=clock) as running:
        hub = RunningHub(running, pki, clock, store)
        async with hub.client("nl") as nl, hub.client("de") as de:
            await nl.submit_denial(military_payload(MILITARY, "NL"))
            first = await nl.submit_denial(dual_use_payload(REVOKED, "NL"))
            await nl.revoke_denial(REVOKED, "Granted on appeal", effective=TODAY, follows=first)
            transaction = consultation_pb2.Transaction(
                regime=denial_pb2.MILITARY,
                destination_country="AE",
                control_entries=["ML2.a"],
                end_user=denial_pb2.Party(name="Al Noor Armed Forces Supply LLC", country="AE"),
            )
            await de.consultations.open(
                CONSULTATION, [MILITARY], transaction, "Please advise.", "bafa@example.org"
            )
    return Seeded(pki, store, clock, first)


@pytest.fixture
async def seeded(pki: DevPki, tmp_path: Path) -> Seeded:
    return await _seed(pki, tmp_path / "ecx.db")


@contextlib.asynccontextmanager
async def reopened(seeded: Seeded) -> AsyncIterator[RunningHub]:
    config = hub_config(seeded.pki, seeded.store)
    async with Hub(config, clock=seeded.clock) as running:
        yield RunningHub(running, seeded.pki, seeded.clock, seeded.store)


def alter(store: Path, *statements: tuple[str, tuple[object, ...]]) -> None:
    with contextlib.closing(sqlite3.connect(store)) as db:
        for sql, params in statements:
            db.execute(sql, params)
        db.commit()


def verify_log(seeded: Seeded, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    """`ecx-server verify-log` on the store, with the dev PKI's configuration."""
    config = seeded.pki.root / f"hub-{uuid.uuid4().hex}.toml"
    text = seeded.pki.hub_config.read_text().replace(
        'path = "var/ecx.db"', f'path = "{seeded.store}"'
    )
    config.write_text(text)
    capsys.readouterr()
    status = ecx_server(["verify-log", "--config", str(config)])
    out = capsys.readouterr()
    return status, out.out + out.err


def _delete_the_revocation(store: Path) -> None:
    with contextlib.closing(sqlite3.connect(store)) as db:
        (denial_id,) = db.execute(
            "SELECT id FROM denials WHERE reference = ?", (REVOKED,)
        ).fetchone()
        (seq,) = db.execute(
            "SELECT seq FROM denial_versions WHERE denial_id = ? AND version = 1", (denial_id,)
        ).fetchone()
        db.execute("DELETE FROM denial_versions WHERE denial_id = ? AND version = 2", (denial_id,))
        db.execute(
            "UPDATE denials SET status = 1, version = 1, latest_seq = ? WHERE id = ?",
            (seq, denial_id),
        )
        db.commit()


async def test_an_untouched_store_verifies(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out = verify_log(seeded, capsys)
    assert status == 0, out
    assert "2 denials (3 versions) and 1 consultations are what their authors signed" in out


async def test_a_deleted_revocation_is_named_refused_and_caught_by_a_recipient(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    _delete_the_revocation(seeded.store)
    status, out = verify_log(seeded, capsys)
    assert status == 1
    assert f"denial {REVOKED} v2: the exchange log records it" in out
    assert "(first bad index 2)" in out  # the log entry of the revocation
    async with reopened(seeded) as hub, hub.client("de") as de:
        with pytest.raises(RemoteError) as caught:
            await de.get_denial(REVOKED)
        assert caught.value.code == grpc.StatusCode.DATA_LOSS
        # A hub that showed v1 as the latest anyway: the recipient's proof against the signed
        # log finds the revocation it hides.
        with pytest.raises(VerificationError, match="records version 2, the hub shows version 1"):
            await de.audit.prove_latest(seeded.before_revocation)


async def test_a_regime_column_flipped_lets_the_commission_read_nothing(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    alter(
        seeded.store,
        ("UPDATE denials SET regime = 2 WHERE reference = ?", (MILITARY,)),
        (
            "UPDATE denial_versions SET regime = 2 WHERE denial_id ="
            " (SELECT id FROM denials WHERE reference = ?)",
            (MILITARY,),
        ),
    )
    status, out = verify_log(seeded, capsys)
    assert status == 1
    assert f"denial {MILITARY} v1: its version row disagrees" in out
    async with reopened(seeded) as hub, hub.client("commission") as commission:
        with pytest.raises(RemoteError) as caught:
            await commission.get_denial(MILITARY)
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
        listed = [d.reference async for d in commission.list_denials()]
        synced = [c.reference async for r in commission.sync_denials() for c in r.changes]
    assert MILITARY not in listed
    assert MILITARY not in synced
    assert REVOKED in synced  # the dual-use denial it may read still arrives


async def test_an_edited_status_does_not_list_a_revoked_denial_as_active(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    alter(seeded.store, ("UPDATE denials SET status = 1 WHERE reference = ?", (REVOKED,)))
    status, out = verify_log(seeded, capsys)
    assert status == 1
    assert f"denial {REVOKED}: its row's status disagree" in out
    async with reopened(seeded) as hub, hub.client("de") as de:
        active = [d.reference async for d in de.list_denials(status=denial_pb2.ACTIVE)]
        everything = {d.reference: d.status async for d in de.list_denials()}
    assert REVOKED not in active
    assert everything[REVOKED] == denial_pb2.REVOKED


def _duplicate_the_latest_version(store: Path) -> None:
    with contextlib.closing(sqlite3.connect(store)) as db:
        denial_id, record = db.execute(
            "SELECT v.denial_id, v.record FROM denial_versions v JOIN denials d"
            " ON d.latest_seq = v.seq WHERE d.reference = ?",
            (MILITARY,),
        ).fetchone()
        copy = denial_pb2.Denial.FromString(version_record(record))
        copy.version = 2
        db.execute(
            "INSERT INTO denial_versions (denial_id, version, regime, issuer, record)"
            " VALUES (?, 2, 1, 'nl', ?)",
            (denial_id, stored_version(copy.SerializeToString())),
        )
        db.execute("UPDATE denials SET version = 2 WHERE id = ?", (denial_id,))
        db.commit()


def _alter_a_signed_byte(store: Path) -> None:
    with contextlib.closing(sqlite3.connect(store)) as db:
        seq, record = db.execute(
            "SELECT v.seq, v.record FROM denial_versions v JOIN denials d"
            " ON d.latest_seq = v.seq WHERE d.reference = ?",
            (MILITARY,),
        ).fetchone()
        denial = denial_pb2.Denial.FromString(version_record(record))
        payload = denial_pb2.DenialPayload.FromString(denial.envelope.payload)
        payload.quantity = "400 units"
        denial.envelope.payload = payload.SerializeToString(deterministic=True)
        db.execute(
            "UPDATE denial_versions SET record = ? WHERE seq = ?",
            (stored_version(denial.SerializeToString()), seq),
        )
        db.commit()


@pytest.mark.parametrize(
    ("change", "named"),
    [
        pytest.param(_duplicate_the_latest_version, f"denial {MILITARY} v2", id="version-added"),
        pytest.param(_alter_a_signed_byte, f"denial {MILITARY} v1", id="signed-byte-altered"),
    ],
)
async def test_a_version_added_or_altered_is_named_and_not_served(
    seeded: Seeded,
    capsys: pytest.CaptureFixture[str],
    change: Callable[[Path], None],
    named: str,
) -> None:
    change(seeded.store)
    status, out = verify_log(seeded, capsys)
    assert status == 1
    assert named in out
    async with reopened(seeded) as hub, hub.client("de") as de:
        with pytest.raises(RemoteError) as caught:
            await de.get_denial(MILITARY)
    assert caught.value.code == grpc.StatusCode.DATA_LOSS


async def test_a_consultation_party_added_in_the_store_reads_nothing(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    """fr, named as notified (and the consultation marked decided for it), still may not
    read a consultation between DE and NL that nothing granted."""
    alter(
        seeded.store,
        (
            "INSERT INTO consultation_notified (participant, consultation_id)"
            " SELECT 'fr', id FROM consultations WHERE reference = ?",
            (CONSULTATION,),
        ),
    )
    status, out = verify_log(seeded, capsys)
    assert status == 1
    assert f"consultation {CONSULTATION}: who was notified differs" in out
    async with reopened(seeded) as hub, hub.client("fr") as fr:
        with pytest.raises(RemoteError) as caught:
            await fr.consultations.get(CONSULTATION)
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
        assert [c async for c in fr.consultations.list()] == []


async def test_a_responder_changed_in_the_store_is_named_and_takes_no_step(
    seeded: Seeded, capsys: pytest.CaptureFixture[str]
) -> None:
    alter(
        seeded.store,
        ("UPDATE consultations SET responder = 'fr' WHERE reference = ?", (CONSULTATION,)),
    )
    status, out = verify_log(seeded, capsys)
    assert status == 1
    assert f"consultation {CONSULTATION}: its row disagrees with its signed steps" in out
    async with reopened(seeded) as hub, hub.client("fr") as fr:
        with pytest.raises(RemoteError) as caught:
            await fr.consultations.respond(CONSULTATION, consultation_pb2.NO_OBJECTION, "Fine.")
        assert caught.value.code == grpc.StatusCode.NOT_FOUND
