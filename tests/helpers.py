"""Shared test support: a real hub over real mTLS, identities from the project's own PKI."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
import random
import re
import sqlite3
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Callable, Iterable, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

from certs.devpki import DevPki
from client.api import EcxClient
from client.core.chain import denial_statement, link_after
from client.identity import Identity
from ecx.v1 import common_pb2, consultation_pb2, denial_pb2
from server.app import Hub
from server.clock import FixedClock
from server.config import HubConfig
from server.domain.consultations import MAX_SCREENED_ALIASES
from server.domain.denials import MAX_ALIASES, MAX_NAME_WORDS

ROOT = Path(__file__).resolve().parent.parent
START = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
TODAY = START.date()


@dataclasses.dataclass
class RunningHub:
    """An in-process hub on a loopback port with an injected clock."""

    hub: Hub
    pki: DevPki
    clock: FixedClock
    store_path: Path

    @property
    def address(self) -> str:
        return self.hub.address

    def identity(self, name: str) -> Identity:
        return Identity.load(self.pki.identity(name))

    def client(self, name: str, *, timeout: float = 10.0) -> EcxClient:
        return EcxClient(self.address, self.identity(name), timeout=timeout)


def hub_config(pki: DevPki, store: Path, **limits: int) -> HubConfig:
    config = HubConfig.load(pki.hub_config)
    new_limits = dataclasses.replace(config.limits, **limits)
    return dataclasses.replace(config, listen="127.0.0.1:0", store=store, limits=new_limits)


@asynccontextmanager
async def running_hub(pki: DevPki, store: Path, **limits: int) -> AsyncIterator[RunningHub]:
    """A hub like the `hub` fixture's, with other limits."""
    clock = FixedClock(START)
    async with Hub(hub_config(pki, store, **limits), clock=clock) as running:
        yield RunningHub(running, pki, clock, store)


