"""Another authority's everyday screening while one authority screens as expensively as the
bounds allow, next to the same screenings with nobody attacking, measured in the same run.

The store holds denials from the seeded generator (tests/bench/_names_gen, seeded through
DenialExchange.submit_denial as in test_bench_screening) and, submitted by NL over mTLS, as many
costly denials as one screening compares: end-user and consignee with the most aliases allowed,
every name of the most words allowed, all alike (tests.helpers.costly_denial). The attack is
NL's ScreenTransaction naming as many such names as allowed (tests.helpers.costly_transaction),
sent back to back by two loops from a child process, so that one is always being compared and
the other waits for NL's turn.

DE screens the generator's queries (half variants of stored names, half absent) one at a time
from another child process (tests/bench/_screen_client.py): alone, then while NL attacks, in
alternating order over the rounds. Reported: DE's p50/p95 latency alone and under attack and
their ratio (attack / alone), the hub's CPU per attacking call (measured with NL attacking alone,
one call at a time), the word pairs each attacking call compared against what it would have
needed without a budget, the attacking calls' status codes, and the word pairs DE's everyday
screenings compared (as a share of the budget). Absolute times are context only;
nothing asserts on them. In CI mode (no ECX_BENCH_FULL) a tiny version checks correctness: DE's
answers are the same with and without the attack, and every attacking call is refused.

Writes bench-results/screening_attack.json.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from certs.devpki import AUTHORITIES, DevPki
from client.core.names import comparison_cost, index_tokens, name_key, query_tokens
from ecx.v1 import consultation_pb2, denial_pb2
from server.app import Hub
from server.clock import FixedClock
from server.domain.denials import MAX_NAME_WORDS
from server.services.screening import RETRIEVE
from tests.bench._common import (
    FULL,
    cpu_seconds,
    environment,
    percentile,
    print_table,
    run_child,
    write_result,
)
from tests.bench._names_gen import NameGenerator
from tests.bench.test_bench_screening import GENERATOR_SEED, SIGNERS, seed
from tests.helpers import (
    START,
    TODAY,
    RunningHub,
    costly_denial,
    costly_transaction,
    eventually,
    hub_config,
)

DENIALS = 20_000 if FULL else 300
PLANTED, ABSENT = (100, 100) if FULL else (5, 5)
WARMUP = 10 if FULL else 2
ROUNDS = 2 if FULL else 1
ATTACK_ALONE_CALLS = 20 if FULL else 2  # NL's calls, one at a time, to measure their CPU
ATTACK_LOOPS = 2  # one compared, one waiting for NL's turn
READER, ATTACKER = "de", "nl"
MAX_RESULTS = 20
ATTACK_SEED = 20_261_204

pytestmark = [pytest.mark.timeout(3600)] if FULL else []


def unbounded_word_pairs(
    transaction: consultation_pb2.Transaction, denials: list[denial_pb2.DenialPayload]
) -> int:
    """The word pairs the attack would compare with no budget: every pair of its names and
    the denials' names that share a blocking token, as the hub compares them."""
    query = [
        (key, query_tokens(key))
        for party in (transaction.end_user, transaction.consignee)
        for key in map(name_key, [party.name, *party.aliases])
    ]
    total = 0
    for denial in denials:
        for party in (denial.end_user, denial.consignee):
            for name in [party.name, *party.aliases]:
                stored = name_key(name)
                tokens = index_tokens(stored)
                capped = stored.first_words(MAX_NAME_WORDS)
                total += sum(comparison_cost(k, capped) for k, b in query if b & tokens)
    return total


def latency(records: list[dict[str, Any]]) -> dict[str, float]:
    values = [r["ms"] for r in records]
    return {
        "p50_ms": percentile(values, 50),
        "p95_ms": percentile(values, 95),
        "max_ms": max(values),
        "mean_ms": sum(values) / len(values),
    }


