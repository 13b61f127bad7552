"""Screening retrieves candidates through the token index: unrelated denials are never compared."""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import logging
import os
import sqlite3
import sys
from asyncio.subprocess import PIPE
from collections import Counter
from contextlib import closing
from pathlib import Path

import pytest

from certs.devpki import DevPki
from client.api import EcxClient
from client.core.names import name_key
from client.identity import Identity
from ecx.v1 import common_pb2, consultation_pb2, denial_pb2
from server.app import Hub
from server.clock import FixedClock
from server.services.screening import MAX_RESULTS, RETRIEVE, rebuild_index, screening_names
from server.store import DenialRow, Transaction, WriteJob
from server.store.sqlite import SqliteStore
from tests.helpers import (
    ROOT,
    START,
    RunningHub,
    current_dual_use_payload,
    hub_config,
    hub_process,
    military_payload,
    party,
    submitted_by_nl,
    token_postings,
)

UNRELATED = [
    "Zephyrine Marlowe",
    "Quillon Brastead",
    "Otterburn Velasko",
    "Fenwick Haldane",
    "Larkspur Ostrova",
    "Ravensworth Kiln",
    "Tamsin Goodwright",
    "Ulverston Pike",
    "Wendover Castille",
    "Yarrowby Dunmore",
    "Ashcombe Trevanion",
    "Brackley Forsythe",
]


def military_transaction(
    name: str, destination: str, entry: str = "ML2.a"
) -> consultation_pb2.Transaction:
    """A military transaction to `destination` whose end user is `name` there."""
    return consultation_pb2.Transaction(
        regime=denial_pb2.MILITARY,
        destination_country=destination,
        end_user=denial_pb2.Party(name=name, country=destination),
        control_entries=[entry],
    )


async def test_only_denials_sharing_a_name_token_are_compared(hub: RunningHub) -> None:
    async with hub.client("nl") as nl, hub.client("de") as de:
        for i, name in enumerate(UNRELATED):
            await nl.submit_denial(
                military_payload(f"NL-2026-U{i:03d}", "NL", end_user=party(name, "AE"))
            )
        await nl.submit_denial(
            military_payload("NL-2026-U900", "NL", end_user=party("Rosoboronexport JSC", "RU"))
        )
        screened = await de.consultations.screen(military_transaction("AO Rosoboroneksport", "RU"))
    assert [c.reference for c in screened.candidates] == ["NL-2026-U900"]
    # Retrieval went through the index: none of the unrelated denials was compared.
    assert screened.denials_compared == 1


def _stored_counts(path: Path) -> tuple[dict[str, int], dict[str, int]]:
    """(kept counts, counts recomputed from the postings) from the hub's SQLite file."""
    with closing(sqlite3.connect(path)) as conn:
        kept = dict(conn.execute("SELECT token, denials FROM denial_token_counts WHERE denials"))
        actual = Counter(token for token, _ in token_postings(conn))
    return kept, actual


async def test_token_counts_follow_amendments_and_retrieve_the_new_name(hub: RunningHub) -> None:
    old, new = "Brackley Forsythe Optics", "Zephyrine Marlowe Avionics"
    async with hub.client("nl") as nl, hub.client("de") as de:
        await nl.submit_denial(military_payload("NL-2026-A001", "NL", end_user=party(old, "AE")))
        await nl.submit_denial(military_payload("NL-2026-A002", "NL", end_user=party(old, "AE")))
        kept, actual = _stored_counts(hub.store_path)
        assert kept == actual
        assert kept["w:" + name_key("Brackley").normalized] == 2

        await nl.amend_denial(
            "NL-2026-A002", military_payload("NL-2026-A002", "NL", end_user=party(new, "AE"))
        )
        kept, actual = _stored_counts(hub.store_path)
        assert kept == actual
        assert kept["w:" + name_key("Brackley").normalized] == 1
        assert kept["w:" + name_key("Zephyrine").normalized] == 1

        screened = await de.consultations.screen(military_transaction(new, "AE"))
    assert [c.reference for c in screened.candidates] == ["NL-2026-A002"]


