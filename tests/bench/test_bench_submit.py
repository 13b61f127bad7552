"""SubmitDenial throughput and latency under 32 concurrent clients, next to a bare mTLS echo of
the same request bytes with the same concurrency, measured in the same run.

A third server shows how much of the echo's rate is left for the store at all: the bare server's
`Check` method parses each request, verifies its envelope's signature against the hub's
registry and validates the payload with the hub's own rules (what SubmitDenial must do before it
writes anything), then echoes it. It stores nothing, so its rate is a ceiling for SubmitDenial
on this machine.

Two hubs are measured: this process's hub (one process, as the tests run it) and `ecx-server run`
with one worker process per core (`[server] workers`), each on its own store. The denials are
distinct and generated (tests/bench/_names_gen): parties named in Latin, Cyrillic, Greek, Arabic
and Chinese script, so each submit keys its own names for screening, as it would in use.

Besides throughput and latency: CPU per request of the serving processes, and the bytes they
wrote to storage per request (the store's WAL and its checkpoints, from /proc/PID/io), which is
what a write costs the disk.

Smoke size by default; ECX_BENCH_FULL=1 for the full run. Writes bench-results/submit.json.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from certs.devpki import AUTHORITIES, DevPki
from client.api import new_request_id
from client.core.envelope import DENIAL_PAYLOAD_TYPE, EnvelopeError, sign, verify_envelope
from client.identity import Identity
from ecx.v1 import denial_pb2
from server.app import Hub
from server.config import HubConfig
from server.domain.denials import DenialContent, DenialRules
from server.errors import EcxError
from server.registry import Registry
from server.revocation import RevocationList
from server.services.denials import check_request_id
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
from tests.bench._names_gen import NameGenerator
from tests.bench._payloads import payload_of
from tests.bench._wire import write_frames
from tests.helpers import hub_config, hub_process, live_children, process_state

SIGNERS = ("nl", "de", "fr", "es", "it")
CONCURRENCY = 32
SUBMITS = 4000 if FULL else 100
ROUNDS = 3 if FULL else 1
RPC_TIMEOUT = 120.0
WORKERS = os.cpu_count() or 1
GENERATOR_SEED = 20_261_202
# The hub processes run on the machine's clock; denial dates are at most 1,090 days before it.
TODAY = dt.datetime.now(dt.UTC).date()


def build_requests(pki: DevPki, round_no: int, path: Path) -> None:
    """SUBMITS freshly signed, distinct denials from the seeded generator (parties in several
    scripts, so every submit keys new names for screening), each framed with the worker that
    sends it; worker w speaks for SIGNERS[w % 5] and sends only denials that authority signed.
    Signing happens here, outside any timed region."""
    keys = {name: Identity.load(pki.identity(name)).require_signing_key() for name in SIGNERS}
    workers_of = {
        name: [w for w in range(CONCURRENCY) if SIGNERS[w % len(SIGNERS)] == name]
        for name in SIGNERS
    }
    issuers = {name: AUTHORITIES[name][0] for name in SIGNERS}
    specs = NameGenerator(GENERATOR_SEED + round_no).denials(SUBMITS, issuers, TODAY)
    sent = dict.fromkeys(SIGNERS, 0)
    frames = []
    for spec in specs:
        spec.reference = spec.reference.replace("-B-", f"-BENCH-{round_no}-")
        workers = workers_of[spec.issuer]
        worker = workers[sent[spec.issuer] % len(workers)]
        sent[spec.issuer] += 1
        envelope = sign(
            payload_of(spec).SerializeToString(deterministic=True),
            DENIAL_PAYLOAD_TYPE,
            keys[spec.issuer],
        )
        request = denial_pb2.SubmitDenialRequest(request_id=new_request_id(), envelope=envelope)
        frames.append((worker, request.SerializeToString()))
    write_frames(path, frames)


def submit_checks(config: HubConfig) -> Callable[[bytes], DenialContent]:
    """What SubmitDenial does to a request before it stores anything, with the hub's registry
    and rules: parse, request id, signature, payload validation. Raises as the hub would."""
    registry = Registry.load(config.registry, RevocationList.for_tls(config.tls))
    keys = registry.signing_keys
    rules = DenialRules(validity_years=config.validity_years)

    def check(data: bytes) -> DenialContent:
        request = denial_pb2.SubmitDenialRequest.FromString(data)
        check_request_id(request.request_id)
        verified = verify_envelope(request.envelope, DENIAL_PAYLOAD_TYPE, keys)
        signer = registry.get(verified.signer)
        assert signer is not None
        return DenialContent.from_payload_bytes(
            verified.payload,
            caller_state=signer.member_state,
            today=dt.datetime.now(dt.UTC).date(),
            rules=rules,
        )

    return check


def refused_by_checks(check: Callable[[bytes], DenialContent], pki: DevPki) -> None:
    """The checks-only server refuses what the hub would: a forged signature, a payload the rules
    refuse (a denial dated tomorrow)."""
    key = Identity.load(pki.identity("nl")).require_signing_key()
    spec = NameGenerator(GENERATOR_SEED).denials(1, {"nl": AUTHORITIES["nl"][0]}, TODAY)[0]
    payload = payload_of(spec)
    good = sign(payload.SerializeToString(deterministic=True), DENIAL_PAYLOAD_TYPE, key)
    check(denial_pb2.SubmitDenialRequest(request_id="r-1", envelope=good).SerializeToString())
    forged = denial_pb2.SubmitDenialRequest(request_id="r-2", envelope=good)
    forged.envelope.payload += b" "
    payload.denial_date = (TODAY + dt.timedelta(days=1)).isoformat()
    future = sign(payload.SerializeToString(deterministic=True), DENIAL_PAYLOAD_TYPE, key)
    for bad in (forged, denial_pb2.SubmitDenialRequest(request_id="r-3", envelope=future)):
        with pytest.raises((EnvelopeError, EcxError)):
            check(bad.SerializeToString())


def _write_bytes(pid: int | str) -> int:
    """Bytes process pid has caused to be written to storage (its /proc io counter)."""
    for line in Path(f"/proc/{pid}/io").read_text().splitlines():
        if line.startswith("write_bytes:"):
            return int(line.split()[1])
    return 0


def process_tree_usage(pid: int) -> tuple[float, int]:
    """CPU seconds and bytes written to storage by process pid and its live children (the
    hub's workers)."""
    ticks = os.sysconf("SC_CLK_TCK")
    cpu, written = 0.0, 0
    for member in (pid, *live_children(pid)):
        fields = process_state(member)
        if fields is not None:
            cpu += (int(fields[11]) + int(fields[12])) / ticks
            written += _write_bytes(member)
    return cpu, written


async def drive(
    kind: str,
    target: str,
    requests: Path,
    identities: list[str],
    work: Path,
    server_pid: int | None = None,
) -> dict[str, Any]:
    spec = work / f"{requests.stem}-{kind}.json"
    spec.write_text(
        json.dumps(
            {
                "target": target,
                "kind": kind if kind in ("echo", "check") else "hub",
                "requests": str(requests),
                "identities": identities,
                "timeout": RPC_TIMEOUT,
            }
        )
    )

    def server_usage() -> tuple[float, int]:
        if server_pid is None:
            return cpu_seconds(), _write_bytes("self")
        return process_tree_usage(server_pid)

    cpu_before, written_before = server_usage()
    result = await run_child("_submit_client.py", str(spec))
    cpu_after, written_after = server_usage()
    result["server_cpu_s"] = cpu_after - cpu_before
    result["server_written_bytes"] = written_after - written_before
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
        r["server_written_bytes"] / 1024 / n,
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
        "server_written_kb_per_request": sum(r["server_written_bytes"] for r in runs)
        / 1024
        / requests,
        "request_bytes_mean": sum(r["request_bytes"] for r in runs) / requests,
        "response_bytes_mean": sum(r["response_bytes"] for r in runs) / requests,
        "client_maxrss_kb": max(r["maxrss_kb"] for r in runs),
    }


