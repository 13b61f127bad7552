"""The exchange log at size: appending leaves through the store, proofs over the RPC, and an
auditor's full verification, each next to a baseline measured in the same run.

(a) append: LEAVES events through SqliteStore.record (CALL_EVENTS per call, IN_FLIGHT calls at
    once so the writer groups them), next to a raw hashlib pass over the same entry bytes (leaf
    hashes plus the n - 1 interior node hashes of the tree). Writes bench-results/log_append.json.
(b) proofs: a hub started on that store file; GetInclusionProof at random indexes and
    GetConsistencyProof for random (first, second) sizes, one call at a time from a client
    process, next to a bare mTLS echo with the same credentials. Every proof is verified with
    client.core.merkle after the timed part, against roots the raw pass computed independently of
    the hub. Writes bench-results/log_proofs.json.
(c) verify: client.audit.verify_log as the auditor over the whole log, next to a raw hashlib pass
    over the same entry bytes in the same (client) process, with the time split into download,
    hashing and decoding. Writes bench-results/log_verify.json.

Smoke size by default; ECX_BENCH_FULL=1 for the full run.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import hashlib
import json
import random
import sqlite3
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from certs.devpki import AUTHORITIES, DevPki
from server.app import Hub
from server.clock import FixedClock
from server.domain.exchange_log import Event
from server.domain.merkle import Frontier
from server.store.sqlite import SqliteStore
from server.store.sqlite.transaction import LogBuffer, SqliteTransaction
from tests.bench._common import (
    FULL,
    RATIO_TARGET,
    bare_server,
    environment,
    median,
    percentile,
    print_table,
    run_child,
    write_result,
)
from tests.bench._log_client import RawMerkle
from tests.bench._wire import ECHO_METHOD
from tests.helpers import START, hub_config

LEAVES = 1_000_000 if FULL else 5_000
CALL_EVENTS = 1_000  # events per SqliteStore.record call
IN_FLIGHT = 4  # record calls outstanding at once, so the writer can group them
WAVE_CALLS = 50  # calls whose events are built (untimed) before they are appended (timed)
COMPONENT_SAMPLE = 20_000 if FULL else 2_000
MARKS = 200  # tree sizes whose roots the raw pass records, for consistency proofs
RAW_REPEATS = 3
PROOF_CALLS = 2_000 if FULL else 150  # per kind: inclusion, consistency, echo
PROOF_BLOCK = 50
PROOF_WARMUP = 50 if FULL else 10
PROOF_TARGET_P50_MS = 2.0
RPC_TIMEOUT = 600.0
SEED = 20261128

AUTHORITY_IDS = ("nl", "de", "fr", "es", "it")
READERS = (*AUTHORITY_IDS, "commission")
EPOCH = START - dt.timedelta(days=30)

pytestmark = [pytest.mark.timeout(3600)] if FULL else []


def make_events(first: int, count: int) -> list[Event]:
    """`count` exchange events as the hub records them, deterministic in `first`: submissions and
    changes by the owning authority, reads and syncs by others, and refused calls."""
    rng = random.Random(SEED + first)
    events = []
    for i in range(first, first + count):
        owner = rng.choice(AUTHORITY_IDS)
        reference = f"{AUTHORITIES[owner][0]}-2026-{i // 3 + 1:07d}"
        denial = f"denial:{reference}"
        digest = hashlib.sha256(f"{reference}/{i}".encode()).digest()
        when = EPOCH + dt.timedelta(milliseconds=40 * i)
        kind = rng.random()
        if kind < 0.25:
            event = Event(when, owner, "SubmitDenial", (f"{denial}:v1",), digest, parties=(owner,))
        elif kind < 0.35:
            action = rng.choice(("AmendDenial", "RevokeDenial", "RenewDenial"))
            version = rng.randint(2, 4)
            event = Event(when, owner, action, (f"{denial}:v{version}",), digest, parties=(owner,))
        elif kind < 0.70:
            versions = tuple(f"{denial}:v{v}" for v in range(1, rng.randint(1, 3) + 1))
            event = Event(
                when, rng.choice(READERS), "GetDenial", versions, digest, parties=(owner,)
            )
        elif kind < 0.85:
            owners = tuple(sorted(rng.sample(AUTHORITY_IDS, rng.randint(1, 5))))
            start = f"{AUTHORITIES[owners[0]][0]}-2026-{max(i - 500, 0) // 3 + 1:07d}"
            span = f"denial-changes:{start}:v1..{reference}:v1"
            event = Event(when, rng.choice(READERS), "SyncDenials", (span,), digest, parties=owners)
        elif kind < 0.93:
            shown = [rng.choice(AUTHORITY_IDS) for _ in range(rng.randint(1, 10))]
            objects = tuple(
                f"denial:{AUTHORITIES[o][0]}-2026-{max(i // 3 - k, 1):07d}:v1"
                for k, o in enumerate(shown)
            )
            event = Event(
                when,
                rng.choice(READERS),
                "ListDenials",
                objects,
                digest,
                parties=tuple(sorted(set(shown))),
            )
        else:
            event = Event(
                when,
                rng.choice((*AUTHORITY_IDS, "unauthenticated")),
                rng.choice(("AmendDenial", "RevokeDenial", "GetDenial")),
                (denial,),
                digest,
                outcome=rng.choice(("PERMISSION_DENIED", "NOT_FOUND", "INVALID_ARGUMENT")),
            )
        events.append(event)
    return events


@dataclasses.dataclass
class AppendedLog:
    path: Path
    size: int
    root: bytes
    roots: dict[int, bytes]  # from the raw hashlib pass, at sampled sizes and at `size`
    figures: dict[str, Any]


@dataclasses.dataclass
class ServedLog:
    hub_address: str
    echo_address: str
    auditor: Path
    hub_start_s: float


async def _probe_loop(samples: list[float], period: float = 0.005) -> None:
    """How late the event loop wakes a sleeper: the stalls the writer's work causes."""
    clock = time.perf_counter
    while True:
        started = clock()
        await asyncio.sleep(period)
        samples.append(clock() - started - period)


