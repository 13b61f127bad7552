"""Shared parts of the benchmarks: size switch, the bare mTLS baseline server, client processes,
statistics and the table/JSON report.

Every benchmark measures the hub and a baseline in the same run and reports the ratio; absolute
figures on a shared machine are context, never a pass/fail criterion.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import os
import platform
import resource
import signal
import statistics
import sys
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import grpc

from server.config import Limits, TlsConfig
from tests.bench._wire import BARE_SERVICE

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
FULL = os.environ.get("ECX_BENCH_FULL") == "1"
MODE = "full" if FULL else "smoke"
RESULTS_DIR = Path("bench-results")
RATIO_TARGET = 0.5
CHILD_TIMEOUT = 1800.0 if FULL else 120.0


def server_options(limits: Limits) -> list[tuple[str, int]]:
    """The transport options the hub sets that matter for throughput."""
    return [
        ("grpc.max_receive_message_length", limits.max_message_bytes),
        ("grpc.max_send_message_length", 64 * 1024 * 1024),
        ("grpc.so_reuseport", 0),
    ]


@asynccontextmanager
async def bare_server(
    tls: TlsConfig,
    limits: Limits,
    *,
    stream: Sequence[bytes] = (),
    check: Callable[[bytes], object] | None = None,
) -> AsyncIterator[str]:
    """A grpc.aio server with the hub's TLS credentials (mTLS, client certificate required) and
    nothing else: `Echo` returns the request bytes, `Stream` yields `stream` as they are, and
    `Check` calls `check(request)` and then returns the request bytes, as `Echo` does.

    No (de)serializers are registered, so bytes pass through untouched. Yields the address.
    """

    async def echo(request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]) -> bytes:
        return request

    async def checked_echo(
        request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]
    ) -> bytes:
        assert check is not None
        check(request)
        return request

    async def replay(
        request: bytes, context: grpc.aio.ServicerContext[bytes, bytes]
    ) -> AsyncIterator[bytes]:
        for message in stream:
            yield message

    handler = grpc.method_handlers_generic_handler(
        BARE_SERVICE,
        {
            "Echo": grpc.unary_unary_rpc_method_handler(echo),
            "Stream": grpc.unary_stream_rpc_method_handler(replay),
            **({"Check": grpc.unary_unary_rpc_method_handler(checked_echo)} if check else {}),
        },
    )
    server = grpc.aio.server(options=server_options(limits))
    server.add_generic_rpc_handlers([handler])
    credentials = grpc.ssl_server_credentials(
        [(tls.key.read_bytes(), tls.cert.read_bytes())],
        root_certificates=tls.client_ca.read_bytes(),
        require_client_auth=True,
    )
    port = server.add_secure_port("127.0.0.1:0", credentials)
    await server.start()
    try:
        yield f"127.0.0.1:{port}"
    finally:
        await server.stop(None)


def cpu_seconds() -> float:
    """CPU time of this process (every thread), to attribute work to the serving side."""
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return ru.ru_utime + ru.ru_stime


async def run_child(script: str, *args: str) -> dict[str, Any]:
    """Run tests/bench/<script> in a fresh interpreter; return the JSON of its last stdout line.

    The event loop keeps serving while the child runs; the child is killed if it overruns.

    The interpreter is started by a small shell, not by this process directly: on Linux a
    process's ru_maxrss carries over the high-water mark of whatever exec'ed it, so a child of
    this (large) process would report this process's peak instead of its own.
    """
    path = os.pathsep.join(
        p for p in (str(ROOT), str(ROOT / "proto"), os.environ.get("PYTHONPATH", "")) if p
    )
    env = {
        **os.environ,
        "PYTHONPATH": path,
        "ECX_BENCH_CHILD_TIMEOUT": str(CHILD_TIMEOUT),
    }
    command = [sys.executable, str(HERE / script), *args]
    process = await asyncio.create_subprocess_exec(
        "/bin/sh",
        "-c",
        '"$@"; exit $?',
        "sh",
        *command,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        cwd=str(ROOT),
        env=env,
        start_new_session=True,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(), CHILD_TIMEOUT + 30)
    except TimeoutError:
        raise AssertionError(f"{script} {' '.join(args)} ran over {CHILD_TIMEOUT:.0f}s") from None
    finally:
        if process.returncode is None:
            # The shell leads its own session: end it and the interpreter it started.
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            await process.wait()
    if process.returncode != 0:
        raise AssertionError(
            f"{script} {' '.join(args)} exited with {process.returncode}:\n"
            + err.decode(errors="replace")[-4000:]
        )
    lines = out.decode().strip().splitlines()
    if not lines:
        raise AssertionError(f"{script} printed nothing:\n{err.decode(errors='replace')[-4000:]}")
    result: dict[str, Any] = json.loads(lines[-1])
    return result


def percentile(values: Sequence[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


def median(values: Sequence[float]) -> float:
    return statistics.median(values) if values else math.nan


def environment() -> dict[str, Any]:
    return {
        "mode": MODE,
        "ECX_BENCH_FULL": os.environ.get("ECX_BENCH_FULL", ""),
        "argv": sys.argv,
        "cpus": os.cpu_count(),
        "loadavg": list(os.getloadavg()),
        "python": platform.python_version(),
        "grpcio": grpc.__version__,
        "platform": platform.platform(),
    }


def print_table(title: str, headers: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(headers)]
    line = "  ".join("-" * w for w in widths)
    print(f"\n{title}")
    print("  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)))
    print(line)
    for row in cells:
        print("  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)))


def _cell(value: object) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "-"
        return f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def write_result(name: str, data: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(parents=True, exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    path.write_text(json.dumps(data, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {path.resolve()}")
    return path
