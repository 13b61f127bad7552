"""Altering the stored exchange log while the hub is down is caught at the first altered index, both
by an auditor's `ecx audit verify` and by `ecx-server verify-log`, with the hub as its own process.

Each case: start the hub, record 40 exchange events, verify as the auditor (passes), stop the hub,
alter the SQLite file, start the hub again on the same store and port, verify again.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import re
import shutil
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from certs.devpki import DevPki
from client.api import EcxClient
from client.errors import RemoteError
from client.identity import Identity
from ecx.v1 import audit_pb2
from tests.helpers import ROOT, dual_use_payload, hub_process, military_payload

EVENTS = 40

# Running the CLIs


@dataclasses.dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str

    def verdict(self) -> str:
        """The one line a failed verification prints on stderr."""
        assert self.returncode == 1, (self.stdout, self.stderr)
        lines = self.stderr.splitlines()
        assert len(lines) == 1, self.stderr
        return lines[0]


async def _run(*args: str | Path, cwd: Path) -> Ran:
    env = {k: v for k, v in os.environ.items() if k not in ("ECX_SERVER", "ECX_IDENTITY")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "proto")])
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        *map(str, args),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=cwd,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    ran = Ran(process.returncode, out.decode(), err.decode())
    assert "Traceback" not in ran.stderr, ran.stderr
    return ran


async def audit_verify(address: str, pki: DevPki, state: Path) -> Ran:
    """`ecx --identity <auditor> audit verify --state-dir STATE`."""
    return await _run(
        "-m",
        "client.cli",
        "--server",
        address,
        "--identity",
        pki.identity("auditor"),
        "audit",
        "verify",
        "--state-dir",
        state,
        cwd=state.parent,
    )


async def verify_log(config: Path, *checkpoints: Path) -> Ran:
    """`ecx-server verify-log --config CONFIG [--checkpoint FILE]...`."""
    seen = [arg for c in checkpoints for arg in ("--checkpoint", str(c))]
    return await _run(
        "-m", "server.main", "verify-log", "--config", config, *seen, cwd=config.parent
    )


def first_bad_entry(verdict: str) -> int:
    """The index `ecx audit verify` names: "... entry 17 ..."."""
    match = re.search(r"\bentry (\d+)\b", verdict)
    assert match is not None, verdict
    return int(match.group(1))


def first_bad_index(report: str) -> int:
    """The index `ecx-server verify-log` names: "... (first bad index 17)"."""
    match = re.search(r"first bad index (\d+)", report)
    assert match is not None, report
    return int(match.group(1))


def saved_checkpoint(state: Path) -> Path:
    """The signed note the client kept after its last successful verification."""
    saved = sorted(state.glob("checkpoint-*"))
    assert len(saved) == 1, saved
    return saved[0]


# Recording 40 exchange events


def _today() -> dt.date:
    """The hub process runs on the machine's clock."""
    return dt.datetime.now(dt.UTC).date()


async def record_events(address: str, pki: DevPki, tag: str) -> None:
    """Exactly EVENTS log entries: submissions, amendments, reads, lists, syncs and refusals."""
    denial_date = (_today() - dt.timedelta(days=3)).isoformat()

    def client(name: str) -> EcxClient:
        return EcxClient(address, Identity.load(pki.identity(name)), timeout=30)

    nl_refs = [f"NL-2026-{tag}N{i:02d}" for i in range(8)]
    de_refs = [f"DE-2026-{tag}D{i:02d}" for i in range(4)]
    async with (
        client("nl") as nl,
        client("de") as de,
        client("fr") as fr,
        client("commission") as commission,
    ):
        submitted = {}
        for ref in nl_refs:  # 8
            payload = dual_use_payload(ref, "NL", denial_date=denial_date)
            submitted[ref] = await nl.submit_denial(payload)
        for ref in de_refs:  # 4
            await de.submit_denial(military_payload(ref, "DE", denial_date=denial_date))
        for ref in nl_refs[:4]:  # 4
            amended = dual_use_payload(ref, "NL", denial_date=denial_date, quantity="3 units")
            submitted[ref] = await nl.amend_denial(ref, amended, follows=submitted[ref])
        for ref in nl_refs:  # 8
            await de.get_denial(ref)
        for ref in de_refs:  # 4
            await nl.get_denial(ref, versions=True)
        for _ in range(2):  # 2 + 2: one page each, one call each
            assert [d async for d in de.list_denials()]
            assert [b async for b in nl.sync_denials()]
        for i in range(4):  # 4 refused: not found
            with pytest.raises(RemoteError):
                await fr.get_denial(f"FR-2026-{tag}X{i:02d}")
        for ref in de_refs[:2]:  # 2 refused: the Commission reads no military denial
            with pytest.raises(RemoteError):
                await commission.get_denial(ref)
        for ref in nl_refs[:2]:  # 2 refused: not the issuer
            payload = dual_use_payload(ref, "NL", denial_date=denial_date)
            with pytest.raises(RemoteError):
                await de.amend_denial(ref, payload, follows=submitted[ref])