async def _append(store: SqliteStore, total: int) -> dict[str, Any]:
    calls = total // CALL_EVENTS
    store_s = build_s = 0.0
    lags: list[float] = []
    commits = store.commits
    for wave in range(0, calls, WAVE_CALLS):
        started = time.perf_counter()
        batches = [
            make_events(c * CALL_EVENTS, CALL_EVENTS)
            for c in range(wave, min(wave + WAVE_CALLS, calls))
        ]
        build_s += time.perf_counter() - started
        queue = iter(batches)

        async def worker() -> None:
            for batch in queue:  # noqa: B023 - each wave's workers drain that wave's batches
                indexes = await store.record(batch)
                assert indexes == list(range(indexes[0], indexes[0] + len(batch)))

        probe = asyncio.create_task(_probe_loop(lags))
        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(IN_FLIGHT)))
        store_s += time.perf_counter() - started
        probe.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probe
    commits = store.commits - commits
    return {
        "calls": calls,
        "store_s": store_s,
        "store_leaves_per_s": calls * CALL_EVENTS / store_s,
        "commits": commits,
        "leaves_per_commit": calls * CALL_EVENTS / commits,
        "calls_per_commit": calls / commits,
        "event_build_s": build_s,
        "loop_stall_ms": {
            "p50": percentile(lags, 50) * 1000,
            "p99": percentile(lags, 99) * 1000,
            "max": max(lags) * 1000,
            "samples": len(lags),
        },
    }


def _append_event_cost(count: int) -> float:
    """Seconds per leaf of the writer's Python work per event (encode, leaf hash, frontier,
    row buffering: `append_event`) with the SQL left out, over a sample of the same events."""
    events = make_events(0, count)
    tx = SqliteTransaction(None, Frontier(), LogBuffer())  # type: ignore[arg-type]
    started = time.perf_counter()
    for event in events:
        tx.append_event(event)
    return (time.perf_counter() - started) / count


