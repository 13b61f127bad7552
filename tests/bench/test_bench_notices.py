"""Reading and sharing a sensitive notice over mTLS: a recipient's GetNotice and the opening of
a 4 kB notice (unwrap its key, decrypt, verify every step's signature and the content's digest)
next to a plain GetDenial by the same reader on the same hub, measured in the same run, and the
originator's time to share such a notice with every authority of the dev registry.

The hub is this process's, on a fresh store, with every recipient's key published (as the notice
tests run it; `revoked` and `expired` are suspended there, so "every authority" is de, es, fr
and it, shared to all by nl, which wraps for itself too). The client runs in a child process
(tests/bench/_notice_client.py) and makes one call at a time, in blocks of each kind whose order
rotates, so drift of the machine's load falls on reads, baseline and shares alike.

Reported: p50 and p99 of the read (GetNotice + open, and GetNotice alone) and of GetDenial, the
ratios read/GetDenial, and the client's wall time of a ShareNotice end to end, p50 and p99: the
registry fetched and every recipient's key checked, the content sealed and wrapped, the
statement signed and the RPC answered. Every read under the clock is checked: the content opened
is the content shared, the denial the one asked for; in smoke mode too.

Smoke size by default; ECX_BENCH_FULL=1 for the full run. Writes bench-results/notices.json.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from certs.devpki import DevPki
from ecx.v1 import notice_pb2
from tests.bench._common import (
    FULL,
    environment,
    percentile,
    print_table,
    run_child,
    write_result,
)
from tests.helpers import dual_use_payload
from tests.notice_support import AUTHORITIES, REVIEW, content, notice_hub

READER = "de"
SHARER = "nl"
DENIAL = "NL-2026-BENCH-0001"
CONTENT_BYTES = 4096
READS = 2_000 if FULL else 40  # of each kind: notice reads, GetDenial
SHARES = 1_000 if FULL else 20
BLOCK = 50 if FULL else 10  # reads of one kind before the next kind's turn
WARMUP = 20 if FULL else 3  # shares, each read once, untimed; the notices the reads cycle over
RPC_TIMEOUT = 60.0

pytestmark = [pytest.mark.timeout(1800)] if FULL else []


def four_kb_content() -> notice_pb2.NoticeContent:
    """The test notice's content with its free text grown until it serializes to 4,096 bytes."""
    sentence = "Consignments routed through Jebel Ali reached Bandar Abbas under new invoices. "
    base = len(content(text="").SerializeToString(deterministic=True))
    size = CONTENT_BYTES - base - 3  # the text's tag and two-byte length
    text = (sentence * (size // len(sentence) + 1))[:size]
    made = content(text=text)
    assert len(made.SerializeToString(deterministic=True)) == CONTENT_BYTES
    return made


def _summary(seconds: list[float]) -> dict[str, float]:
    return {
        "calls": len(seconds),
        "p50_ms": percentile(seconds, 50) * 1000,
        "p90_ms": percentile(seconds, 90) * 1000,
        "p99_ms": percentile(seconds, 99) * 1000,
        "max_ms": max(seconds) * 1000,
    }


async def test_notice_read_and_share_against_get_denial(pki: DevPki, tmp_path: Path) -> None:
    notice_content = four_kb_content()
    recipients = [a for a in AUTHORITIES if a != SHARER]
    # Whole blocks of reads, and the shares spread evenly over them.
    assert READS % BLOCK == 0
    assert SHARES * BLOCK % READS == 0
    async with notice_hub(pki, tmp_path) as hub:
        async with hub.client(SHARER) as sharer:
            await sharer.submit_denial(dual_use_payload(DENIAL, "NL"))
        spec = tmp_path / "notices.json"
        spec.write_text(
            json.dumps(
                {
                    "hub": hub.address,
                    "reader": str(pki.identity(READER)),
                    "sharer": str(pki.identity(SHARER)),
                    "denial": DENIAL,
                    "content": notice_content.SerializeToString(deterministic=True).hex(),
                    "kind": notice_pb2.END_USER_OF_CONCERN,
                    "classification": notice_pb2.RESTREINT_UE,
                    "review": REVIEW.isoformat(),
                    "recipients": recipients,
                    "reads": READS,
                    "shares": SHARES,
                    "block": BLOCK,
                    "warmup": WARMUP,
                    "timeout": RPC_TIMEOUT,
                }
            )
        )
        result = await run_child("_notice_client.py", str(spec))

    latencies = result.pop("latencies_s")
    get_only = result.pop("get_notice_s")
    assert [len(latencies[k]) for k in ("notice", "denial", "share")] == [READS, READS, SHARES]
    # Every timed read was checked in the child; the warm-up and a sample of the timed shares
    # were read and checked as well.
    assert result["opened"] >= READS + WARMUP, result
    assert result["shared"] == SHARES + WARMUP, result

    read = _summary(latencies["notice"])
    rpc = _summary(get_only)
    opening = _summary([t - g for t, g in zip(latencies["notice"], get_only, strict=True)])
    denial = _summary(latencies["denial"])
    share = _summary(latencies["share"])
    ratio_p50 = read["p50_ms"] / denial["p50_ms"]
    ratio_p99 = read["p99_ms"] / denial["p99_ms"]
    share_ratio = share["p50_ms"] / denial["p50_ms"]

    print_table(
        f"Notices over mTLS: a {CONTENT_BYTES:,} B notice read by {READER} and shared by "
        f"{SHARER} to {len(recipients)} authorities, next to GetDenial; one call at a time, "
        f"{READS:,} reads per kind and {SHARES:,} shares, interleaved in blocks "
        f"({'full' if FULL else 'smoke'} mode)",
        ["call", "p50 ms", "p90 ms", "p99 ms", "max ms", "p50 x GetDenial"],
        [
            [
                name,
                s["p50_ms"],
                s["p90_ms"],
                s["p99_ms"],
                s["max_ms"],
                s["p50_ms"] / denial["p50_ms"],
            ]
            for name, s in (
                ("GetNotice + open", read),
                ("  GetNotice alone", rpc),
                ("  open alone (unwrap, decrypt, verify)", opening),
                ("GetDenial (baseline)", denial),
                (f"ShareNotice to {len(recipients)} + own wrap", share),
            )
        ],
    )
    print(
        f"ratio GetNotice+open / GetDenial: p50 {ratio_p50:.2f}, p99 {ratio_p99:.2f}; "
        f"ShareNotice end to end p50 {share['p50_ms']:.2f} ms ({share_ratio:.1f} x GetDenial "
        f"p50); client CPU {result['client_cpu_s']:.1f} s, peak RSS "
        f"{result['maxrss_kb'] / 1024:.0f} MiB"
    )
    write_result(
        "notices",
        {
            "benchmark": "notices",
            "environment": environment(),
            "config": {
                "content_bytes": CONTENT_BYTES,
                "reader": READER,
                "sharer": SHARER,
                "share_recipients": recipients,
                "reads_per_kind": READS,
                "shares": SHARES,
                "block": BLOCK,
                "warmup": WARMUP,
                "clock": "time.perf_counter in the client process (wall time)",
            },
            "get_notice_and_open": read,
            "get_notice_only": rpc,
            "open_only": opening,
            "get_denial_baseline": denial,
            "share_notice": share,
            "ratio_read_over_get_denial_p50": ratio_p50,
            "ratio_read_over_get_denial_p99": ratio_p99,
            "ratio_share_over_get_denial_p50": share_ratio,
            "client": result,
        },
    )