async def log_size(address: str, pki: DevPki) -> int:
    async with EcxClient(address, Identity.load(pki.identity("auditor"))) as auditor:
        checkpoint, _ = await auditor.audit.checkpoint()
    return checkpoint.size


def port_of(address: str) -> int:
    return int(address.rsplit(":", 1)[1])


# Alterations of the stopped hub's SQLite file


def _entry(db: sqlite3.Connection, index: int) -> bytes:
    row = db.execute("SELECT entry FROM log_entries WHERE idx = ?", (index,)).fetchone()
    assert row is not None, index
    return bytes(row[0])


def change_digest_byte(index: int) -> Callable[[sqlite3.Connection], None]:
    """One byte of the entry's payload digest: the entry still decodes, with another digest."""

    def change(db: sqlite3.Connection) -> None:
        entry = _entry(db, index)
        at = entry.find(audit_pb2.LogEntry.FromString(entry).payload_sha256)
        assert at > 0
        changed = entry[:at] + bytes([entry[at] ^ 0x5A]) + entry[at + 1 :]
        db.execute("UPDATE log_entries SET entry = ? WHERE idx = ?", (changed, index))

    return change


def change_first_byte(index: int) -> Callable[[sqlite3.Connection], None]:
    """The entry's first byte, which frames its index field."""

    def change(db: sqlite3.Connection) -> None:
        entry = _entry(db, index)
        changed = bytes([entry[0] ^ 0x01]) + entry[1:]
        db.execute("UPDATE log_entries SET entry = ? WHERE idx = ?", (changed, index))

    return change


def delete_entry(index: int) -> Callable[[sqlite3.Connection], None]:
    def change(db: sqlite3.Connection) -> None:
        assert db.execute("DELETE FROM log_entries WHERE idx = ?", (index,)).rowcount == 1

    return change


def swap_entries(first: int, second: int) -> Callable[[sqlite3.Connection], None]:
    def change(db: sqlite3.Connection) -> None:
        a, b = _entry(db, first), _entry(db, second)
        db.execute("UPDATE log_entries SET entry = ? WHERE idx = ?", (b, first))
        db.execute("UPDATE log_entries SET entry = ? WHERE idx = ?", (a, second))

    return change


def alter(store: Path, change: Callable[[sqlite3.Connection], None]) -> None:
    with contextlib.closing(sqlite3.connect(store)) as db:
        change(db)
        db.commit()


TAMPERS = [
    pytest.param(change_digest_byte(0), 0, id="byte-changed-in-entry-0"),
    pytest.param(change_digest_byte(17), 17, id="byte-changed-in-entry-17"),
    pytest.param(change_digest_byte(EVENTS - 1), EVENTS - 1, id="byte-changed-in-last-entry"),
    pytest.param(change_first_byte(17), 17, id="index-byte-changed-in-entry-17"),
    pytest.param(delete_entry(17), 17, id="entry-17-deleted"),
    pytest.param(swap_entries(9, 23), 9, id="entries-9-and-23-swapped"),
]