async def eventually(condition: Callable[[], bool], *, within: float = 60.0) -> None:
    """Wait until `condition` holds, looking often; fail if it still does not after `within`
    seconds (a bound on the wait, never a measurement)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + within
    while not condition():
        if loop.time() > deadline:
            raise AssertionError(f"still not so after {within:g}s")
        await asyncio.sleep(0.01)


def party(name: str, country: str, *aliases: str) -> denial_pb2.Party:
    return denial_pb2.Party(name=name, country=country, address="1 Main Street", aliases=aliases)


def military_payload(
    reference: str = "DE-2026-0001", state: str = "DE", **fields: object
) -> denial_pb2.DenialPayload:
    """A valid military denial; keyword arguments override fields."""
    payload = denial_pb2.DenialPayload(
        reference=reference,
        regime=denial_pb2.MILITARY,
        licence_type=denial_pb2.EXPORT,
        issuing_state=state,
        originating_authority="Licensing authority",
        denial_date=(TODAY - dt.timedelta(days=10)).isoformat(),
        destination_country="AE",
        consignee=party("Gulf Defence Trading FZE", "AE"),
        end_user=party("Al Noor Armed Forces Supply LLC", "AE", "Al-Nour Supply"),
        end_use="Stated: coastal patrol",
        goods_description="Stabilised naval gun mounts, 30 mm",
        control_entries=["ML2.a", "ML5.c"],
        quantity="4 units",
        value_eur=2_400_000,
        reasons=[
            denial_pb2.Reason(criterion=7, explanation="Risk of re-export to a third country")
        ],
        contact="denials@example.org",
        link=common_pb2.VersionLink(version=1),
    )
    for name, value in fields.items():
        _set(payload, name, value)
    return payload


def dual_use_payload(
    reference: str = "NL-2026-0001", state: str = "NL", **fields: object
) -> denial_pb2.DenialPayload:
    """A valid dual-use denial; keyword arguments override fields."""
    payload = denial_pb2.DenialPayload(
        reference=reference,
        regime=denial_pb2.DUAL_USE,
        licence_type=denial_pb2.EXPORT,
        issuing_state=state,
        originating_authority="Licensing authority",
        denial_date=(TODAY - dt.timedelta(days=3)).isoformat(),
        destination_country="RU",
        consignee=party("Technopark Trading LLC", "RU", "OOO Tekhnopark"),
        end_user=party("JSC Radio Engineering Plant", "RU"),
        end_use="Stated: civil telecommunications",
        goods_description="Lithography exposure tool",
        control_entries=["3B001.f.1"],
        quantity="1 unit",
        value_eur=1_850_000,
        reasons=[denial_pb2.Reason(ground=denial_pb2.SANCTIONS, explanation="Reg. 833/2014")],
        contact="denials@example.org",
        link=common_pb2.VersionLink(version=1),
    )
    for name, value in fields.items():
        _set(payload, name, value)
    return payload


def first_version(payload: denial_pb2.DenialPayload) -> denial_pb2.Denial:
    """Version 1 of a denial as submitted by the client library, as far as a statement that
    follows it needs to know (`follows=` in the library's change calls)."""
    content = denial_pb2.DenialPayload()
    content.CopyFrom(payload)
    content.link.CopyFrom(common_pb2.VersionLink(version=1))
    return denial_pb2.Denial(
        reference=payload.reference,
        version=1,
        change=denial_pb2.SUBMIT,
        envelope=common_pb2.Envelope(payload=content.SerializeToString(deterministic=True)),
    )


def following(after: denial_pb2.Denial) -> common_pb2.VersionLink:
    """The link of a statement that follows a denial version."""
    return link_after(after.version, denial_statement(after)).to_proto()


def costly_name(rnd: random.Random, words: int = MAX_NAME_WORDS, stem: str = "Marakan") -> str:
    """A party name of `words` made-up words so alike that matching weighs every pair of them
    against each other: the costliest name to compare within the bounds."""
    return " ".join(stem + rnd.choice("aeiou") + rnd.choice("bdgkmt") for _ in range(words))


def costly_party(rnd: random.Random, aliases: int, stem: str = "Marakan") -> denial_pb2.Party:
    return denial_pb2.Party(
        name=costly_name(rnd, stem=stem),
        country="RU",
        aliases=[costly_name(rnd, stem=stem) for _ in range(aliases)],
    )


def costly_denial(reference: str, rnd: random.Random) -> denial_pb2.DenialPayload:
    """An NL denial whose end-user and consignee carry as many costly aliases as allowed."""
    return dual_use_payload(
        reference,
        "NL",
        end_user=costly_party(rnd, MAX_ALIASES),
        consignee=costly_party(rnd, MAX_ALIASES),
    )


def costly_transaction(rnd: random.Random) -> consultation_pb2.Transaction:
    """A transaction to screen naming as many costly names as allowed, alike those of
    `costly_denial`, so every one of them is compared with every one of theirs."""
    return consultation_pb2.Transaction(
        regime=denial_pb2.DUAL_USE,
        destination_country="RU",
        control_entries=["3B001.f"],
        end_user=costly_party(rnd, MAX_SCREENED_ALIASES),
        consignee=costly_party(rnd, MAX_SCREENED_ALIASES),
    )


def current_dual_use_payload(reference: str, state: str = "NL") -> denial_pb2.DenialPayload:
    """A valid dual-use denial dated by the machine's clock, for hubs run as a subprocess."""
    denial_date = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=3)
    return dual_use_payload(reference, state, denial_date=denial_date.isoformat())


async def submitted_by_nl(
    pki: DevPki, store: Path, payloads: Iterable[denial_pb2.DenialPayload]
) -> None:
    """Start a hub on `store` (at START), submit each payload as NL, and stop the hub: a store
    to take apart or age before a test opens it again."""
    clock = FixedClock(START)
    async with (
        Hub(hub_config(pki, store), clock=clock) as running,
        RunningHub(running, pki, clock, store).client("nl") as nl,
    ):
        for payload in payloads:
            await nl.submit_denial(payload)


def store_rows(store: Path, sql: str) -> list[tuple[object, ...]]:
    """Rows of a query on the store file, read outside the hub."""
    with contextlib.closing(sqlite3.connect(store)) as db:
        return db.execute(sql).fetchall()


def process_state(pid: int) -> list[str] | None:
    """The fields of /proc/PID/stat after the command name (the state first), None if gone."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def live_children(pid: int) -> list[int]:
    """Processes whose parent is pid and that have not exited, but for the log relay that each
    hub process starts (`python -m server.logs`)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            fields = process_state(int(entry.name))
            if fields and int(fields[1]) == pid and fields[0] not in ("Z", "X"):
                with contextlib.suppress(OSError):
                    if b"server.logs" not in (entry / "cmdline").read_bytes().split(b"\0"):
                        found.append(int(entry.name))
    return found


