"""Client side of test_bench_screening: ScreenTransaction through EcxClient, one query at a time.

    python tests/bench/_screen_client.py TARGET IDENTITY_DIR QUERIES_JSON OUT_JSON

QUERIES_JSON holds {"warmup": [...], "queries": [...], "max_results": N}, each query a
`tests.bench._names_gen.Query` as JSON. The warm-up queries run first and are not timed; each
timed query is one awaited `consultations.screen` call, its transaction built beforehand.
OUT_JSON receives one record per timed query: latency, the candidates' references (best first),
the best score and how many denials the hub compared. Prints one JSON line with totals, this
process's CPU time over the timed queries and its peak RSS.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

from tests.bench._wire import run_bounded, usage


def _transaction(query: dict[str, Any]) -> Any:
    from ecx.v1 import consultation_pb2, denial_pb2

    return consultation_pb2.Transaction(
        regime=denial_pb2.Regime.Value(query["regime"]),
        licence_type=denial_pb2.EXPORT,
        destination_country=query["destination"],
        end_user=denial_pb2.Party(name=query["name"], country=query["country"]),
        control_entries=query["entries"],
    )


async def main(argv: list[str]) -> dict[str, Any]:
    from client.api import EcxClient
    from client.identity import Identity

    target, identity_dir, out_path = argv[0], Path(argv[1]), argv[3]
    with open(argv[2], encoding="utf-8") as f:  # noqa: ASYNC230 - before any RPC
        spec = json.load(f)
    limit = int(spec["max_results"])
    warmup = [_transaction(q) for q in spec["warmup"]]
    timed = [(q["id"], _transaction(q)) for q in spec["queries"]]
    records: list[dict[str, Any]] = []
    async with EcxClient(target, Identity.load(identity_dir), timeout=120) as ecx:
        await ecx.whoami()
        for tx in warmup:
            await ecx.consultations.screen(tx, max_results=limit)
        before = usage()
        started = time.perf_counter()
        for query_id, tx in timed:
            t0 = time.perf_counter()
            response = await ecx.consultations.screen(tx, max_results=limit)
            elapsed = time.perf_counter() - t0
            records.append(
                {
                    "id": query_id,
                    "ms": elapsed * 1000,
                    "refs": [c.reference for c in response.candidates],
                    "top_score": response.candidates[0].score if response.candidates else 0.0,
                    "compared": response.denials_compared,
                }
            )
        wall = time.perf_counter() - started
    after = usage()
    with open(out_path, "w", encoding="utf-8") as f:  # noqa: ASYNC230 - after the last RPC
        json.dump(records, f)
    return {
        "queries": len(records),
        "wall_s": wall,
        "client_cpu_s": after["cpu_s"] - before["cpu_s"],
        "maxrss_kb": after["maxrss_kb"],
    }


if __name__ == "__main__":
    run_bounded(main(sys.argv[1:]))
