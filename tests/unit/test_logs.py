"""Lines of gRPC's C core become log records of the hub; failed TLS handshakes are summarised,
the first at once, then at most one line per interval; nothing read is dropped."""

from __future__ import annotations

import logging
import os
import threading
from collections.abc import Iterator

import pytest

from server.logs import HandshakeSummary, parse_core_line, relay

HANDSHAKE = (
    "I1204 15:10:25.672127   10175 ssl_transport_security.cc:2563] Handshake failed with error"
    " SSL_ERROR_SSL: error:1000007d:SSL routines:OPENSSL_internal:CERTIFICATE_VERIFY_FAILED:"
    " unable to get local issuer certificate"
)
NO_CERTIFICATE = (
    "I1204 15:10:26.553078   10175 ssl_transport_security.cc:2563] Handshake failed with error"
    " SSL_ERROR_SSL: error:100000c0:SSL routines:OPENSSL_internal:"
    "PEER_DID_NOT_RETURN_A_CERTIFICATE: Invalid certificate verification context"
)


class Records(logging.Handler):
    """Every record logged to the loggers it is attached to, as (logger, level, message)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str, int, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((record.name, record.levelno, record.getMessage()))


@pytest.fixture
def records() -> Iterator[Records]:
    handler = Records()
    loggers = [logging.getLogger(name) for name in ("grpc", "stderr", "summary-test")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.addHandler(handler)
        lg.setLevel(logging.DEBUG)
    yield handler
    for lg, level in zip(loggers, levels, strict=True):
        lg.removeHandler(handler)
        lg.setLevel(level)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.mark.parametrize(
    ("line", "level", "source", "message"),
    [
        pytest.param(
            HANDSHAKE,
            logging.INFO,
            "ssl_transport_security.cc:2563",
            HANDSHAKE.split("] ", 1)[1],
            id="info",
        ),
        pytest.param(
            "W1204 15:10:43.272025   10306 log.cc:102] Log level INFO is not suitable",
            logging.WARNING,
            "log.cc:102",
            "Log level INFO is not suitable",
            id="warning",
        ),
        pytest.param(
            "E1204 15:10:43.272025 12345678 chttp2_server.cc:1 bad\x1b[2Jthing",
            None,
            None,
            None,
            id="no-bracket-not-core",
        ),
        pytest.param(
            "F1204 15:10:43.272025      7 tcp_posix.cc:9] crash \x1b[2J here",
            logging.CRITICAL,
            "tcp_posix.cc:9",
            "crash \\x1b[2J here",
            id="fatal-escaped",
        ),
        pytest.param("Traceback (most recent call last):", None, None, None, id="python"),
    ],
)
def test_core_lines_are_parsed(
    line: str, level: int | None, source: str | None, message: str | None
) -> None:
    parsed = parse_core_line(line)
    if level is None:
        assert parsed is None
    else:
        assert parsed is not None
        assert (parsed.level, parsed.source, parsed.message) == (level, source, message)


def test_the_first_failure_is_logged_then_one_count_per_interval(records: Records) -> None:
    clock = Clock()
    summary = HandshakeSummary(logging.getLogger("summary-test"), 60, clock)
    summary.failed("unknown CA")
    assert len(records.seen) == 1
    assert records.seen[0][2].startswith("TLS handshake failed: unknown CA")
    for n in range(5):
        clock.now += 1
        summary.failed(f"no certificate {n}")
        summary.tick()
    assert len(records.seen) == 1
    assert summary.seconds_to_next() == 55

    clock.now += 55
    summary.tick()
    assert records.seen[1][2] == (
        "TLS handshakes failed since the last report: 5; the last: no certificate 4"
    )
    assert summary.seconds_to_next() is None

    # Within the next interval a failure is counted again, and flushed at shutdown.
    clock.now += 30
    summary.failed("unknown CA", logging.WARNING)
    summary.tick()
    assert len(records.seen) == 2
    summary.flush()
    assert records.seen[2] == (
        "summary-test",
        logging.WARNING,
        "TLS handshakes failed since the last report: 1; the last: unknown CA",
    )
    summary.flush()
    assert len(records.seen) == 3


def test_after_a_quiet_interval_a_failure_is_logged_at_once(records: Records) -> None:
    clock = Clock()
    summary = HandshakeSummary(logging.getLogger("summary-test"), 60, clock)
    summary.failed("first")
    clock.now += 60
    summary.failed("second")
    assert [m for _, _, m in records.seen] == [
        "TLS handshake failed: first (further failures are counted, one line per 60 s)",
        "TLS handshake failed: second (further failures are counted, one line per 60 s)",
    ]


def test_the_relay_logs_every_line_it_reads_and_the_pending_count_at_the_end(
    records: Records,
) -> None:
    read_end, write_end = os.pipe()
    summary = HandshakeSummary(logging.getLogger("grpc"), 3600)
    reader = threading.Thread(target=relay, args=(read_end, summary))
    reader.start()
    lines = [
        HANDSHAKE,
        "W1204 15:10:43.272025   10306 log.cc:102] Log level INFO is not suitable",
        NO_CERTIFICATE,
        "",
        "WARNING: All log messages before absl::InitializeLog() are written to STDERR",
        NO_CERTIFICATE,
    ]
    with os.fdopen(write_end, "wb") as pipe:
        pipe.write("\n".join(lines).encode() + b"\nno newline at the end \x1b[31m")
    reader.join()
    os.close(read_end)
    assert records.seen == [
        ("grpc", logging.INFO, records.seen[0][2]),
        ("grpc", logging.WARNING, "log.cc:102 Log level INFO is not suitable"),
        (
            "stderr",
            logging.WARNING,
            "WARNING: All log messages before absl::InitializeLog() are written to STDERR",
        ),
        ("stderr", logging.WARNING, "no newline at the end \\x1b[31m"),
        (
            "grpc",
            logging.INFO,
            "TLS handshakes failed since the last report: 2; the last: SSL_ERROR_SSL:"
            " error:100000c0:SSL routines:OPENSSL_internal:PEER_DID_NOT_RETURN_A_CERTIFICATE:"
            " Invalid certificate verification context",
        ),
    ]
    assert "CERTIFICATE_VERIFY_FAILED" in records.seen[0][2]