@contextlib.asynccontextmanager
async def attacking(
    hub: Hub, args: list[str], stop: Path
) -> AsyncIterator[asyncio.Task[dict[str, Any]]]:
    """NL's loops attack until the block ends; the task gives their report once they stop."""
    await asyncio.to_thread(stop.unlink, missing_ok=True)
    attack = asyncio.create_task(run_child("_attack_client.py", *args, "0", str(stop)))
    await eventually(lambda: ATTACKER in hub.screener.comparing() or attack.done())
    try:
        yield attack
    finally:
        await asyncio.to_thread(stop.touch)
        await asyncio.wait([attack])


async def test_everyday_screening_while_another_authority_attacks(
    pki: DevPki, tmp_path: Path
) -> None:
    config = hub_config(pki, tmp_path / "ecx.db")
    budget = config.limits.max_screening_word_pairs
    generator = NameGenerator(GENERATOR_SEED)
    specs = generator.denials(DENIALS, {s: AUTHORITIES[s][0] for s in SIGNERS}, TODAY)
    queries = generator.queries(specs, PLANTED, ABSENT)
    warmup = generator.queries(specs, 0, WARMUP)
    seeded = await seed(config, pki, specs)

    rnd = random.Random(ATTACK_SEED)
    costly = [costly_denial(f"NL-2026-X{i:03d}", rnd) for i in range(RETRIEVE)]
    transaction = costly_transaction(rnd)
    needed = unbounded_word_pairs(transaction, costly)
    transaction_file = tmp_path / "attack.bin"
    transaction_file.write_bytes(transaction.SerializeToString())
    queries_file = tmp_path / "queries.json"
    queries_file.write_text(
        json.dumps(
            {
                "max_results": MAX_RESULTS,
                "warmup": [q.to_json() for q in warmup],
                "queries": [q.to_json() for q in queries],
            }
        ),
        encoding="utf-8",
    )
    stop = tmp_path / "stop"
    runs: dict[str, list[dict[str, Any]]] = {"alone": [], "attack": []}

    clock = FixedClock(START)
    async with Hub(config, clock=clock) as hub:
        attacker_args = [hub.address, str(pki.identity(ATTACKER)), str(transaction_file)]
        async with RunningHub(hub, pki, clock, config.store).client(ATTACKER) as nl:
            for payload in costly:
                await nl.submit_denial(payload)

        # NL's attack alone, one call at a time: what each call costs the hub.
        cpu_before = cpu_seconds()
        alone = await run_child(
            "_attack_client.py", *attacker_args, "1", str(ATTACK_ALONE_CALLS), str(stop)
        )
        attack_cpu_s = (cpu_seconds() - cpu_before) / alone["calls"]
        attack_work = [w.word_pairs for w in hub.screener.finished if w.caller_id == ATTACKER]

        everyday_work: list[int] = []  # word pairs of each of DE's screenings, unattacked
        for round_no in range(ROUNDS):
            order = ["alone", "attack"] if round_no % 2 == 0 else ["attack", "alone"]
            for phase in order:
                out = tmp_path / f"{phase}-{round_no}.json"
                reader_args = [hub.address, str(pki.identity(READER)), str(queries_file), str(out)]
                started = time.perf_counter()
                if phase == "alone":
                    hub.screener.finished.clear()
                    child = await run_child("_screen_client.py", *reader_args)
                    report: dict[str, Any] = {}
                    everyday_work += [w.word_pairs for w in hub.screener.finished]
                else:
                    async with attacking(hub, [*attacker_args, str(ATTACK_LOOPS)], stop) as task:
                        child = await run_child("_screen_client.py", *reader_args)
                    report = task.result()
                phase_s = time.perf_counter() - started
                records = json.loads(out.read_text(encoding="utf-8"))
                assert [r["id"] for r in records] == [q.id for q in queries]
                runs[phase].append(
                    {
                        "round": round_no,
                        "records": records,
                        "latency": latency(records),
                        "child": child,
                        "phase_s": phase_s,
                        "attacker": {k: v for k, v in report.items() if k != "ms"},
                    }
                )

    # The attack changes nothing of DE's answers; every attacking call is refused.
    answers = [[r["refs"] for r in run["records"]] for run in runs["alone"] + runs["attack"]]
    assert all(a == answers[0] for a in answers)
    assert set(alone["codes"]) == {"RESOURCE_EXHAUSTED"}
    for run in runs["attack"]:
        assert run["attacker"]["calls"] > 0
        assert set(run["attacker"]["codes"]) == {"RESOURCE_EXHAUSTED"}
    assert attack_work
    assert max(attack_work) <= budget
    assert len(everyday_work) == ROUNDS * (len(queries) + len(warmup))
    everyday = {
        "p50": percentile(everyday_work, 50),
        "p99": percentile(everyday_work, 99),
        "max": max(everyday_work),
    }

    pooled = {
        phase: latency([r for run in phase_runs for r in run["records"]])
        for phase, phase_runs in runs.items()
    }
    ratio_p50 = pooled["attack"]["p50_ms"] / pooled["alone"]["p50_ms"]
    ratio_p95 = pooled["attack"]["p95_ms"] / pooled["alone"]["p95_ms"]
    attack_phase_s = sum(run["phase_s"] for run in runs["attack"])
    attack_calls = sum(run["attacker"]["calls"] for run in runs["attack"])
    print(
        f"\n{DENIALS:,} generated denials seeded in {seeded['seconds']:.1f}s, plus {RETRIEVE} "
        f"costly NL denials; attack: {len(queries)} DE queries per run, NL with "
        f"{ATTACK_LOOPS} loops"
    )
    print_table(
        f"DE's ScreenTransaction ({len(queries)} queries one at a time), alone and while NL "
        "attacks",
        ["round", "phase", "p50 ms", "p95 ms", "max ms", "NL calls", "NL codes"],
        [
            [
                run["round"],
                phase,
                run["latency"]["p50_ms"],
                run["latency"]["p95_ms"],
                run["latency"]["max_ms"],
                run["attacker"].get("calls", ""),
                " ".join(f"{k}={v}" for k, v in run["attacker"].get("codes", {}).items()),
            ]
            for phase in ("alone", "attack")
            for run in runs[phase]
        ],
    )
    print(
        f"ratio attack/alone: p50 {ratio_p50:.2f}, p95 {ratio_p95:.2f}; NL's attacking call: "
        f"{attack_cpu_s * 1000:.0f} ms of hub CPU, {max(attack_work):,} word pairs compared of "
        f"{needed:,} it asks for (budget {budget:,}); {attack_calls} attacking calls in the "
        f"{attack_phase_s:.1f}s of the attack phases"
    )
    print(
        f"DE's everyday screenings compared p50 {everyday['p50']:,} / p99 {everyday['p99']:,} / "
        f"max {everyday['max']:,} word pairs: {everyday['p99'] / budget:.1%} of the budget at p99"
    )
    write_result(
        "screening_attack",
        {
            "benchmark": "screening_attack",
            "environment": environment(),
            "config": {
                "denials": DENIALS,
                "costly_denials": RETRIEVE,
                "queries": len(queries),
                "warmup_queries": WARMUP,
                "rounds": ROUNDS,
                "attack_loops": ATTACK_LOOPS,
                "attack_alone_calls": ATTACK_ALONE_CALLS,
                "budget_word_pairs": budget,
                "reader": READER,
                "attacker": ATTACKER,
            },
            "seed": seeded,
            "summary": {
                "alone": pooled["alone"],
                "attack": pooled["attack"],
                "ratio_attack_over_alone_p50": ratio_p50,
                "ratio_attack_over_alone_p95": ratio_p95,
                "attack_call_hub_cpu_ms": attack_cpu_s * 1000,
                "attack_call_word_pairs": max(attack_work),
                "attack_word_pairs_without_budget": needed,
                "everyday_word_pairs": everyday,
                "attack_calls": attack_calls,
                "attack_phases_s": attack_phase_s,
            },
            "rounds": {
                phase: [{k: v for k, v in run.items() if k != "records"} for run in phase_runs]
                for phase, phase_runs in runs.items()
            },
            "attack_alone": {k: v for k, v in alone.items() if k != "ms"} | {"ms": alone["ms"]},
        },
    )
