"""Load generator for test_bench_submit, run in its own process so it does not share the
serving process's interpreter.

    python tests/bench/_submit_client.py SPEC.json

SPEC: {"target", "kind": "hub" | "echo" | "check", "requests": frame file, "identities": [dir
per worker], "timeout"}. Frame tags in the request file name the worker (one channel, one
connection each) that sends the request; each worker sends its requests one after another, so
the number of workers is the concurrency. `hub` sends SubmitDenialRequest messages through the
generated stub; `echo` and `check` send the same serialized bytes to the bare server's echo and
checked-echo methods. Prints one JSON line.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path
from typing import Any

import grpc

from ecx.v1 import denial_pb2, denial_pb2_grpc, participant_pb2, participant_pb2_grpc
from tests.bench._wire import (
    CHECK_METHOD,
    ECHO_METHOD,
    read_frames,
    run_bounded,
    secure_channel,
    usage,
)


async def _worker(
    call: Any,
    messages: list[Any],
    deadline: float,
    latencies: list[float],
    errors: Counter[str],
    samples: list[str],
) -> int:
    received_bytes = 0
    for message in messages:
        started = time.perf_counter()
        try:
            response = await call(message, timeout=deadline)
        except grpc.aio.AioRpcError as e:
            errors[e.code().name] += 1
            if len(samples) < 5:
                samples.append(f"{e.code().name}: {e.details()}")
        else:
            received_bytes += len(response) if isinstance(response, bytes) else response.ByteSize()
        latencies.append(time.perf_counter() - started)
    return received_bytes


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    kind = spec["kind"]
    timeout = float(spec["timeout"])
    by_worker: dict[int, list[bytes]] = defaultdict(list)
    for worker, data in read_frames(Path(spec["requests"])):
        by_worker[worker].append(data)
    identities = [Path(p) for p in spec["identities"]]
    channels = [secure_channel(spec["target"], d) for d in identities]
    try:
        await asyncio.wait_for(asyncio.gather(*(c.channel_ready() for c in channels)), 30)
        if kind == "hub":
            calls = [denial_pb2_grpc.DenialServiceStub(c).SubmitDenial for c in channels]
            messages = [
                [denial_pb2.SubmitDenialRequest.FromString(b) for b in by_worker[w]]
                for w in range(len(channels))
            ]
            # One authenticated call per connection before timing, as for the echo below.
            for c in channels:
                stub = participant_pb2_grpc.ParticipantServiceStub(c)
                await stub.WhoAmI(participant_pb2.WhoAmIRequest(), timeout=timeout)
        elif kind in ("echo", "check"):
            method = ECHO_METHOD if kind == "echo" else CHECK_METHOD
            calls = [c.unary_unary(method) for c in channels]
            messages = [by_worker[w] for w in range(len(channels))]
            for call, batch in zip(calls, messages, strict=True):
                if batch:
                    await call(batch[0], timeout=timeout)
        else:
            raise SystemExit(f"unknown kind {kind!r}")
        latencies: list[float] = []
        errors: Counter[str] = Counter()
        samples: list[str] = []
        before = usage()
        started = time.perf_counter()
        sizes = await asyncio.gather(
            *(
                _worker(call, batch, timeout, latencies, errors, samples)
                for call, batch in zip(calls, messages, strict=True)
            )
        )
        elapsed = time.perf_counter() - started
        after = usage()
    finally:
        await asyncio.gather(*(c.close() for c in channels))
    requests = sum(len(m) for m in messages)
    return {
        "kind": kind,
        "requests": requests,
        "ok": requests - sum(errors.values()),
        "errors": dict(errors),
        "error_samples": samples,
        "elapsed_s": elapsed,
        "latencies_s": latencies,
        "request_bytes": sum(len(b) for w in by_worker.values() for b in w),
        "response_bytes": sum(sizes),
        "client_cpu_s": after["cpu_s"] - before["cpu_s"],
        "maxrss_kb": after["maxrss_kb"],
        "vmhwm_kb": after["vmhwm_kb"],
    }


if __name__ == "__main__":
    run_bounded(main(json.loads(Path(sys.argv[1]).read_text())))