async def test_among_equally_named_denials_destination_and_list_part_decide_retrieval(
    hub: RunningHub,
) -> None:
    """More denials name the party than one screening compares: the ones for the same
    destination, or with entries in the same part of the list, are the ones retrieved."""
    name = "Orion Avionics Trading FZE"
    async with hub.client("nl") as nl, hub.client("de") as de:
        for i in range(RETRIEVE + 8):
            await nl.submit_denial(
                military_payload(f"NL-2026-E{i:03d}", "NL", end_user=party(name, "AE"))
            )
        # submitted last, so they lose every tie on order
        await nl.submit_denial(
            military_payload(
                "NL-2026-E900", "NL", destination_country="PK", end_user=party(name, "PK")
            )
        )
        await nl.submit_denial(
            military_payload(
                "NL-2026-E901", "NL", control_entries=["ML22.a"], end_user=party(name, "AE")
            )
        )

        async def screen(destination: str, entry: str) -> list[str]:
            response = await de.consultations.screen(
                military_transaction(name, destination, entry),
                max_results=MAX_RESULTS,
            )
            assert response.denials_compared == RETRIEVE
            return [c.reference for c in response.candidates]

        to_pakistan = await screen("PK", "ML2.a")
        same_item = await screen("SA", "ML22.b")
    assert to_pakistan[0] == "NL-2026-E900"
    assert "NL-2026-E901" not in to_pakistan
    assert "NL-2026-E901" in same_item
    assert "NL-2026-E900" not in same_item


async def test_postings_of_a_store_from_before_the_full_text_index_are_carried_over(
    pki: DevPki, tmp_path: Path
) -> None:
    """A store whose postings are still in the denial_tokens table (migrations up to 8) opens
    with the same postings in the full-text index, and screening finds through them."""
    store = tmp_path / "ecx.db"
    config = hub_config(pki, store)
    clock = FixedClock(START)
    names = ["Brackley Forsythe Optics", "Zephyrine Marlowe Avionics", "Quillon Brastead"]
    await submitted_by_nl(
        pki,
        store,
        (
            military_payload(f"NL-2026-M{i:03d}", "NL", end_user=party(name, "AE"))
            for i, name in enumerate(names)
        ),
    )
    with closing(sqlite3.connect(store)) as db, db:
        before = token_postings(db)
        # The layout migration 8 left: postings as rows of a b-tree.
        db.execute(
            "CREATE TABLE denial_tokens (token TEXT NOT NULL, denial_id INTEGER NOT NULL"
            " REFERENCES denials (id), PRIMARY KEY (token, denial_id)) WITHOUT ROWID"
        )
        db.execute("CREATE INDEX denial_tokens_by_denial ON denial_tokens (denial_id)")
        db.executemany("INSERT INTO denial_tokens (token, denial_id) VALUES (?, ?)", before)
        db.execute("DROP TABLE denial_token_index")
        db.execute("DELETE FROM schema_migrations WHERE version = 9")
    assert len(before) > 3 * len(names)

    async with Hub(config, clock=clock) as running:
        hub = RunningHub(running, pki, clock, store)
        with closing(sqlite3.connect(store)) as db:
            assert token_postings(db) == before
            tables = db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            assert "denial_tokens" not in {name for (name,) in tables}
        async with hub.client("de") as de:
            screened = await de.consultations.screen(
                military_transaction("Zephyrine Marlow Avionics", "AE")
            )
    assert [c.reference for c in screened.candidates] == ["NL-2026-M001"]
    assert screened.denials_compared == 1