def _raw_passes(path: Path, size: int, marks: list[int]) -> tuple[list[float], dict[int, bytes]]:
    """Raw hashlib passes over the stored entry bytes: the first records the roots at `marks`."""
    with contextlib.closing(sqlite3.connect(path)) as db:
        entries = [bytes(r[0]) for r in db.execute("SELECT entry FROM log_entries ORDER BY idx")]
    assert len(entries) == size
    tree = RawMerkle()
    roots: dict[int, bytes] = {}
    done = 0
    for mark in marks:
        tree.absorb(entries[done:mark])  # slicing happens outside the timed loop
        roots[mark] = tree.root()
        done = mark
    runs = [tree.seconds]
    for _ in range(RAW_REPEATS - 1):
        again = RawMerkle()
        again.absorb(entries)
        assert again.root() == roots[size]
        runs.append(again.seconds)
    return runs, roots


@pytest.fixture(scope="module")
async def appended_log(tmp_path_factory: pytest.TempPathFactory) -> AppendedLog:
    path = tmp_path_factory.mktemp("log") / "ecx.db"
    async with SqliteStore(path) as store:
        batch_max = store._batch_max
        figures = await _append(store, LEAVES)
        size, root = store.tree_head()
    assert size == LEAVES

    rng = random.Random(SEED)
    marks = sorted({*rng.sample(range(1, size), min(MARKS, size - 1)), size})
    runs, roots = _raw_passes(path, size, marks)
    assert roots[size] == root, "the raw hashlib tree differs from the store's tree head"

    with contextlib.closing(sqlite3.connect(path)) as db:
        nodes = db.execute("SELECT COUNT(*) FROM log_nodes").fetchone()[0]
        entry_bytes = db.execute("SELECT SUM(LENGTH(entry)) FROM log_entries").fetchone()[0]
    assert nodes == 2 * size - size.bit_count()  # every leaf and every completed subtree
    db_bytes = sum(p.stat().st_size for p in path.parent.glob(f"{path.name}*"))

    raw_s = median(runs)
    figures.update(
        leaves=size,
        events_per_call=CALL_EVENTS,
        in_flight=IN_FLIGHT,
        writer_batch_max=batch_max,
        raw_hashlib={
            "runs_s": runs,
            "median_s": raw_s,
            "leaves_per_s": size / raw_s,
            "hashes": 2 * size - 1,
        },
        ratio=figures["store_leaves_per_s"] / (size / raw_s),
        append_event_no_sql_us_per_leaf=_append_event_cost(min(COMPONENT_SAMPLE, size)) * 1e6,
        store_us_per_leaf=figures["store_s"] / size * 1e6,
        entry_bytes_mean=entry_bytes / size,
        log_nodes_rows=nodes,
        db_bytes=db_bytes,
        db_bytes_per_leaf=db_bytes / size,
        root=root.hex(),
    )
    return AppendedLog(path, size, root, roots, figures)


@pytest.fixture(scope="module")
async def served_log(pki: DevPki, appended_log: AppendedLog) -> AsyncIterator[ServedLog]:
    config = hub_config(pki, appended_log.path)
    hub = Hub(config, clock=FixedClock(START))
    started = time.perf_counter()
    await hub.start()
    hub_start_s = time.perf_counter() - started
    try:
        assert hub.store.tree_head() == (appended_log.size, appended_log.root)
        async with bare_server(config.tls, config.limits) as echo:
            yield ServedLog(hub.address, echo, pki.identity("auditor"), hub_start_s)
        assert hub.store.tree_head()[0] == appended_log.size, "reads must not grow the log"
    finally:
        await hub.stop()


