"""Checking the exchange log from the outside: the hub is trusted for availability, not history.

`verify_log` downloads what this participant may read, recomputes what it can (an auditor: the
whole tree), checks it against a freshly verified signed checkpoint, and checks that checkpoint
is consistent with the last one this client saw, which it keeps locally.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from client.api import AuditClient, EcxClient
from client.core.checkpoint import Checkpoint, CheckpointError, verify_checkpoint
from client.core.merkle import (
    ChunkedTree,
    check_consistency,
    check_inclusion,
    leaf_hash,
    merkle_root,
)
from client.errors import VerificationError
from ecx.v1 import participant_pb2

Progress = Callable[[int], None]


@dataclass(frozen=True)
class Verdict:
    """The outcome of a verification, with the first bad index when one can be named."""

    ok: bool
    message: str
    tree_size: int = 0
    first_bad_index: int | None = None
    entries_checked: int = 0


def default_state_dir() -> Path:
    env = os.environ.get("ECX_STATE_DIR")
    if env:
        return Path(env)
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "ecx"


class CheckpointMemory:
    """The last checkpoint this client verified for one hub, kept as its signed note."""

    def __init__(self, directory: Path, server: str, origin: str) -> None:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", f"{origin}@{server}")
        self.path = directory / f"checkpoint-{name}"

    def load(self, client: EcxClient) -> Checkpoint | None:
        try:
            note = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            return verify_checkpoint(
                note, client.log_origin, client.identity.require_log_key(), origin=client.log_origin
            )
        except CheckpointError as e:
            raise VerificationError(f"the remembered checkpoint {self.path} is damaged: {e}") from e

    def save(self, note: str) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(note, encoding="utf-8")
        os.replace(tmp, self.path)


async def _prefix_consistent(
    audit: AuditClient, leaves: Sequence[bytes], m: int, checkpoint: Checkpoint
) -> bool:
    root = merkle_root(leaves[:m])
    if m == checkpoint.size:
        return root == checkpoint.root
    proof = await audit.consistency_proof(m, checkpoint.size)
    return check_consistency(m, checkpoint.size, proof, root, checkpoint.root).ok


async def _first_bad_leaf(
    audit: AuditClient, leaves: Sequence[bytes], checkpoint: Checkpoint
) -> int:
    """Smallest index whose entry breaks consistency with the signed tree (binary search)."""
    lo, hi = 1, len(leaves)  # prefix `hi` is known bad
    while lo < hi:
        mid = (lo + hi) // 2
        if await _prefix_consistent(audit, leaves, mid, checkpoint):
            lo = mid + 1
        else:
            hi = mid
    return lo - 1


async def _verify_all(
    audit: AuditClient, checkpoint: Checkpoint, progress: Progress | None
) -> Verdict:
    leaves: list[bytes] = []
    tree = ChunkedTree()  # hashes while the hub sends the next batch
    sha256 = hashlib.sha256
    async for indexes, entries in audit.entry_batches(0, checkpoint.size):
        expected = len(leaves)
        if not indexes or indexes[0] != expected or indexes[-1] != expected + len(indexes) - 1:
            # Indexes arrive sorted; a gap shows at the ends. Name the first missing one.
            missing = next(
                (i for i, got in enumerate(indexes, start=expected) if got != i),
                expected + len(indexes),
            )
            return Verdict(False, f"entry {missing} is missing", checkpoint.size, missing, expected)
        batch = [sha256(b"\x00" + entry).digest() for entry in entries]
        leaves.extend(batch)
        tree.extend(batch)
        if progress is not None:
            progress(len(entries))
    if len(leaves) != checkpoint.size:
        missing = len(leaves)
        return Verdict(False, f"entry {missing} is missing", checkpoint.size, missing, missing)
    if tree.root() != checkpoint.root:
        bad = await _first_bad_leaf(audit, leaves, checkpoint)
        return Verdict(
            False,
            f"entry {bad} does not match the signed tree",
            checkpoint.size,
            bad,
            len(leaves),
        )
    return Verdict(True, "", checkpoint.size, None, len(leaves))


async def _verify_visible(
    audit: AuditClient, checkpoint: Checkpoint, progress: Progress | None
) -> Verdict:
    checked = 0
    async for batch in audit.entries(0, checkpoint.size):
        for item in batch:
            response = await audit.inclusion_proof(item.index, checkpoint.size)
            result = check_inclusion(
                item.index,
                checkpoint.size,
                leaf_hash(item.entry),
                list(response.proof),
                checkpoint.root,
            )
            if not result.ok:
                return Verdict(
                    False,
                    f"entry {item.index} is not in the signed tree ({result.reason})",
                    checkpoint.size,
                    item.index,
                    checked,
                )
            checked += 1
        if progress is not None:
            progress(len(batch))
    return Verdict(True, "", checkpoint.size, None, checked)


async def verify_log(
    client: EcxClient, memory: CheckpointMemory, *, progress: Progress | None = None
) -> Verdict:
    """Verify the log as far as this participant can; remember the checkpoint if all is well."""
    audit = client.audit
    checkpoint, note = await audit.checkpoint()
    previous = memory.load(client)
    if previous is not None:
        if checkpoint.size < previous.size:
            return Verdict(
                False,
                f"the log was rolled back: the hub shows {checkpoint.size} entries,"
                f" this client saw {previous.size}",
                checkpoint.size,
                checkpoint.size,
            )
        if checkpoint.size == previous.size:
            consistent = checkpoint.root == previous.root
        else:
            proof = await audit.consistency_proof(previous.size, checkpoint.size)
            consistent = check_consistency(
                previous.size, checkpoint.size, proof, previous.root, checkpoint.root
            ).ok
        if not consistent:
            return Verdict(
                False,
                f"the log of {checkpoint.size} entries does not extend the {previous.size}"
                " this client saw",
                checkpoint.size,
                None,
            )
    me = await client.whoami()
    if participant_pb2.AUDITOR in me.roles:
        verdict = await _verify_all(audit, checkpoint, progress)
    else:
        verdict = await _verify_visible(audit, checkpoint, progress)
    if verdict.ok:
        memory.save(note)
    return verdict
