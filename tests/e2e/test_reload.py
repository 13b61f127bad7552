"""SIGHUP makes `ecx-server run` read participants.toml again: a participant suspended in the
file is refused from its next call on, in every worker process; a file with a problem is refused
with one log line naming the file, the key and what is allowed, and the registry in use stays."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
from pathlib import Path

import grpc
import pytest

from certs.devpki import DevPki
from client.api import EcxClient
from client.errors import RemoteError
from client.identity import Identity
from tests.helpers import HubProcess, hub_process, wait_until

PARTICIPANTS = 10
RELOADED = f"registry reloaded: {PARTICIPANTS} participants"
NOT_RELOADED = "registry not reloaded, the one in use stays: "


def _edited(text: str, participant: str, old: str, new: str) -> str:
    """The registry text with old replaced by new in one participant's table."""
    blocks = text.split("[[participant]]")
    (index,) = [i for i, block in enumerate(blocks) if f'\nid = "{participant}"\n' in block]
    assert old in blocks[index]
    blocks[index] = blocks[index].replace(old, new)
    return "[[participant]]".join(blocks)


def _pid(line: str) -> int:
    """The process that wrote a line of the hub's log."""
    match = re.search(r" \[(\d+)\] ", line)
    assert match is not None, line
    return int(match.group(1))


def _log_lines(hub: HubProcess, text: str) -> list[str]:
    return [line for line in hub.log.read_text().splitlines() if text in line]


async def _refused(client: EcxClient) -> grpc.StatusCode:
    with pytest.raises(RemoteError) as refused:
        await client.whoami()
    return refused.value.code


async def test_sighup_puts_an_edited_registry_in_place_and_keeps_it_when_the_next_is_refused(
    pki: DevPki, tmp_path: Path
) -> None:
    with hub_process(pki, tmp_path) as hub:
        original = hub.registry.read_text()
        async with (
            EcxClient(hub.address, Identity.load(pki.identity("nl"))) as nl,
            EcxClient(hub.address, Identity.load(pki.identity("de"))) as de,
        ):
            assert (await nl.whoami()).id == "nl"

            hub.registry.write_text(
                _edited(original, "nl", 'status = "active"', 'status = "suspended"')
            )
            os.kill(hub.process.pid, signal.SIGHUP)
            assert await wait_until(lambda: len(_log_lines(hub, RELOADED)) == 1)
            assert await _refused(nl) == grpc.StatusCode.UNAUTHENTICATED
            assert (await de.whoami()).id == "de"

            # nl active again, but de's table has a key the hub does not know: the file is
            # refused as a whole and the registry in use, with nl suspended, stays.
            hub.registry.write_text(_edited(original, "de", 'status = "active"', 'colour = "red"'))
            os.kill(hub.process.pid, signal.SIGHUP)
            assert await wait_until(lambda: len(_log_lines(hub, NOT_RELOADED)) == 1)
            (line,) = _log_lines(hub, NOT_RELOADED)
            assert line.endswith(
                f"{NOT_RELOADED}{hub.registry}: participant de: colour is not a known key"
                " (allowed: display_name, id, member_state, roles, signing_certificate, status)"
            )
            assert await _refused(nl) == grpc.StatusCode.UNAUTHENTICATED
            assert (await de.whoami()).id == "de"

            # Corrected, the file is taken again.
            hub.registry.write_text(original)
            os.kill(hub.process.pid, signal.SIGHUP)
            assert await wait_until(lambda: len(_log_lines(hub, RELOADED)) == 2)
            assert (await nl.whoami()).id == "nl"
        assert hub.process.poll() is None
    assert "Traceback" not in hub.log.read_text()


@pytest.mark.slow
async def test_every_worker_reloads_the_registry_on_sighup_to_the_hub(
    pki: DevPki, tmp_path: Path
) -> None:
    nl_identity = Identity.load(pki.identity("nl"))
    with hub_process(pki, tmp_path, workers=2) as hub:
        hub.registry.write_text(
            _edited(hub.registry.read_text(), "nl", 'status = "active"', 'status = "suspended"')
        )
        os.kill(hub.process.pid, signal.SIGHUP)
        assert await wait_until(lambda: len(_log_lines(hub, RELOADED)) == 2)
        pids = {_pid(line) for line in _log_lines(hub, RELOADED)}
        assert len(pids) == 2
        assert hub.process.pid in pids

        # New connections land on either process; each refuses nl.
        async with contextlib.AsyncExitStack() as stack:
            clients = [
                await stack.enter_async_context(EcxClient(hub.address, nl_identity))
                for _ in range(8)
            ]
            codes = await asyncio.gather(*(_refused(c) for c in clients))
        assert set(codes) == {grpc.StatusCode.UNAUTHENTICATED}
        async with EcxClient(hub.address, Identity.load(pki.identity("de"))) as de:
            assert (await de.whoami()).id == "de"
    assert "Traceback" not in hub.log.read_text()