def test_append_rate_against_raw_hashlib(appended_log: AppendedLog) -> None:
    f = appended_log.figures
    raw = f["raw_hashlib"]
    print_table(
        f"Exchange-log append: {f['leaves']:,} leaves through SqliteStore.record "
        f"({CALL_EVENTS} events per call, {IN_FLIGHT} calls in flight) vs raw hashlib",
        ["path", "seconds", "leaves/s", "us/leaf", "commits", "leaves/commit"],
        [
            [
                "SqliteStore.record",
                f["store_s"],
                f["store_leaves_per_s"],
                f["store_us_per_leaf"],
                f["commits"],
                f["leaves_per_commit"],
            ],
            [
                "  of which append_event, no SQL",
                "-",
                "-",
                f["append_event_no_sql_us_per_leaf"],
                "-",
                "-",
            ],
            [
                f"raw hashlib ({raw['hashes']:,} SHA-256)",
                raw["median_s"],
                raw["leaves_per_s"],
                raw["median_s"] / f["leaves"] * 1e6,
                "-",
                "-",
            ],
        ],
    )
    stall = f["loop_stall_ms"]
    print(
        f"ratio store/raw-hashlib leaves/s = {f['ratio']:.4f}; {f['commits']:,} commits for "
        f"{f['calls']:,} calls ({f['calls_per_commit']:.1f} calls per commit, writer batch_max "
        f"{f['writer_batch_max']}); event-loop stalls while appending p50 {stall['p50']:.1f} ms, "
        f"p99 {stall['p99']:.1f} ms, max {stall['max']:.1f} ms; entries {f['entry_bytes_mean']:.0f}"
        f" B mean, store file {f['db_bytes_per_leaf']:.0f} B per leaf; events built untimed in "
        f"{f['event_build_s']:.1f} s"
    )
    write_result(
        "log_append",
        {
            "benchmark": "log_append",
            "environment": environment(),
            "config": {
                "leaves": LEAVES,
                "events_per_call": CALL_EVENTS,
                "in_flight": IN_FLIGHT,
                "wave_calls": WAVE_CALLS,
                "raw_repeats": RAW_REPEATS,
            },
            **f,
        },
    )


def _latency_summary(seconds: list[float]) -> dict[str, float]:
    return {
        "calls": len(seconds),
        "p50_ms": percentile(seconds, 50) * 1000,
        "p90_ms": percentile(seconds, 90) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "max_ms": max(seconds) * 1000,
    }


async def test_proof_latency_against_bare_echo(
    appended_log: AppendedLog, served_log: ServedLog, tmp_path: Path
) -> None:
    size = appended_log.size
    rng = random.Random(SEED + 1)
    sizes = sorted(appended_log.roots)
    inclusion = [rng.randrange(size) for _ in range(PROOF_CALLS)]
    consistency = [sorted(rng.sample(sizes, 2)) for _ in range(PROOF_CALLS)]
    spec = tmp_path / "proofs.json"
    spec.write_text(
        json.dumps(
            {
                "hub": served_log.hub_address,
                "echo": served_log.echo_address,
                "echo_method": ECHO_METHOD,
                "identity": str(served_log.auditor),
                "tree_size": size,
                "roots": {str(k): v.hex() for k, v in appended_log.roots.items()},
                "inclusion": inclusion,
                "consistency": consistency,
                "block": PROOF_BLOCK,
                "warmup": PROOF_WARMUP,
                "timeout": RPC_TIMEOUT,
            }
        )
    )
    result = await run_child("_log_client.py", "proofs", str(spec))
    assert result["verified"] == {"inclusion": PROOF_CALLS, "consistency": PROOF_CALLS}

    latencies = result.pop("latencies_s")
    verify_s = result.pop("verify_s")
    lengths = result.pop("proof_lengths")
    summary = {kind: _latency_summary(latencies[kind]) for kind in latencies}
    echo_p50 = summary["echo"]["p50_ms"]
    for kind in ("inclusion", "consistency"):
        summary[kind]["p50_ratio_to_echo"] = summary[kind]["p50_ms"] / echo_p50
        summary[kind]["p99_ratio_to_echo"] = summary[kind]["p99_ms"] / summary["echo"]["p99_ms"]
        summary[kind]["verify_us_p50"] = percentile(verify_s[kind], 50) * 1e6
        summary[kind]["verify_us_p99"] = percentile(verify_s[kind], 99) * 1e6
        summary[kind]["proof_hashes_mean"] = sum(lengths[kind]) / len(lengths[kind])
        summary[kind]["meets_p50_target"] = summary[kind]["p50_ms"] < PROOF_TARGET_P50_MS

    print_table(
        f"Exchange-log proofs at {size:,} leaves over mTLS (one call at a time, "
        f"{PROOF_CALLS} per kind, interleaved in blocks of {PROOF_BLOCK}); hub started in "
        f"{served_log.hub_start_s:.2f} s",
        ["RPC", "p50 ms", "p90 ms", "p99 ms", "max ms", "p50 x echo", "hashes", "verify us p50"],
        [
            [
                name,
                summary[kind]["p50_ms"],
                summary[kind]["p90_ms"],
                summary[kind]["p99_ms"],
                summary[kind]["max_ms"],
                summary[kind].get("p50_ratio_to_echo", 1.0),
                summary[kind].get("proof_hashes_mean", "-"),
                summary[kind].get("verify_us_p50", "-"),
            ]
            for name, kind in (
                ("GetInclusionProof", "inclusion"),
                ("GetConsistencyProof", "consistency"),
                (f"bare echo ({result['echo_payload_bytes']} B)", "echo"),
            )
        ],
    )
    for kind in ("inclusion", "consistency"):
        s = summary[kind]
        print(
            f"{kind}: p50 {s['p50_ms']:.3f} ms = {s['p50_ratio_to_echo']:.2f} x echo p50 "
            f"(target p50 < {PROOF_TARGET_P50_MS} ms: "
            f"{'met' if s['meets_p50_target'] else 'NOT met'})"
        )
    write_result(
        "log_proofs",
        {
            "benchmark": "log_proofs",
            "environment": environment(),
            "config": {
                "tree_size": size,
                "calls_per_kind": PROOF_CALLS,
                "block": PROOF_BLOCK,
                "warmup_per_kind": PROOF_WARMUP,
                "consistency_sizes": len(sizes),
                "identity": "auditor",
            },
            "hub_start_s": served_log.hub_start_s,
            "target_p50_ms": PROOF_TARGET_P50_MS,
            **summary,
            "client": result,
        },
    )


