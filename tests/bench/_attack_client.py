"""Client side of test_bench_screening_attack: one authority's costly screenings, back to back.

    python tests/bench/_attack_client.py TARGET IDENTITY_DIR TRANSACTION_BIN LOOPS CALLS STOP_FILE

LOOPS loops on one channel each send the transaction in TRANSACTION_BIN (a serialized
ecx.v1.Transaction) again as soon as their last call is answered; each stops after CALLS calls
(0: no limit) or once STOP_FILE exists. Prints one JSON line: the calls made, how many ended
with each status code, and each call's latency in ms.
"""

from __future__ import annotations

import asyncio
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tests.bench._wire import run_bounded


async def main(argv: list[str]) -> dict[str, Any]:
    import grpc

    from client.api import EcxClient
    from client.errors import RemoteError
    from client.identity import Identity
    from ecx.v1 import consultation_pb2

    target, identity_dir = argv[0], Path(argv[1])
    data = Path(argv[2]).read_bytes()  # noqa: ASYNC240 - before any RPC
    transaction = consultation_pb2.Transaction.FromString(data)
    loops, calls, stop = int(argv[3]), int(argv[4]), Path(argv[5])
    identity = Identity.load(identity_dir)
    codes: Counter[str] = Counter()
    latencies: list[float] = []

    async def loop() -> None:
        async with EcxClient(target, identity, timeout=600) as ecx:
            made = 0
            while (not calls or made < calls) and not await asyncio.to_thread(stop.exists):
                t0 = time.perf_counter()
                try:
                    await ecx.consultations.screen(transaction)
                    code = grpc.StatusCode.OK
                except RemoteError as e:
                    code = e.code
                latencies.append((time.perf_counter() - t0) * 1000)
                codes[code.name] += 1
                made += 1

    await asyncio.gather(*(loop() for _ in range(loops)))
    return {"calls": len(latencies), "codes": dict(codes), "ms": latencies}


if __name__ == "__main__":
    run_bounded(main(sys.argv[1:]))