@dataclasses.dataclass
class Setup:
    workdir: Path
    store: Path
    state: Path

    @property
    def config(self) -> Path:
        """The hub.toml the hub process was started with."""
        return self.workdir / "hub.toml"


@pytest.fixture
def setup(tmp_path: Path) -> Setup:
    workdir = tmp_path / "hub"
    workdir.mkdir()
    return Setup(workdir, workdir / "ecx.db", tmp_path / "state")


async def _record_and_verify(pki: DevPki, setup: Setup, *, before: int = 0, port: int = 0) -> int:
    """Start the hub on a store of `before` entries, record EVENTS events, verify as the
    auditor, stop; returns the port."""
    with hub_process(pki, setup.workdir, store=setup.store, port=port) as hub:
        await record_events(hub.address, pki, f"P{before}")
        assert await log_size(hub.address, pki) == before + EVENTS
        ran = await audit_verify(hub.address, pki, setup.state)
        assert ran.returncode == 0, ran.stderr
        assert f"of {before + EVENTS}" in ran.stdout
        port = port_of(hub.address)
    assert hub.process.returncode == 0  # stopped cleanly: the store is closed
    return port


@pytest.mark.parametrize(("change", "bad_index"), TAMPERS)
async def test_an_altered_store_is_caught_at_the_first_altered_index(
    pki: DevPki, setup: Setup, change: Callable[[sqlite3.Connection], None], bad_index: int
) -> None:
    port = await _record_and_verify(pki, setup)
    alter(setup.store, change)

    with hub_process(pki, setup.workdir, store=setup.store, port=port) as hub:
        verdict = (await audit_verify(hub.address, pki, setup.state)).verdict()
    assert verdict.startswith("ecx: log verification FAILED")
    assert first_bad_entry(verdict) == bad_index

    report = (await verify_log(setup.config)).verdict()
    assert report.startswith("log verification FAILED")
    assert first_bad_index(report) == bad_index


async def test_a_store_rolled_back_after_a_client_verified_is_caught(
    pki: DevPki, setup: Setup, tmp_path: Path
) -> None:
    port = await _record_and_verify(pki, setup)
    older = tmp_path / "older"
    older.mkdir()
    copies = [p for p in setup.workdir.iterdir() if p.name.startswith(setup.store.name)]
    for p in copies:
        shutil.copy2(p, older / p.name)

    port = await _record_and_verify(pki, setup, before=EVENTS, port=port)
    note = saved_checkpoint(setup.state).read_text()
    assert note.split("\n")[1] == str(2 * EVENTS)

    for p in setup.workdir.iterdir():
        if p.name.startswith(setup.store.name):
            p.unlink()
    for p in older.iterdir():
        shutil.copy2(p, setup.workdir / p.name)

    with hub_process(pki, setup.workdir, store=setup.store, port=port) as hub:
        assert await log_size(hub.address, pki) == EVENTS
        verdict = (await audit_verify(hub.address, pki, setup.state)).verdict()
    assert "rolled back" in verdict
    assert re.search(rf"\b{EVENTS}\b", verdict)
    assert re.search(rf"\b{2 * EVENTS}\b", verdict)
    # The client keeps the newer checkpoint it had verified.
    assert saved_checkpoint(setup.state).read_text() == note

    report = (await verify_log(setup.config, saved_checkpoint(setup.state))).verdict()
    assert "rolled back" in report
    assert first_bad_index(report) == EVENTS


async def test_an_untouched_store_verifies(pki: DevPki, setup: Setup) -> None:
    port = await _record_and_verify(pki, setup)
    with hub_process(pki, setup.workdir, store=setup.store, port=port) as hub:
        ran = await audit_verify(hub.address, pki, setup.state)
    assert ran.returncode == 0, ran.stderr
    assert ran.stderr == ""
    assert f"{EVENTS} entries checked" in ran.stdout

    ran = await verify_log(setup.config)
    assert ran.returncode == 0, ran.stderr
    assert ran.stdout.startswith("log verified")
    ran = await verify_log(setup.config, saved_checkpoint(setup.state))
    assert ran.returncode == 0, ran.stderr
