"""Fixtures: the project's own development PKI and a real hub on loopback over mutual TLS."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from certs.devpki import DevPki, issue_identity, make_dev_pki
from server.app import Hub
from server.clock import FixedClock
from tests.helpers import START, RunningHub, hub_config


@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    made = make_dev_pki(tmp_path_factory.mktemp("pki") / "dev")
    # A certificate of the network CA for a participant the registry does not know.
    issue_identity(made.root, "stranger")
    return made


@pytest.fixture
async def hub(pki: DevPki, tmp_path: Path) -> AsyncIterator[RunningHub]:
    clock = FixedClock(START)
    store = tmp_path / "ecx.db"
    async with Hub(hub_config(pki, store), clock=clock) as running:
        yield RunningHub(running, pki, clock, store)