async def test_submit_denial_throughput_against_bare_echo(pki: DevPki, tmp_path: Path) -> None:
    config = hub_config(pki, tmp_path / "ecx.db")
    identities = [str(pki.identity(SIGNERS[w % len(SIGNERS)])) for w in range(CONCURRENCY)]
    workers_dir = tmp_path / "workers"
    workers_dir.mkdir()
    workers_store = workers_dir / "ecx.db"
    multi = f"hub-x{WORKERS}"
    check = submit_checks(config)
    refused_by_checks(check, pki)
    runs: dict[str, list[dict[str, Any]]] = {"hub": [], multi: [], "echo": [], "check": []}
    table = []
    async with (
        Hub(config) as hub,
        bare_server(config.tls, config.limits, check=check) as echo_address,
    ):
        with hub_process(pki, workers_dir, store=workers_store, workers=WORKERS) as workers:
            for round_no in range(ROUNDS):
                requests = tmp_path / f"round-{round_no}.frames"
                build_requests(pki, round_no, requests)
                # Rotate which goes first so slow drift of the machine hits all alike.
                order = ["echo", "hub", multi, "check"]
                order = order[round_no % 4 :] + order[: round_no % 4]
                for kind in order:
                    commits = hub.store.commits
                    if kind == multi:
                        result = await drive(
                            kind,
                            workers.address,
                            requests,
                            identities,
                            tmp_path,
                            workers.process.pid,
                        )
                    else:
                        target = hub.address if kind == "hub" else echo_address
                        result = await drive(kind, target, requests, identities, tmp_path)
                    if kind == "hub":
                        result["commits"] = hub.store.commits - commits
                    runs[kind].append(result)
                    table.append(_row(round_no, kind, result))
                for kind, of_kind in runs.items():
                    assert of_kind[-1]["ok"] == SUBMITS, (kind, of_kind[-1]["error_samples"])

    for store in (config.store, workers_store):
        with sqlite3.connect(store) as db:
            stored = db.execute("SELECT COUNT(*) FROM denials").fetchone()[0]
        assert stored == SUBMITS * ROUNDS

    hub_summary = _summary(runs["hub"])
    multi_summary = _summary(runs[multi])
    echo_summary = _summary(runs["echo"])
    check_summary = _summary(runs["check"])
    commits = sum(r["commits"] for r in runs["hub"])
    hub_summary["store_commits"] = commits
    hub_summary["submits_per_commit"] = hub_summary["requests"] / commits
    ratio = hub_summary["throughput_rps_median"] / echo_summary["throughput_rps_median"]
    ratio_multi = multi_summary["throughput_rps_median"] / echo_summary["throughput_rps_median"]
    ratio_check = check_summary["throughput_rps_median"] / echo_summary["throughput_rps_median"]

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
            "written KB/req",
            "commits",
        ],
        table,
    )
    print_table(
        "Summary (throughput: median of rounds; latency: all rounds pooled)",
        [
            "kind",
            "req/s",
            "p50 ms",
            "p99 ms",
            "srv cpu ms/req",
            "written KB/req",
            "req B",
            "resp B",
        ],
        [
            [
                kind,
                s["throughput_rps_median"],
                s["p50_ms"],
                s["p99_ms"],
                s["server_cpu_ms_per_request"],
                s["server_written_kb_per_request"],
                round(s["request_bytes_mean"]),
                round(s["response_bytes_mean"]),
            ]
            for kind, s in (
                ("SubmitDenial", hub_summary),
                (f"SubmitDenial, {WORKERS} workers", multi_summary),
                ("bare echo", echo_summary),
                ("checks only, no store", check_summary),
            )
        ],
    )
    for label, value in (("1 process", ratio), (f"{WORKERS} workers", ratio_multi)):
        verdict = "met" if value >= RATIO_TARGET else "NOT met"
        print(
            f"ratio SubmitDenial ({label})/echo throughput = {value:.3f} "
            f"(target >= {RATIO_TARGET}: {verdict})"
        )
    print(
        f"ratio checks only (parse, verify, validate; no store)/echo throughput = "
        f"{ratio_check:.3f}: the most any SubmitDenial could reach on this machine"
    )
    print(
        f"SubmitDenial/checks only throughput = {ratio / ratio_check:.3f} (1 process), "
        f"{ratio_multi / ratio_check:.3f} ({WORKERS} workers): what storing leaves of that"
    )
    print(
        f"store commits (1 process) = {commits} for {hub_summary['requests']} submits "
        f"({hub_summary['submits_per_commit']:.1f} per commit)"
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
            "hub_workers": {"workers": WORKERS, **multi_summary},
            "echo": echo_summary,
            "checks_only": check_summary,
            "ratio": ratio,
            "ratio_checks_only": ratio_check,
            "ratio_workers": ratio_multi,
            "target": RATIO_TARGET,
            "meets_target": max(ratio, ratio_multi) >= RATIO_TARGET,
            "rounds": runs,
        },
    )
