"""One log format on the hub's stderr: what gRPC's C core writes straight to file descriptor 2 is
taken in, parsed and logged again like every other line, and failed TLS handshakes are summarised,
so that strangers' connections cannot fill the operator's log.

`ecx-server run` points its file descriptor 2 at a pipe read by a relay process
(`python -m server.logs`), and writes its own log records to the original stderr. A process of its
own rather than a thread: when the hub dies of a fatal error, what it wrote last (a C-core `F`
line, "Fatal Python error") is still read, logged, and any pending summary written.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import re
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import TextIO

from client.core.text import escape_line

log = logging.getLogger(__name__)

LOG_FORMAT = "%(asctime)s %(levelname)s [%(process)d] %(name)s %(message)s"

# absl's prefix, as gRPC's C core writes it: level letter, MMDD, time, thread id, file:line]
_CORE_LINE = re.compile(
    r"([IWEF])\d{4} \d{2}:\d{2}:\d{2}\.\d{6} +\d+ ([^ :\]]+):(\d+)\] ?(.*)", re.DOTALL
)
_CORE_LEVELS = {
    "I": logging.INFO,
    "W": logging.WARNING,
    "E": logging.ERROR,
    "F": logging.CRITICAL,
}
_HANDSHAKE_FAILED = re.compile(r"Handshake failed(?: with error)?:? ?(.*)", re.DOTALL)
_HANDSHAKE_SOURCE = "ssl_transport_security.cc"
# Longer lines are logged in pieces of this many bytes; longer reasons are cut.
MAX_LINE = 16 * 1024
MAX_REASON = 300
RELAY_STOP_TIMEOUT_S = 10.0


@dataclass(frozen=True)
class CoreLine:
    """One line of gRPC's C core: its level, where in the core it was written, and what."""

    level: int
    source: str
    message: str


def escaped(text: str) -> str:
    """Text fit for one log line: control and invisible characters escaped."""
    return escape_line(text)


def parse_core_line(line: str) -> CoreLine | None:
    """The parts of a C-core log line; None for any other line."""
    match = _CORE_LINE.fullmatch(line)
    if match is None:
        return None
    letter, source, number, message = match.groups()
    return CoreLine(_CORE_LEVELS[letter], f"{source}:{number}", escaped(message))