async def wait_until(condition: Callable[[], bool], seconds: float = 30) -> bool:
    """Whether condition holds within seconds, polled; for what another process does."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        await asyncio.sleep(0.05)
    return condition()


def token_postings(db: sqlite3.Connection) -> list[tuple[str, int]]:
    """(blocking token, denial id) of every posting in a store's screening index, in order;
    checks the index's own integrity first."""
    db.execute("INSERT INTO denial_token_index (denial_token_index) VALUES ('integrity-check')")
    db.execute(
        "CREATE VIRTUAL TABLE IF NOT EXISTS temp.token_postings"
        " USING fts5vocab(main, denial_token_index, 'instance')"
    )
    rows = db.execute("SELECT term, doc FROM temp.token_postings").fetchall()
    return sorted((bytes.fromhex(term).decode(), doc) for term, doc in rows)


def _set(message: object, name: str, value: object) -> None:
    field = getattr(message, name)
    if hasattr(field, "CopyFrom") and not isinstance(value, (str, int, bytes)):
        field.CopyFrom(value)
    elif isinstance(value, list):
        del field[:]
        field.extend(value)
    else:
        setattr(message, name, value)


@dataclasses.dataclass
class HubProcess:
    """The hub as a separate process (`ecx-server run`), for crash and CLI tests."""

    process: subprocess.Popen[str]
    address: str
    log: Path
    # The hub's own copy of the dev participants.toml, for a test to edit (then SIGHUP).
    registry: Path

    def pids(self) -> list[int]:
        """The hub's process and its live worker processes."""
        return [self.process.pid, *live_children(self.process.pid)]


def served_connections(port: int, pid: int) -> int:
    """Established TCP connections on the hub's port whose socket process pid holds."""
    established = set()
    # (gRPC may listen on an IPv6 socket and serve IPv4 as mapped addresses.)
    lines = [
        line
        for table in ("/proc/net/tcp", "/proc/net/tcp6")
        if Path(table).exists()
        for line in Path(table).read_text().splitlines()[1:]
    ]
    for line in lines:
        fields = line.split()
        local_port = int(fields[1].rsplit(":", 1)[1], 16)
        if local_port == port and fields[3] == "01":
            established.add(fields[9])
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:[") and target[8:-1] in established:
                held += 1
    return held


@contextmanager
def hub_process(
    pki: DevPki,
    workdir: Path,
    *,
    store: Path | None = None,
    port: int = 0,
    workers: int = 1,
    extra_config: str = "",
) -> Iterator[HubProcess]:
    """Start `ecx-server run` with copies of the dev hub.toml (plus extra_config) and
    participants.toml in workdir; stop it after."""
    registry = workdir / "participants.toml"
    registry.write_text(
        pki.registry.read_text().replace(
            'signing_certificate = "', f'signing_certificate = "{pki.root}/'
        )
    )
    config = workdir / "hub.toml"
    text = pki.hub_config.read_text()
    text = re.sub(r'listen = ".*"', f'listen = "127.0.0.1:{port}"\nworkers = {workers}', text)
    store = store or workdir / "ecx.db"
    text = re.sub(r'path = "var/ecx.db"', f'path = "{store}"', text)
    for key in ("hub/cert.pem", "hub/key.pem", "ca.pem", "crl.pem", "hub/log-key.pem"):
        text = text.replace(f'"{key}"', f'"{pki.root / key}"')
    text = text.replace('"participants.toml"', f'"{registry}"')
    config.write_text(text + extra_config)
    log = workdir / "hub.log"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "proto")])}
    with log.open("w") as log_file:
        process = subprocess.Popen(
            [sys.executable, "-m", "server.main", "run", "--config", str(config)],
            stdout=subprocess.PIPE,
            stderr=log_file,
            text=True,
            cwd=workdir,
            env=env,
        )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        match = re.search(r"ready on (\S+)", line)
        if match is None:
            process.kill()
            raise RuntimeError(f"hub did not start: {line!r}\n{log.read_text()}")
        yield HubProcess(process, match.group(1), log, registry)
    finally:
        if process.poll() is None:
            process.terminate()
            try:
                process.wait(10)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
