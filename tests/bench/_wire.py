"""What the benchmark processes share on the wire: method names, framing, channel settings.

Kept free of heavy imports so the client processes that load it stay small.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import struct
from collections.abc import Coroutine, Iterator
from pathlib import Path
from typing import Any

import grpc

BARE_SERVICE = "ecx.bench.Bare"
ECHO_METHOD = f"/{BARE_SERVICE}/Echo"
# Echo after checking the request as SubmitDenial must before it stores anything.
CHECK_METHOD = f"/{BARE_SERVICE}/Check"
STREAM_METHOD = f"/{BARE_SERVICE}/Stream"
SYNC_METHOD = "/ecx.v1.DenialService/SyncDenials"

# Every benchmark channel gets its own connection (no subchannel sharing between channels) and
# the receive limit the client library uses.
CHANNEL_OPTIONS = [
    ("grpc.max_receive_message_length", 64 * 1024 * 1024),
    ("grpc.use_local_subchannel_pool", 1),
]

# Frames in the request and capture files: (tag, length) then the message bytes.
_FRAME = struct.Struct(">II")


def channel_credentials(identity_dir: Path) -> grpc.ChannelCredentials:
    """mTLS credentials of an identity directory, as the client library builds them."""
    return grpc.ssl_channel_credentials(
        root_certificates=(identity_dir / "ca.pem").read_bytes(),
        private_key=(identity_dir / "key.pem").read_bytes(),
        certificate_chain=(identity_dir / "cert.pem").read_bytes(),
    )


def secure_channel(target: str, identity_dir: Path) -> grpc.aio.Channel:
    return grpc.aio.secure_channel(
        target, channel_credentials(identity_dir), options=CHANNEL_OPTIONS
    )


def write_frames(path: Path, frames: list[tuple[int, bytes]]) -> None:
    with FrameWriter(path) as out:
        for tag, data in frames:
            out.write(tag, data)


def read_frames(path: Path) -> Iterator[tuple[int, bytes]]:
    data = path.read_bytes()
    view = memoryview(data)
    pos = 0
    while pos < len(data):
        tag, size = _FRAME.unpack_from(data, pos)
        pos += _FRAME.size
        if pos + size > len(data):
            raise ValueError(f"{path}: truncated frame at offset {pos}")
        yield tag, bytes(view[pos : pos + size])
        pos += size


class FrameWriter:
    """Writes frames to a new file; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self._out = path.open("wb")

    def __enter__(self) -> FrameWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self._out.close()

    def write(self, tag: int, data: bytes) -> None:
        self._out.write(_FRAME.pack(tag, len(data)))
        self._out.write(data)


def usage() -> dict[str, float]:
    """Peak resident set so far (ru_maxrss, KiB on Linux; and VmHWM of this program image when
    /proc has it) and CPU seconds of this process."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"maxrss_kb": ru.ru_maxrss, "vmhwm_kb": _vmhwm_kb(), "cpu_s": ru.ru_utime + ru.ru_stime}


def _vmhwm_kb() -> float:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return float(line.split()[1])
    except OSError:
        pass
    return float("nan")


def run_bounded(main: Coroutine[Any, Any, dict[str, Any]]) -> None:
    """Run a client process's main coroutine with an overall deadline; print its JSON result."""
    limit = float(os.environ.get("ECX_BENCH_CHILD_TIMEOUT", "1800"))
    print(json.dumps(asyncio.run(asyncio.wait_for(main, limit))))
