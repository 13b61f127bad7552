"""Worker processes: more hub processes on the same port and store, for more than one core.

The process started by `ecx-server run` serves as worker 0 and starts the others with
`--worker-of ADDRESS`. Each worker is a whole hub: it terminates TLS, authenticates, validates
and verifies on its own interpreter, and writes through its own writer; the store serialises the
writers of all workers (see server.store.sqlite). The kernel spreads new connections over the
workers (SO_REUSEPORT). A worker that dies is started again; a worker whose parent has gone
stops by itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sys
from pathlib import Path

from server.errors import ConfigError

log = logging.getLogger(__name__)

READY_TIMEOUT_S = 60.0
STOP_TIMEOUT_S = 10.0
# Restart delays after a worker dies: doubling from the first up to the last.
RESTART_DELAY_S = (0.5, 30.0)


class WorkerPool:
    """Workers 1..count of a hub whose worker 0 is this process."""

    def __init__(
        self,
        config_path: Path,
        address: str,
        count: int,
        log_level: str,
        stderr: int | None = None,
    ) -> None:
        # Where the workers write their log (each relays its own gRPC core lines).
        self._stderr = stderr
        self._command = [
            sys.executable,
            "-m",
            "server.main",
            "--log-level",
            log_level,
            "run",
            "--config",
            str(config_path),
            "--worker-of",
            address,
        ]
        self._count = count
        self._processes: dict[int, asyncio.subprocess.Process] = {}
        # Workers that have said they serve, so have their signal handlers in place.
        self._serving: set[int] = set()
        self._watchers: list[asyncio.Task[None]] = []
        self._stopping = False

    async def start(self) -> None:
        """Start every worker and wait until each serves; ConfigError if one does not."""
        try:
            for n in range(1, self._count + 1):
                await self._spawn(n)
        except BaseException:
            await self.stop()
            raise
        self._watchers = [
            asyncio.create_task(self._watch(n), name=f"worker-{n}")
            for n in range(1, self._count + 1)
        ]

    async def _spawn(self, n: int) -> None:
        self._serving.discard(n)
        # In a session of its own, so a Ctrl-C at the terminal reaches only this process, which
        # then stops the workers in order.
        process = await asyncio.create_subprocess_exec(
            *self._command,
            stdout=asyncio.subprocess.PIPE,
            stdin=asyncio.subprocess.DEVNULL,
            stderr=self._stderr,
            start_new_session=True,
        )
        self._processes[n] = process
        assert process.stdout is not None
        try:
            line = await asyncio.wait_for(process.stdout.readline(), READY_TIMEOUT_S)
        except TimeoutError:
            line = b""
        if not line.startswith(b"ecx hub ready"):
            with contextlib.suppress(ProcessLookupError):
                process.kill()
            await process.wait()
            raise ConfigError(f"hub worker {n} did not start (exit status {process.returncode})")
        self._serving.add(n)
        log.info("hub worker %d serving (pid %d)", n, process.pid)

    def send_signal(self, sig: int) -> None:
        """Pass a signal on to every worker that serves (one still starting reads its files
        afresh anyway)."""
        for n in sorted(self._serving):
            process = self._processes[n]
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.send_signal(sig)

    async def _watch(self, n: int) -> None:
        delay = RESTART_DELAY_S[0]
        while not self._stopping:
            status = await self._processes[n].wait()
            if self._stopping:
                return
            log.error("hub worker %d exited with status %s; starting it again", n, status)
            await asyncio.sleep(delay)
            if self._stopping:
                return
            try:
                await self._spawn(n)
            except ConfigError as e:
                log.error("%s", e.message)
                delay = min(delay * 2, RESTART_DELAY_S[1])
            else:
                delay = RESTART_DELAY_S[0]

    async def stop(self) -> None:
        """Ask every worker to finish its calls and stop; kill those that do not in time."""
        self._stopping = True
        for process in self._processes.values():
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.terminate()
        for process in self._processes.values():
            try:
                await asyncio.wait_for(process.wait(), STOP_TIMEOUT_S)
            except TimeoutError:
                log.error("hub worker pid %d did not stop; killing it", process.pid)
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
                await process.wait()
        for watcher in self._watchers:
            watcher.cancel()
        await asyncio.gather(*self._watchers, return_exceptions=True)
        self._watchers = []


async def stop_when_orphaned(stop: asyncio.Event, interval_s: float = 1.0) -> None:
    """Set stop once the process that started this worker has gone."""
    parent = os.getppid()
    while not stop.is_set():
        if os.getppid() != parent:
            log.error("hub worker's parent process has gone; stopping")
            stop.set()
            return
        await asyncio.sleep(interval_s)
