"""Client side of test_bench_sync, run in its own process so its peak memory is its own.

    python tests/bench/_sync_client.py MODE TARGET IDENTITY_DIR [CAPTURE_FILE]

MODE:
  ecx        EcxClient.sync_denials from an empty cursor, counting messages and changes and
             keeping the last cursor (as a consumer would; measuring bytes would re-encode)
  raw        the bare stream: receive the bytes, decode nothing
  raw-parse  the bare stream, each message decoded as a SyncDenialsResponse
  capture    the hub's SyncDenials read as raw bytes and written to CAPTURE_FILE as frames

The connection is made before the clock starts. Prints one JSON line with the figures and
this process's peak RSS (ru_maxrss, KiB) at the end.
"""

from __future__ import annotations

import asyncio
import sys
import time
from pathlib import Path
from typing import Any

from tests.bench._wire import (
    STREAM_METHOD,
    SYNC_METHOD,
    FrameWriter,
    run_bounded,
    secure_channel,
    usage,
)


async def ecx_sync(target: str, identity_dir: Path) -> dict[str, Any]:
    from client.api import EcxClient
    from client.identity import Identity

    messages = changes = 0
    cursor = ""
    async with EcxClient(target, Identity.load(identity_dir), timeout=60) as ecx:
        await ecx.whoami()
        before = usage()
        started = time.perf_counter()
        async for response in ecx.sync_denials():
            messages += 1
            changes += len(response.changes)
            cursor = response.cursor
        elapsed = time.perf_counter() - started
    return {**_result(elapsed, messages, changes, None, before), "cursor": cursor}


async def raw_sync(
    target: str, identity_dir: Path, *, method: str, parse: bool, capture: Path | None
) -> dict[str, Any]:
    parse_message = None
    if parse:
        from ecx.v1 import denial_pb2

        parse_message = denial_pb2.SyncDenialsResponse.FromString
    request = b""  # an empty SyncDenialsRequest: from the start, default batch size
    messages = size = 0
    changes: int | None = 0 if parse else None
    channel = secure_channel(target, identity_dir)
    try:
        await asyncio.wait_for(channel.channel_ready(), 30)
        with FrameWriter(capture) if capture else _NoWriter() as out:
            before = usage()
            started = time.perf_counter()
            async for message in channel.unary_stream(method)(request):
                messages += 1
                size += len(message)
                if parse_message is not None:
                    changes = (changes or 0) + len(parse_message(message).changes)
                out.write(messages, message)
            elapsed = time.perf_counter() - started
    finally:
        await channel.close()
    return _result(elapsed, messages, changes, size, before)


class _NoWriter:
    def __enter__(self) -> _NoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        return None

    def write(self, tag: int, data: bytes) -> None:
        return None


def _result(
    elapsed: float,
    messages: int,
    changes: int | None,
    size: int | None,
    before: dict[str, float],
) -> dict[str, Any]:
    after = usage()
    return {
        "elapsed_s": elapsed,
        "messages": messages,
        "changes": changes,
        "bytes": size,
        "client_cpu_s": after["cpu_s"] - before["cpu_s"],
        "maxrss_kb": after["maxrss_kb"],
        "vmhwm_kb": after["vmhwm_kb"],
    }


async def main(argv: list[str]) -> dict[str, Any]:
    mode, target, identity = argv[0], argv[1], Path(argv[2])
    if mode == "ecx":
        return await ecx_sync(target, identity)
    if mode in ("raw", "raw-parse"):
        return await raw_sync(
            target, identity, method=STREAM_METHOD, parse=mode == "raw-parse", capture=None
        )
    if mode == "capture":
        return await raw_sync(
            target, identity, method=SYNC_METHOD, parse=False, capture=Path(argv[3])
        )
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    run_bounded(main(sys.argv[1:]))