class HandshakeSummary:
    """Failed TLS handshakes: the first is logged, then at most one line per interval says how
    many failed since the line before and the last reason."""

    def __init__(
        self,
        logger: logging.Logger,
        interval_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._log = logger
        self._interval = interval_s
        self._clock = clock
        self._last_line_at: float | None = None
        self._pending = 0
        self._level = logging.NOTSET
        self._reason = ""

    def failed(self, reason: str, level: int = logging.INFO) -> None:
        now = self._clock()
        if len(reason) > MAX_REASON:
            reason = reason[:MAX_REASON] + "…"
        quiet = self._last_line_at is None or now - self._last_line_at >= self._interval
        if self._pending == 0 and quiet:
            self._log.log(
                level,
                "TLS handshake failed: %s (further failures are counted, one line per %g s)",
                reason,
                self._interval,
            )
            self._last_line_at = now
            return
        self._pending += 1
        self._level = max(self._level, level)
        self._reason = reason

    def seconds_to_next(self) -> float | None:
        """How long until a pending count is due to be logged; None if none is pending."""
        if self._pending == 0 or self._last_line_at is None:
            return None
        return max(0.0, self._last_line_at + self._interval - self._clock())

    def tick(self) -> None:
        """Log the pending count if its interval has passed."""
        wait = self.seconds_to_next()
        if wait is not None and wait <= 0:
            self.flush()

    def flush(self) -> None:
        """Log the pending count now (at shutdown)."""
        if self._pending == 0:
            return
        self._log.log(
            self._level,
            "TLS handshakes failed since the last report: %d; the last: %s",
            self._pending,
            self._reason,
        )
        self._pending = 0
        self._level = logging.NOTSET
        self._last_line_at = self._clock()


class CoreLogRelay:
    """While entered, file descriptor 2 of this process is a pipe to a relay process that logs
    each line in the hub's format; the hub's own records go to the original stderr. Where the
    relay cannot start, or once it has died, fd 2 is the original stderr again."""

    def __init__(self, handshake_summary_s: int, log_level: str) -> None:
        self._command = [
            sys.executable,
            "-m",
            "server.logs",
            "--pid",
            str(os.getpid()),
            "--handshake-summary-seconds",
            str(handshake_summary_s),
            "--log-level",
            log_level,
        ]
        # A duplicate of the stderr the process was started with, for its log records and for
        # processes it starts (workers relay their own lines).
        self.original_stderr: int | None = None
        self._stream: TextIO | None = None
        self._redirected: list[logging.StreamHandler[TextIO]] = []
        self._relay: subprocess.Popen[bytes] | None = None
        self._watcher: threading.Thread | None = None
        self._stopping = False

    def __enter__(self) -> CoreLogRelay:
        sys.stderr.flush()
        try:
            original = os.dup(2)
        except OSError:
            return self
        read_end, write_end = os.pipe()
        try:
            self._relay = subprocess.Popen(
                self._command,
                stdin=read_end,
                stdout=subprocess.DEVNULL,
                stderr=original,
                start_new_session=True,
            )
        except OSError as e:
            for fd in (original, write_end):
                os.close(fd)
            log.warning("gRPC core lines are not relayed: %s", escaped(str(e)))
            return self
        finally:
            os.close(read_end)
        self.original_stderr = original
        self._stream = open(
            original, "w", encoding="utf-8", errors="backslashreplace", closefd=False
        )
        for handler in logging.getLogger().handlers:
            if isinstance(handler, logging.StreamHandler) and handler.stream is sys.stderr:
                handler.setStream(self._stream)
                self._redirected.append(handler)
        os.dup2(write_end, 2)
        os.close(write_end)
        self._watcher = threading.Thread(
            target=self._watch, args=(self._relay, original), name="core-log-relay", daemon=True
        )
        self._watcher.start()
        return self

    def _watch(self, relay: subprocess.Popen[bytes], original_stderr: int) -> None:
        status = relay.wait()
        if not self._stopping:
            os.dup2(original_stderr, 2)
            log.error("the relay of gRPC core lines exited (status %s); they now come raw", status)

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._relay is None or self.original_stderr is None:
            return
        self._stopping = True
        sys.stderr.flush()
        # Closes this process's end of the pipe: the relay reads to the end, logs any pending
        # summary and exits.
        os.dup2(self.original_stderr, 2)
        try:
            self._relay.wait(RELAY_STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            self._relay.kill()
            self._relay.wait()
        if self._watcher is not None:
            self._watcher.join()
        for handler in self._redirected:
            handler.setStream(sys.stderr)
        if self._stream is not None:
            self._stream.close()
        os.close(self.original_stderr)
        self.original_stderr = None


def relay(source: int, summary: HandshakeSummary) -> None:
    """Log every line read from source until its end, then any pending summary."""
    core = logging.getLogger("grpc")
    other = logging.getLogger("stderr")

    def log_line(raw: bytes) -> None:
        line = raw.decode("utf-8", errors="backslashreplace").rstrip("\r")
        if not line.strip():
            return
        parsed = parse_core_line(line)
        if parsed is None:
            other.warning("%s", escaped(line))
            return
        failed = _HANDSHAKE_FAILED.fullmatch(parsed.message)
        if parsed.source.startswith(_HANDSHAKE_SOURCE + ":") and failed is not None:
            summary.failed(failed.group(1), parsed.level)
        else:
            core.log(parsed.level, "%s %s", parsed.source, parsed.message)

    pending = b""
    with selectors.DefaultSelector() as selector:
        selector.register(source, selectors.EVENT_READ)
        while True:
            if selector.select(summary.seconds_to_next()):
                chunk = os.read(source, 65536)
                if not chunk:
                    break
                pending += chunk
                *lines, pending = pending.split(b"\n")
                for line in lines:
                    log_line(line)
                while len(pending) >= MAX_LINE:
                    log_line(pending[:MAX_LINE])
                    pending = pending[MAX_LINE:]
            summary.tick()
    log_line(pending)
    summary.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m server.logs", description=__doc__)
    parser.add_argument("--pid", type=int, required=True, help="the hub process relayed")
    parser.add_argument("--handshake-summary-seconds", type=int, default=60)
    parser.add_argument("--log-level", default="INFO")
    args = parser.parse_args(argv)
    # The relay ends when the hub has closed its end of the pipe, not on a signal meant for the
    # hub: what the hub wrote last is still logged.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_IGN)
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(LOG_FORMAT))

    def as_the_hub(record: logging.LogRecord) -> bool:
        record.process = args.pid
        return True

    handler.addFilter(as_the_hub)
    root = logging.getLogger()
    root.addHandler(handler)
    root.setLevel(args.log_level.upper())
    summary = HandshakeSummary(logging.getLogger("grpc"), args.handshake_summary_seconds)
    with contextlib.suppress(KeyboardInterrupt):
        relay(sys.stdin.fileno(), summary)
    return 0


if __name__ == "__main__":
    sys.exit(main())
