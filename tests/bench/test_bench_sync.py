"""SyncDenials of a large store from an empty cursor, next to a bare mTLS stream of the very same
response bytes (same messages, same sizes, same batching) served from memory, in the same run.

The store is seeded through the hub's own write path (DenialExchange.submit_denial on the
SQLite store, without the network), so every record is a verified, validated, distinct signed
denial built exactly as a SubmitDenial builds it. The client runs in a child process so its peak
RSS is measured on its own.

Smoke size by default; ECX_BENCH_FULL=1 for the full run. Writes bench-results/sync.json.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import time
from pathlib import Path
from typing import Any

from certs.devpki import AUTHORITIES, DevPki
from client.api import new_request_id
from client.core.envelope import DENIAL_PAYLOAD_TYPE, sign
from client.identity import Identity
from ecx.v1 import denial_pb2
from server.app import Hub, load_log_key
from server.clock import FixedClock
from server.config import HubConfig
from server.domain.denials import DenialRules
from server.domain.participants import Caller
from server.registry import Registry
from server.revocation import RevocationList
from server.services.denials import DenialExchange
from server.services.paging import PositionTokens
from server.services.signed import SignedState
from server.store.sqlite import SqliteStore
from tests.bench._common import (
    FULL,
    RATIO_TARGET,
    bare_server,
    cpu_seconds,
    environment,
    median,
    print_table,
    run_child,
    write_result,
)
from tests.bench._wire import read_frames
from tests.helpers import START, dual_use_payload, hub_config, military_payload

SIGNERS = ("nl", "de", "fr", "es", "it")
READER = "de"  # an authority: reads both regimes, so it receives every seeded denial
DENIALS = 100_000 if FULL else 2_000
ROUNDS = 5 if FULL else 1
SEED_CONCURRENCY = 512
SEED_BATCH_MAX = 1024


async def seed(config: HubConfig, pki: DevPki, count: int) -> dict[str, Any]:
    """Submit `count` distinct denials (alternating dual-use and military, spread over five
    authorities) through DenialExchange.submit_denial into the store at config.store."""
    registry = Registry.load(config.registry, RevocationList.for_tls(config.tls))
    clock = FixedClock(START)
    keys = {name: Identity.load(pki.identity(name)).require_signing_key() for name in SIGNERS}
    callers = {}
    for name in SIGNERS:
        participant = registry.get(name)
        assert participant is not None
        callers[name] = Caller(participant, 0, START + dt.timedelta(days=365))
    indexes = iter(range(count))
    started = time.perf_counter()

    async def submitter(exchange: DenialExchange) -> None:
        for i in indexes:
            name = SIGNERS[i % len(SIGNERS)]
            state = AUTHORITIES[name][0]
            build = military_payload if (i // len(SIGNERS)) % 2 else dual_use_payload
            payload = build(
                f"{state}-SYNC-{i:07d}",
                state,
                value_eur=10_000 + i,
                quantity=f"{1 + i % 50} units",
            )
            envelope = sign(
                payload.SerializeToString(deterministic=True), DENIAL_PAYLOAD_TYPE, keys[name]
            )
            request = denial_pb2.SubmitDenialRequest(request_id=new_request_id(), envelope=envelope)
            await exchange.submit_denial(callers[name], request)

    async with SqliteStore(config.store, batch_max=SEED_BATCH_MAX) as store:
        rules = DenialRules(validity_years=config.validity_years)
        exchange = DenialExchange(
            store,
            registry,
            clock,
            config.limits,
            rules,
            SignedState(registry, rules),
            PositionTokens.from_log_key(load_log_key(config.log_signing_key)),
        )
        await asyncio.gather(*(submitter(exchange) for _ in range(SEED_CONCURRENCY)))
        commits = store.commits
    return {"denials": count, "seconds": time.perf_counter() - started, "commits": commits}


async def measure(mode: str, target: str, identity: Path) -> dict[str, Any]:
    cpu_before = cpu_seconds()
    result = await run_child("_sync_client.py", mode, target, str(identity))
    result["server_cpu_s"] = cpu_seconds() - cpu_before
    return result


async def test_sync_denials_throughput_against_raw_stream(pki: DevPki, tmp_path: Path) -> None:
    config = hub_config(pki, tmp_path / "ecx.db")
    seeded = await seed(config, pki, DENIALS)
    identity = pki.identity(READER)
    capture = tmp_path / "sync.frames"
    runs: dict[str, list[dict[str, Any]]] = {"ecx": [], "raw": [], "raw-parse": []}
    async with Hub(config, clock=FixedClock(START)) as hub:
        # One untimed pass records the exact response messages and warms every cache.
        captured = await run_child(
            "_sync_client.py", "capture", hub.address, str(identity), str(capture)
        )
        messages = [data for _, data in read_frames(capture)]
        per_message = [len(denial_pb2.SyncDenialsResponse.FromString(m).changes) for m in messages]
        assert sum(per_message) == DENIALS
        assert captured["messages"] == len(messages)
        total_bytes = sum(len(m) for m in messages)
        last_cursor = denial_pb2.SyncDenialsResponse.FromString(messages[-1]).cursor
        async with bare_server(config.tls, config.limits, stream=messages) as raw_address:
            for round_no in range(ROUNDS):
                order = ["raw", "ecx", "raw-parse"]
                if round_no % 2:
                    order.reverse()
                for mode in order:
                    target = hub.address if mode == "ecx" else raw_address
                    result = await measure(mode, target, identity)
                    assert result["messages"] == len(messages), result
                    if mode == "ecx":
                        # The client yields decoded messages, whose size only re-encoding each
                        # would tell: no consumer does that, so the timed loop does not either.
                        # The capture above read these very bytes; here the last cursor shows
                        # the stream ended where the capture did.
                        assert result["cursor"] == last_cursor, result
                    else:
                        assert result["bytes"] == total_bytes, result
                    if result["changes"] is None:
                        result["changes"] = DENIALS
                    assert result["changes"] == DENIALS, result
                    result["round"] = round_no
                    runs[mode].append(result)

    summary = {mode: _summary(results, total_bytes) for mode, results in runs.items()}
    ratio = summary["ecx"]["changes_per_s"] / summary["raw"]["changes_per_s"]
    ratio_parse = summary["ecx"]["changes_per_s"] / summary["raw-parse"]["changes_per_s"]

    labels = {
        "ecx": "SyncDenials (EcxClient)",
        "raw": "bare stream, bytes",
        "raw-parse": "bare stream + decode",
    }
    print(
        f"\nseeded {DENIALS:,} denials through DenialExchange.submit_denial in "
        f"{seeded['seconds']:.1f}s ({seeded['commits']} commits)"
    )
    print_table(
        f"SyncDenials vs bare mTLS stream of the same bytes: {DENIALS:,} changes in "
        f"{len(messages)} messages, {total_bytes / 1e6:.1f} MB, {ROUNDS} round(s)",
        [
            "round",
            "kind",
            "elapsed s",
            "changes/s",
            "MB/s",
            "srv cpu s",
            "cli cpu s",
            "cli peak MB",
        ],
        [
            [
                r["round"],
                labels[mode],
                r["elapsed_s"],
                DENIALS / r["elapsed_s"],
                total_bytes / r["elapsed_s"] / 1e6,
                r["server_cpu_s"],
                r["client_cpu_s"],
                r["maxrss_kb"] / 1024,
            ]
            for mode, results in runs.items()
            for r in results
        ],
    )
    print_table(
        "Summary (median of rounds; peak: highest of rounds)",
        ["kind", "changes/s", "MB/s", "client peak RSS MB"],
        [
            [
                labels[mode],
                s["changes_per_s"],
                s["mb_per_s"],
                s["client_maxrss_kb"] / 1024,
            ]
            for mode, s in summary.items()
        ],
    )
    print(
        f"ratio SyncDenials/bare stream = {ratio:.3f} (target >= {RATIO_TARGET}: "
        f"{'met' if ratio >= RATIO_TARGET else 'NOT met'}); "
        f"against bare stream + client decode = {ratio_parse:.3f}"
    )
    write_result(
        "sync",
        {
            "benchmark": "sync",
            "environment": environment(),
            "config": {
                "denials": DENIALS,
                "rounds": ROUNDS,
                "reader": READER,
                "signers": list(SIGNERS),
                "messages": len(messages),
                "changes_per_message_max": max(per_message),
                "stream_bytes": total_bytes,
            },
            "seed": seeded,
            "summary": summary,
            "ratio": ratio,
            "ratio_against_decoding_baseline": ratio_parse,
            "target": RATIO_TARGET,
            "meets_target": ratio >= RATIO_TARGET,
            "rounds": runs,
        },
    )


def _summary(results: list[dict[str, Any]], total_bytes: int) -> dict[str, Any]:
    elapsed = median([r["elapsed_s"] for r in results])
    return {
        "elapsed_s_median": elapsed,
        "changes_per_s": DENIALS / elapsed,
        "mb_per_s": total_bytes / elapsed / 1e6,
        "server_cpu_s_median": median([r["server_cpu_s"] for r in results]),
        "client_cpu_s_median": median([r["client_cpu_s"] for r in results]),
        "client_maxrss_kb": max(r["maxrss_kb"] for r in results),
    }
