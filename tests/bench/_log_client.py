"""Client side of test_bench_log, run in its own process so that the client's CPU is not the hub's.

    python tests/bench/_log_client.py proofs SPEC_JSON
    python tests/bench/_log_client.py verify SPEC_JSON

proofs  GetInclusionProof, GetConsistencyProof and a bare mTLS echo, interleaved in blocks and
        timed one call at a time; every proof is verified after the timed part, with its own timing.
verify  client.audit.verify_log as an auditor (download every entry, recompute the root, compare
        with the verified checkpoint), then the same work in parts: the download alone, the
        client.core.merkle hashing alone, the entry decoding alone, and a raw hashlib pass.

Prints one JSON line with the figures. `RawMerkle` is also the baseline of the append benchmark.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import resource
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

_sha256 = hashlib.sha256


class RawMerkle:
    """The RFC 9162 tree hash of a sequence of entries with nothing but hashlib: one SHA-256 of
    0x00||entry per leaf and one SHA-256 of 0x01||left||right per interior node (n - 1 in all).

    Only the hashing loop is timed (`seconds`); feeding it the entries is the caller's business.
    """

    def __init__(self) -> None:
        self.stack: list[bytes] = []  # roots of the perfect subtrees so far, largest first
        self.size = 0
        self.seconds = 0.0

    def absorb(self, entries: Sequence[bytes]) -> None:
        sha, stack, n = _sha256, self.stack, self.size
        started = time.perf_counter()
        for entry in entries:
            h = sha(b"\x00" + entry).digest()
            n += 1
            m = n
            while not m & 1:  # leaf n completes one perfect subtree per trailing zero bit
                h = sha(b"\x01" + stack.pop() + h).digest()
                m >>= 1
            stack.append(h)
        self.seconds += time.perf_counter() - started
        self.size = n

    def root(self) -> bytes:
        started = time.perf_counter()
        if not self.stack:
            h = _sha256(b"").digest()
        else:
            h = self.stack[-1]
            for left in reversed(self.stack[:-1]):
                h = _sha256(b"\x01" + left + h).digest()
        self.seconds += time.perf_counter() - started
        return h

    @property
    def hashes(self) -> int:
        """Leaf hashes plus the interior node hashes of a tree of this size."""
        return max(2 * self.size - 1, 0)


def raw_pass(entries: Sequence[bytes]) -> tuple[float, bytes]:
    tree = RawMerkle()
    tree.absorb(entries)
    root = tree.root()
    return tree.seconds, root


def _usage() -> dict[str, float]:
    ru = resource.getrusage(resource.RUSAGE_SELF)
    return {"cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_kb": float(ru.ru_maxrss)}


async def proofs(spec: dict[str, Any]) -> dict[str, Any]:
    import grpc

    from client.api import EcxClient
    from client.core.merkle import leaf_hash, verify_consistency, verify_inclusion
    from client.identity import Identity
    from ecx.v1 import audit_pb2

    identity = Identity.load(Path(spec["identity"]))
    size: int = spec["tree_size"]
    roots = {int(k): bytes.fromhex(v) for k, v in spec["roots"].items()}
    inclusion: list[int] = spec["inclusion"]
    consistency: list[tuple[int, int]] = [tuple(p) for p in spec["consistency"]]
    block: int = spec["block"]
    credentials = grpc.ssl_channel_credentials(
        root_certificates=identity.ca_pem,
        private_key=identity.key_pem,
        certificate_chain=identity.cert_pem,
    )
    async with (
        EcxClient(spec["hub"], identity, timeout=spec["timeout"]) as ecx,
        grpc.aio.secure_channel(spec["echo"], credentials) as echo_channel,
    ):
        audit = ecx.audit
        checkpoint, _ = await audit.checkpoint()
        if checkpoint.size != size or checkpoint.root != roots[size]:
            raise SystemExit(f"checkpoint {checkpoint.size} does not match the appended tree")
        echo = echo_channel.unary_unary(spec["echo_method"])
        # Warm both connections; the echo then carries a real inclusion-proof response's bytes.
        sample = await audit.inclusion_proof(size // 2, size)
        payload = sample.SerializeToString()
        for i in range(spec["warmup"]):
            await audit.inclusion_proof((i * 7919) % size, size)
            await audit.consistency_proof(*consistency[i % len(consistency)])
            await echo(payload, timeout=spec["timeout"])

        latencies: dict[str, list[float]] = {"inclusion": [], "consistency": [], "echo": []}
        inclusion_responses: list[audit_pb2.GetInclusionProofResponse] = []
        consistency_responses: list[list[bytes]] = []
        clock = time.perf_counter
        before = _usage()
        kinds = list(latencies)
        for b, start in enumerate(range(0, len(inclusion), block)):
            # Rotate the order per block so drift of the machine falls on every kind alike.
            for kind in kinds[b % 3 :] + kinds[: b % 3]:
                out = latencies[kind]
                if kind == "inclusion":
                    for index in inclusion[start : start + block]:
                        t = clock()
                        response = await audit.inclusion_proof(index, size)
                        out.append(clock() - t)
                        inclusion_responses.append(response)
                elif kind == "consistency":
                    for first, second in consistency[start : start + block]:
                        t = clock()
                        proof = await audit.consistency_proof(first, second)
                        out.append(clock() - t)
                        consistency_responses.append(proof)
                else:
                    for _ in range(min(block, len(inclusion) - start)):
                        t = clock()
                        echoed = await echo(payload, timeout=spec["timeout"])
                        out.append(clock() - t)
                        if len(echoed) != len(payload):
                            raise SystemExit("echo returned other bytes")
        client_cpu = _usage()["cpu_s"] - before["cpu_s"]

    verify_s: dict[str, list[float]] = {"inclusion": [], "consistency": []}
    lengths: dict[str, list[int]] = {"inclusion": [], "consistency": []}
    for index, response in zip(inclusion, inclusion_responses, strict=True):
        t = clock()
        verify_inclusion(
            index, size, leaf_hash(response.entry), list(response.proof), checkpoint.root
        )
        if audit_pb2.LogEntry.FromString(response.entry).index != index:
            raise SystemExit(f"inclusion proof for {index} came with another entry")
        verify_s["inclusion"].append(clock() - t)
        lengths["inclusion"].append(len(response.proof))
    for (first, second), proof in zip(consistency, consistency_responses, strict=True):
        t = clock()
        verify_consistency(first, second, proof, roots[first], roots[second])
        verify_s["consistency"].append(clock() - t)
        lengths["consistency"].append(len(proof))

    return {
        "latencies_s": latencies,
        "verify_s": verify_s,
        "proof_lengths": lengths,
        "echo_payload_bytes": len(payload),
        "inclusion_response_bytes": len(payload),
        "client_cpu_s": client_cpu,
        "verified": {k: len(v) for k, v in verify_s.items()},
        **_usage(),
    }


async def verify(spec: dict[str, Any]) -> dict[str, Any]:
    from client.api import EcxClient
    from client.audit import CheckpointMemory, verify_log
    from client.core.merkle import TreeBuilder, leaf_hash
    from client.identity import Identity
    from ecx.v1 import audit_pb2

    identity = Identity.load(Path(spec["identity"]))
    size: int = spec["tree_size"]
    root = bytes.fromhex(spec["root"])
    clock = time.perf_counter
    result: dict[str, Any] = {}
    async with EcxClient(spec["hub"], identity, timeout=spec["timeout"]) as ecx:
        await ecx.whoami()  # the connection is made before the clock starts
        memory = CheckpointMemory(Path(spec["state_dir"]), ecx.server, ecx.log_origin)
        before = _usage()
        t = clock()
        verdict = await verify_log(ecx, memory)
        result["verify_log_s"] = clock() - t
        result["verify_log_cpu_s"] = _usage()["cpu_s"] - before["cpu_s"]
        if not verdict.ok or verdict.entries_checked != size or verdict.tree_size != size:
            raise SystemExit(f"verify_log failed: {verdict}")
        if not memory.path.exists():
            raise SystemExit("verify_log did not remember the checkpoint")

        entries: list[bytes] = []
        before = _usage()
        t = clock()
        async for batch in ecx.audit.entries(0, size):
            entries.extend(item.entry for item in batch)
        result["download_s"] = clock() - t
        result["download_cpu_s"] = _usage()["cpu_s"] - before["cpu_s"]
    if len(entries) != size:
        raise SystemExit(f"downloaded {len(entries)} entries, expected {size}")
    result["entry_bytes"] = sum(map(len, entries))

    t = clock()
    builder = TreeBuilder()
    for entry in entries:
        builder.append(leaf_hash(entry))
    builder_root = builder.root()
    result["tree_builder_s"] = clock() - t

    t = clock()
    for i, entry in enumerate(entries):
        if audit_pb2.LogEntry.FromString(entry).index != i:
            raise SystemExit(f"entry {i} does not carry its index")
    result["decode_s"] = clock() - t

    raw_runs = []
    for _ in range(spec["raw_repeats"]):
        seconds, raw_root = raw_pass(entries)
        if raw_root != root:
            raise SystemExit("raw hashlib pass disagrees with the checkpoint")
        raw_runs.append(seconds)
    if builder_root != root:
        raise SystemExit("TreeBuilder disagrees with the checkpoint")
    result["raw_hashlib_runs_s"] = raw_runs
    result["raw_hashlib_s"] = sorted(raw_runs)[len(raw_runs) // 2]
    result["entries"] = size
    result.update(_usage())
    return result


async def main(mode: str, spec: dict[str, Any]) -> dict[str, Any]:
    if mode == "proofs":
        return await proofs(spec)
    if mode == "verify":
        return await verify(spec)
    raise SystemExit(f"unknown mode {mode!r}")


if __name__ == "__main__":
    limit = float(os.environ.get("ECX_BENCH_CHILD_TIMEOUT", "1800"))
    spec = json.loads(Path(sys.argv[2]).read_text(encoding="utf-8"))
    print(json.dumps(asyncio.run(asyncio.wait_for(main(sys.argv[1], spec), limit))))