async def test_a_store_with_denials_missing_from_the_index_says_so_at_open(
    pki: DevPki, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Denials recorded before screening existed have no names in the index; screening cannot
    find them until the index is rebuilt, so the hub tells the operator when it opens."""
    store = tmp_path / "ecx.db"
    config = hub_config(pki, store)
    clock = FixedClock(START)
    await submitted_by_nl(
        pki, store, (military_payload(f"NL-2026-U{i:03d}", "NL") for i in range(3))
    )
    assert "screening index" not in caplog.text
    with closing(sqlite3.connect(store)) as db, db:
        db.execute("DELETE FROM denial_names WHERE denial_id IN (SELECT id FROM denials LIMIT 2)")
    with caplog.at_level(logging.WARNING):
        async with Hub(config, clock=clock):
            pass
    assert "2 denials are not in the screening index; run `ecx-server reindex`" in caplog.text


async def test_reindex_rebuilds_a_stale_index_while_the_hub_serves(
    pki: DevPki, tmp_path: Path
) -> None:
    """`ecx-server reindex` keys every denial's names again, here one whose index holds another
    denial's names (as an index built by an older matcher might), with the hub running."""
    store = tmp_path / "ecx.db"
    names = ["Brackley Forsythe Optics", "Zephyrine Marlowe Avionics", "Quillon Brastead"]
    payloads = []
    for i, name in enumerate(names):
        payload = current_dual_use_payload(f"NL-2026-R{i:03d}")
        payload.end_user.CopyFrom(party(name, "RU"))
        payloads.append(payload)
    expected = sorted(
        (token, i + 1) for i, p in enumerate(payloads) for token in screening_names(p).tokens
    )
    transaction = consultation_pb2.Transaction(
        regime=denial_pb2.DUAL_USE,
        destination_country="RU",
        end_user=denial_pb2.Party(name="Zephyrine Marlow Avionics", country="RU"),
        control_entries=["3B001.f"],
    )
    reindex = [sys.executable, "-m", "server.main", "reindex", "--config", "hub.toml"]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "proto")])}
    with hub_process(pki, tmp_path, store=store) as hub:
        async with EcxClient(hub.address, Identity.load(pki.identity("nl"))) as nl:
            for payload in payloads:
                await nl.submit_denial(payload)
            # A revoked denial's latest version carries its content too, and stays indexed.
            today = dt.datetime.now(dt.UTC).date()
            await nl.revoke_denial("NL-2026-R002", "Withdrawn", effective=today)
        with closing(sqlite3.connect(store)) as db:
            assert token_postings(db) == expected

        # Made stale: the second denial indexed under the first one's names.
        async with SqliteStore(store) as other:
            stale = screening_names(payloads[0])

            def restale(tx: Transaction) -> bytes:
                tx.index_for_screening("NL-2026-R001", stale)
                return b""

            await other.append(restale)
        async with EcxClient(hub.address, Identity.load(pki.identity("de"))) as de:
            missed = await de.consultations.screen(transaction)
            ran = await asyncio.create_subprocess_exec(
                *reindex, cwd=tmp_path, env=env, stdout=PIPE, stderr=PIPE
            )
            out, err = await asyncio.wait_for(ran.communicate(), 120)
            found = await de.consultations.screen(transaction)
    assert [c.reference for c in missed.candidates] == []
    assert ran.returncode == 0, err.decode()
    assert out.decode().strip() == "screening index rebuilt for 3 denials"
    assert b"Traceback" not in err
    assert [c.reference for c in found.candidates] == ["NL-2026-R001"]
    with closing(sqlite3.connect(store)) as db:
        assert token_postings(db) == expected
    kept, actual = _stored_counts(store)
    assert kept == actual


def _saved(reference: str, version: int, name: str) -> WriteJob:
    """Save a version of a denial naming `name` as end user, and index it, as a write would."""
    payload = military_payload(reference, "NL", end_user=party(name, "AE"))
    record = denial_pb2.Denial(
        reference=reference,
        version=version,
        regime=denial_pb2.MILITARY,
        envelope=common_pb2.Envelope(payload=payload.SerializeToString()),
    )

    def job(tx: Transaction) -> bytes:
        row = DenialRow(reference, "nl", "NL", denial_pb2.MILITARY, "AE", 1, "2030-01-01", "", 1)
        tx.save_version(dataclasses.replace(row, version=version), record.SerializeToString())
        tx.index_for_screening(reference, screening_names(payload))
        return b""

    return job


async def test_reindex_keys_the_version_there_when_a_denial_changes_meanwhile(
    tmp_path: Path,
) -> None:
    """An amendment the hub commits between the reindex reading a page and writing it is not
    undone: the reindex keys the version that is there."""
    path = tmp_path / "ecx.db"
    async with SqliteStore(path) as hub, SqliteStore(path) as tool:
        await hub.append(_saved("NL-2026-C001", 1, "Zephyrine Marlowe Trading"))
        write = tool.append

        async def amended_first(job: WriteJob) -> bytes:
            await hub.append(_saved("NL-2026-C001", 2, "Quillon Brastead Industries"))
            return await write(job)

        tool.append = amended_first  # type: ignore[method-assign]
        assert await rebuild_index(tool) == 1
    with closing(sqlite3.connect(path)) as db:
        names = db.execute("SELECT name FROM denial_names WHERE field = 'end_user'").fetchall()
        postings = token_postings(db)
    assert names == [("Quillon Brastead Industries",)]
    new_name = party("Quillon Brastead Industries", "AE")
    latest = military_payload("NL-2026-C001", "NL", end_user=new_name)
    assert postings == sorted((t, 1) for t in screening_names(latest).tokens)
