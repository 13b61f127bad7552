"""Shared support for notice tests: a hub whose notice recipients have published their keys."""

from __future__ import annotations

import contextlib
import dataclasses
import datetime as dt
from collections.abc import AsyncIterator
from pathlib import Path

from certs.devpki import DevPki
from ecx.v1 import denial_pb2, notice_pb2
from server.app import Hub
from server.clock import FixedClock
from tests.helpers import START, TODAY, RunningHub, hub_config

# Everyone with a published key: every active authority of the dev registry and the Commission.
# (`revoked` and `expired` are suspended in the registry these hubs read: they could not publish.)
RECIPIENTS = ("commission", "de", "es", "fr", "it", "nl")
AUTHORITIES = ("de", "es", "fr", "it", "nl")
REVIEW = TODAY + dt.timedelta(days=365)
KEYS_VALID_UNTIL = TODAY + dt.timedelta(days=700)


def registry_without_unusable(pki: DevPki, directory: Path) -> Path:
    """A copy of the dev registry in which `revoked` and `expired` are suspended (their
    certificates cannot publish a key), its certificate paths made absolute."""
    lines = []
    current = ""
    for line in pki.registry.read_text().splitlines():
        if line.startswith("id = "):
            current = line.split('"')[1]
        if line.startswith("status = ") and current in ("revoked", "expired"):
            line = 'status = "suspended"'
        if line.startswith("signing_certificate = "):
            line = f'signing_certificate = "{pki.root / line.split(chr(34))[1]}"'
        lines.append(line)
    path = directory / "participants.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


@contextlib.asynccontextmanager
async def notice_hub(pki: DevPki, directory: Path) -> AsyncIterator[RunningHub]:
    """A hub on a fresh store whose notice recipients have published their current keys."""
    clock = FixedClock(START)
    store = directory / "ecx.db"
    config = dataclasses.replace(
        hub_config(pki, store), registry=registry_without_unusable(pki, directory)
    )
    async with Hub(config, clock=clock) as running:
        hub = RunningHub(running, pki, clock, store)
        for name in RECIPIENTS:
            async with hub.client(name) as client:
                await client.publish_encryption_key(
                    client.identity.require_encryption_key(), KEYS_VALID_UNTIL
                )
        yield hub


def content(
    title: str = "Procurement front for a listed entity", **fields: object
) -> notice_pb2.NoticeContent:
    """A realistic notice content; keyword arguments override fields."""
    c = notice_pb2.NoticeContent(
        title=title,
        parties=[
            denial_pb2.Party(
                name="Orion Precision Trading FZE",
                aliases=["Orion Prec. Trading"],
                address="Warehouse 14, Jebel Ali Free Zone",
                country="AE",
            )
        ],
        destinations=["AE", "IR"],
        goods_description="Five-axis machine tools and carbon-fibre filament winders",
        control_entries=["2B001.b", "1B001.a"],
        reasons=["Diverts to a missile programme", "Shares directors with a listed entity"],
        legal_basis="Reg. 2021/821 Art. 4(1)(a)",
        effective_from=TODAY.isoformat(),
        contact="notices@cdiu.example.nl",
        text="Orders placed through Orion since June reached Bandar Abbas unchanged.",
    )
    for name, value in fields.items():
        field = getattr(c, name)
        if isinstance(value, list):
            del field[:]
            field.extend(value)
        else:
            setattr(c, name, value)
    return c
