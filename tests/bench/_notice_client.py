"""Client side of test_bench_notices, run in its own process so that the client's CPU (sealing,
unwrapping, verifying) is not spent in the hub's interpreter.

    python tests/bench/_notice_client.py SPEC.json

SPEC: {"hub", "reader", "sharer": identity directories, "denial": a reference the reader may
read, "content": hex of the serialized NoticeContent, "kind", "classification", "review",
"recipients": whom a share to all must name, "reads", "shares", "block", "warmup", "timeout"}.
The notices read are those the warm-up shares, read in turn.

Three kinds, one call at a time, in blocks whose order rotates so drift of the machine falls on
each alike: `notice` (GetNotice, then open: unwrap, decrypt, verify every step), `denial`
(GetDenial) and `share` (ShareNotice to all, from sealing to the hub's answer). Every read is
checked after its clock stops: the content opened is the content shared, the denial is the one
asked for. Prints one JSON line.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import time
from pathlib import Path
from typing import Any

from client.api import EcxClient
from client.identity import Identity
from ecx.v1 import notice_pb2
from tests.bench._wire import run_bounded, usage


async def main(spec: dict[str, Any]) -> dict[str, Any]:
    expected = notice_pb2.NoticeContent.FromString(bytes.fromhex(spec["content"]))
    denial: str = spec["denial"]
    review = dt.date.fromisoformat(spec["review"])
    recipients: list[str] = spec["recipients"]
    reads: int = spec["reads"]
    block: int = spec["block"]
    share_block = max(1, block * spec["shares"] // reads)
    timeout = float(spec["timeout"])
    clock = time.perf_counter
    latencies: dict[str, list[float]] = {"notice": [], "denial": [], "share": []}
    get_s: list[float] = []
    opened_count = 0
    shared: list[str] = []

    async with (
        EcxClient(spec["hub"], Identity.load(Path(spec["reader"])), timeout=timeout) as reader,
        EcxClient(spec["hub"], Identity.load(Path(spec["sharer"])), timeout=timeout) as sharer,
    ):

        async def read_notice(reference: str) -> tuple[float, float]:
            nonlocal opened_count
            started = clock()
            notice = await reader.notices.get(reference)
            got = clock()
            opened = await reader.notices.open(notice)
            done = clock()
            if opened.content != expected or opened.reference != reference:
                raise SystemExit(f"{reference} opened to other content than was shared")
            opened_count += 1
            return got - started, done - started

        async def read_denial() -> float:
            started = clock()
            response = await reader.get_denial(denial)
            done = clock()
            if response.denial.reference != denial:
                raise SystemExit(f"GetDenial {denial} answered {response.denial.reference}")
            return done - started

        async def share(reference: str) -> float:
            started = clock()
            notice = await sharer.notices.share(
                reference,
                expected,
                kind=spec["kind"],
                classification=spec["classification"],
                review=review,
            )
            done = clock()
            if notice.version != 1 or list(notice.recipients) != recipients:
                raise SystemExit(f"{reference} shared to {list(notice.recipients)}")
            shared.append(reference)
            return done - started

        # Warm both connections, the signer cache and every code path before timing.
        notices = [f"NL-N-BENCH-W{i:05d}" for i in range(spec["warmup"])]
        for reference in notices:
            await share(reference)
            await read_notice(reference)
            await read_denial()

        before = usage()
        kinds = list(latencies)
        for b, start in enumerate(range(0, reads, block)):
            for kind in kinds[b % 3 :] + kinds[: b % 3]:
                out = latencies[kind]
                if kind == "notice":
                    for i in range(start, min(start + block, reads)):
                        rpc, total = await read_notice(notices[i % len(notices)])
                        get_s.append(rpc)
                        out.append(total)
                elif kind == "denial":
                    for _ in range(start, min(start + block, reads)):
                        out.append(await read_denial())
                else:
                    for _ in range(share_block):
                        out.append(await share(f"NL-N-BENCH-{len(out):05d}"))
        after = usage()

        # What was shared under the clock opens for the reader too.
        for reference in shared[:: max(1, len(shared) // 10)]:
            await read_notice(reference)

    return {
        "latencies_s": latencies,
        "get_notice_s": get_s,
        "opened": opened_count,
        "shared": len(shared),
        "client_cpu_s": after["cpu_s"] - before["cpu_s"],
        "maxrss_kb": after["maxrss_kb"],
    }


if __name__ == "__main__":
    run_bounded(main(json.loads(Path(sys.argv[1]).read_text(encoding="utf-8"))))