async def test_auditor_full_verification_against_raw_hashlib(
    appended_log: AppendedLog, served_log: ServedLog, tmp_path: Path
) -> None:
    size = appended_log.size
    spec = tmp_path / "verify.json"
    spec.write_text(
        json.dumps(
            {
                "hub": served_log.hub_address,
                "identity": str(served_log.auditor),
                "tree_size": size,
                "root": appended_log.root.hex(),
                "state_dir": str(tmp_path / "state"),
                "raw_repeats": RAW_REPEATS,
                "timeout": RPC_TIMEOUT,
            }
        )
    )
    r = await run_child("_log_client.py", "verify", str(spec))
    assert r["entries"] == size

    total = r["verify_log_s"]
    ratio = r["raw_hashlib_s"] / total
    parts = [
        ("verify_log (auditor, end to end)", total),
        ("  download only (GetEntries)", r["download_s"]),
        ("  leaf_hash + TreeBuilder only", r["tree_builder_s"]),
        ("  LogEntry decode only", r["decode_s"]),
        ("raw hashlib (leaf + node hashes)", r["raw_hashlib_s"]),
    ]
    print_table(
        f"Auditor full verification of {size:,} entries ({r['entry_bytes'] / size:.0f} B mean) "
        "vs raw hashlib in the same client process",
        ["step", "seconds", "entries/s", "share of verify_log"],
        [[name, s, size / s, s / total] for name, s in parts],
    )
    print(
        f"ratio raw-hashlib time / verify_log time = {ratio:.3f} (target >= {RATIO_TARGET}: "
        f"{'met' if ratio >= RATIO_TARGET else 'NOT met'}); client CPU in verify_log "
        f"{r['verify_log_cpu_s']:.2f} s of {total:.2f} s; client peak RSS "
        f"{r['maxrss_kb'] / 1024:.0f} MiB"
    )
    write_result(
        "log_verify",
        {
            "benchmark": "log_verify",
            "environment": environment(),
            "config": {"tree_size": size, "raw_repeats": RAW_REPEATS, "identity": "auditor"},
            "verify_log_s": total,
            "verify_log_entries_per_s": size / total,
            "raw_hashlib_s": r["raw_hashlib_s"],
            "raw_hashlib_entries_per_s": size / r["raw_hashlib_s"],
            "ratio": ratio,
            "target": RATIO_TARGET,
            "meets_target": ratio >= RATIO_TARGET,
            "split_s": {
                "download": r["download_s"],
                "leaf_hash_tree_builder": r["tree_builder_s"],
                "entry_decode": r["decode_s"],
            },
            "client": r,
        },
    )
