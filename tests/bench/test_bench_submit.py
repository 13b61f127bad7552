"""SubmitDenial throughput and latency under 32 concurrent clients, next to a bare mTLS echo of
the same request bytes with the same concurrency, measured in the same run.

Smoke size by default; ECX_BENCH_FULL=1 for the full run. Writes bench-results/submit.json.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from certs.devpki import AUTHORITIES, DevPki
from client.api import new_request_id
from client.envelope import DENIAL_PAYLOAD_TYPE, sign
from client.identity import Identity
from ecx.v1 import denial_pb2
from server.app import Hub
from server.clock import FixedClock
from tests.bench._common import (
    FULL,
    RATIO_TARGET,
    bare_server,
    cpu_seconds,
    environment,
    median,
    percentile,
    print_table,
    run_child,
    write_result,
)
from tests.bench._wire import write_frames
from tests.helpers import START, dual_use_payload, hub_config, military_payload

SIGNERS = ("nl", "de", "fr", "es", "it")
CONCURRENCY = 32
SUBMITS = 4000 if FULL else 100
ROUNDS = 3 if FULL else 1
RPC_TIMEOUT = 120.0


def build_requests(pki: DevPki, round_no: int, path: Path) -> None:
    """SUBMITS freshly signed, distinct denials (alternating dual-use and military), each framed
    with the worker that sends it; worker w speaks for SIGNERS[w % 5] and sends only denials that
    authority signed. Signing happens here, outside any timed region."""
    keys = {name: Identity.load(pki.identity(name)).require_signing_key() for name in SIGNERS}
    frames = []
    for i in range(SUBMITS):
        worker = i % CONCURRENCY
        name = SIGNERS[worker % len(SIGNERS)]
        state = AUTHORITIES[name][0]
        build = military_payload if (i // CONCURRENCY) % 2 else dual_use_payload
        payload = build(
            f"{state}-BENCH-{round_no}-{i:06d}",
            state,
            value_eur=10_000 + i,
            quantity=f"{1 + i % 50} units",
        )
        envelope = sign(
            payload.SerializeToString(deterministic=True), DENIAL_PAYLOAD_TYPE, keys[name]
        )
        request = denial_pb2.SubmitDenialRequest(request_id=new_request_id(), envelope=envelope)
        frames.append((worker, request.SerializeToString()))
    write_frames(path, frames)


async def drive(
    kind: str, target: str, requests: Path, identities: list[str], work: Path
) -> dict[str, Any]:
    spec = work / f"{requests.stem}-{kind}.json"
    spec.write_text(
        json.dumps(
            {
                "target": target,
                "kind": kind,
                "requests": str(requests),
                "identities": identities,
                "timeout": RPC_TIMEOUT,
            }
        )
    )
    cpu_before = cpu_seconds()
    result = await run_child("_submit_client.py", str(spec))
    result["server_cpu_s"] = cpu_seconds() - cpu_before
    latencies = result["latencies_s"]
    result["throughput_rps"] = result["requests"] / result["elapsed_s"]
    result["p50_ms"] = percentile(latencies, 50) * 1000
    result["p99_ms"] = percentile(latencies, 99) * 1000
    return result


def _row(round_no: int, kind: str, r: dict[str, Any]) -> list[object]:
    n = r["requests"]
    return [
        round_no,
        kind,
        n,
        r["ok"],
        r["elapsed_s"],
        r["throughput_rps"],
        r["p50_ms"],
        r["p99_ms"],
        r["server_cpu_s"] * 1000 / n,
        r["client_cpu_s"] * 1000 / n,
        r.get("commits", "-"),
    ]


def _summary(runs: list[dict[str, Any]]) -> dict[str, Any]:
    latencies = [x for r in runs for x in r["latencies_s"]]
    requests = sum(r["requests"] for r in runs)
    return {
        "requests": requests,
        "throughput_rps_median": median([r["throughput_rps"] for r in runs]),
        "throughput_rps_per_round": [r["throughput_rps"] for r in runs],
        "p50_ms": percentile(latencies, 50) * 1000,
        "p99_ms": percentile(latencies, 99) * 1000,
        "server_cpu_ms_per_request": sum(r["server_cpu_s"] for r in runs) * 1000 / requests,
        "client_cpu_ms_per_request": sum(r["client_cpu_s"] for r in runs) * 1000 / requests,
        "request_bytes_mean": sum(r["request_bytes"] for r in runs) / requests,
        "response_bytes_mean": sum(r["response_bytes"] for r in runs) / requests,
        "client_maxrss_kb": max(r["maxrss_kb"] for r in runs),
    }


async def test_submit_denial_throughput_against_bare_echo(pki: DevPki, tmp_path: Path) -> None:
    config = hub_config(pki, tmp_path / "ecx.db")
    identities = [str(pki.identity(SIGNERS[w % len(SIGNERS)])) for w in range(CONCURRENCY)]
    runs: dict[str, list[dict[str, Any]]] = {"hub": [], "echo": []}
    table = []
    async with (
        Hub(config, clock=FixedClock(START)) as hub,
        bare_server(config.tls, config.limits) as echo_address,
    ):
        for round_no in range(ROUNDS):
            requests = tmp_path / f"round-{round_no}.frames"
            build_requests(pki, round_no, requests)
            # Alternate which goes first so slow drift of the machine hits both sides alike.
            order = ("echo", "hub") if round_no % 2 == 0 else ("hub", "echo")
            for kind in order:
                commits = hub.store.commits
                target = hub.address if kind == "hub" else echo_address
                result = await drive(kind, target, requests, identities, tmp_path)
                if kind == "hub":
                    result["commits"] = hub.store.commits - commits
                runs[kind].append(result)
                table.append(_row(round_no, kind, result))
            assert runs["hub"][-1]["ok"] == SUBMITS, runs["hub"][-1]["error_samples"]
            assert runs["echo"][-1]["ok"] == SUBMITS, runs["echo"][-1]["error_samples"]

    with sqlite3.connect(config.store) as db:
        stored = db.execute("SELECT COUNT(*) FROM denials").fetchone()[0]
    assert stored == SUBMITS * ROUNDS

    hub_summary = _summary(runs["hub"])
    echo_summary = _summary(runs["echo"])
    commits = sum(r["commits"] for r in runs["hub"])
    hub_summary["store_commits"] = commits
    hub_summary["submits_per_commit"] = hub_summary["requests"] / commits
    ratio = hub_summary["throughput_rps_median"] / echo_summary["throughput_rps_median"]

    print_table(
        f"SubmitDenial vs bare mTLS echo: {SUBMITS} requests x {ROUNDS} round(s), "
        f"{CONCURRENCY} concurrent channels",
        [
            "round",
            "kind",
            "requests",
            "ok",
            "elapsed s",
            "req/s",
            "p50 ms",
            "p99 ms",
            "srv cpu ms/req",
            "cli cpu ms/req",
            "commits",
        ],
        table,
    )
    print_table(
        "Summary (throughput: median of rounds; latency: all rounds pooled)",
        ["kind", "req/s", "p50 ms", "p99 ms", "srv cpu ms/req", "req B", "resp B"],
        [
            [
                kind,
                s["throughput_rps_median"],
                s["p50_ms"],
                s["p99_ms"],
                s["server_cpu_ms_per_request"],
                round(s["request_bytes_mean"]),
                round(s["response_bytes_mean"]),
            ]
            for kind, s in (("SubmitDenial", hub_summary), ("bare echo", echo_summary))
        ],
    )
    print(
        f"ratio SubmitDenial/echo throughput = {ratio:.3f} (target >= {RATIO_TARGET}: "
        f"{'met' if ratio >= RATIO_TARGET else 'NOT met'}); store commits = {commits} for "
        f"{hub_summary['requests']} submits ({hub_summary['submits_per_commit']:.1f} per commit)"
    )
    for runs_of_kind in runs.values():
        for r in runs_of_kind:
            del r["latencies_s"]
    write_result(
        "submit",
        {
            "benchmark": "submit",
            "environment": environment(),
            "config": {
                "submits_per_round": SUBMITS,
                "rounds": ROUNDS,
                "concurrency": CONCURRENCY,
                "channels": CONCURRENCY,
                "signers": list(SIGNERS),
                "write_batch_max": config.limits.write_batch_max,
            },
            "hub": hub_summary,
            "echo": echo_summary,
            "ratio": ratio,
            "target": RATIO_TARGET,
            "meets_target": ratio >= RATIO_TARGET,
            "rounds": runs,
        },
    )
