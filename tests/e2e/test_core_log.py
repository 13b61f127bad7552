"""The log of `ecx-server run` has one format: what gRPC's C core writes is logged again like the
hub's own lines, and strangers' failed TLS handshakes (a certificate from another CA, none at all,
not TLS) are counted in summary lines rather than written one line each.

Each failed handshake here is made with a socket that waits until the hub has closed the
connection, and the C core writes its line before it closes: so once the hub has stopped (and its
relay flushed the pending count), the handshake lines of its log account for every one."""

from __future__ import annotations

import contextlib
import re
import signal
import socket
import ssl
from pathlib import Path

import pytest

from certs.devpki import DevPki
from client.api import EcxClient
from client.identity import Identity
from tests.helpers import HubProcess, hub_process, wait_until

HUB_LINE = re.compile(
    r"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}"
    r" (?:DEBUG|INFO|WARNING|ERROR|CRITICAL) \[(?P<pid>\d+)\] \S+ .*"
)
CORE_LINE = re.compile(r"[IWEF]\d{4} ")
FIRST_FAILURE = re.compile(r" grpc TLS handshake failed: ")
SUMMARY = re.compile(r" grpc TLS handshakes failed since the last report: (\d+); the last: ")

ROGUE = 10
NO_CERTIFICATE = 10
NOT_TLS = 2


def _host_port(hub: HubProcess) -> tuple[str, int]:
    host, port = hub.address.rsplit(":", 1)
    return host, int(port)


def _until_closed(sock: socket.socket) -> None:
    """Read until the hub has closed the connection (or refused it with an alert or a reset)."""
    sock.settimeout(20)
    with contextlib.suppress(ssl.SSLError, ConnectionError):
        while sock.recv(4096):
            pass


def _tls_attempt(hub: HubProcess, pki: DevPki, identity: str | None) -> None:
    """A TLS connection with the identity's client certificate (from whichever CA), or none."""
    context = ssl.create_default_context(cafile=str(pki.ca_cert))
    context.check_hostname = False
    context.set_alpn_protocols(["h2"])
    if identity is not None:
        directory = pki.identity(identity)
        context.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    with socket.create_connection(_host_port(hub), timeout=20) as raw:
        try:
            tls = context.wrap_socket(raw)
        except (ssl.SSLError, ConnectionError):
            return
        with tls:
            _until_closed(tls)


def _not_tls(hub: HubProcess) -> None:
    with socket.create_connection(_host_port(hub), timeout=20) as sock:
        sock.sendall(b"GET / HTTP/1.1\r\nHost: hub\r\n\r\n")
        _until_closed(sock)


def _fail_handshakes(hub: HubProcess, pki: DevPki) -> int:
    for _ in range(ROGUE):
        _tls_attempt(hub, pki, "rogue")
    for _ in range(NO_CERTIFICATE):
        _tls_attempt(hub, pki, None)
    for _ in range(NOT_TLS):
        _not_tls(hub)
    return ROGUE + NO_CERTIFICATE + NOT_TLS


def _stop(hub: HubProcess) -> list[str]:
    hub.process.send_signal(signal.SIGTERM)
    assert hub.process.wait(30) == 0
    return hub.log.read_text().splitlines()


def _counted_failures(lines: list[str]) -> int:
    """Failed handshakes the log accounts for: one per first-failure line, N per summary."""
    first = sum(1 for line in lines if FIRST_FAILURE.search(line))
    summarised = sum(int(m.group(1)) for line in lines if (m := SUMMARY.search(line)))
    return first + summarised


def _assert_one_format(lines: list[str]) -> None:
    assert lines
    raw = [line for line in lines if CORE_LINE.match(line)]
    assert raw == []
    other = [line for line in lines if not HUB_LINE.fullmatch(line)]
    assert other == []
    assert not any("Traceback" in line for line in lines)


async def test_failed_handshakes_are_summarised_in_the_hubs_one_format(
    pki: DevPki, tmp_path: Path
) -> None:
    with hub_process(
        pki, tmp_path, extra_config="\n[logging]\nhandshake_summary_seconds = 1\n"
    ) as hub:
        caused = _fail_handshakes(hub, pki)
        async with EcxClient(hub.address, Identity.load(pki.identity("nl"))) as nl:
            assert (await nl.whoami()).id == "nl"
        # With a one-second interval the count is logged without waiting for the shutdown.
        assert await wait_until(lambda: SUMMARY.search(hub.log.read_text()) is not None)
        lines = _stop(hub)
    _assert_one_format(lines)
    assert _counted_failures(lines) == caused
    handshake_lines = [line for line in lines if " grpc TLS handshake" in line]
    assert 2 <= len(handshake_lines) < caused
    assert "CERTIFICATE_VERIFY_FAILED" in handshake_lines[0]


@pytest.mark.slow
async def test_each_worker_summarises_its_own_failed_handshakes_and_flushes_at_shutdown(
    pki: DevPki, tmp_path: Path
) -> None:
    with hub_process(pki, tmp_path, workers=2) as hub:
        caused = _fail_handshakes(hub, pki)
        async with EcxClient(hub.address, Identity.load(pki.identity("de"))) as de:
            assert (await de.whoami()).id == "de"
        lines = _stop(hub)
    _assert_one_format(lines)
    # Default interval (60 s): after the first failure in each process, the rest are counted
    # in the summary each process logs as it stops.
    assert _counted_failures(lines) == caused
    pids = {
        match.group("pid")
        for line in lines
        if " grpc TLS handshake" in line and (match := HUB_LINE.fullmatch(line))
    }
    assert len(pids) == 2
