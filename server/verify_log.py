"""`ecx-server verify-log`: check the stored exchange log offline, without trusting the store.

Recomputes every leaf hash from the stored entries, checks it against the stored tree, and checks
every checkpoint the hub signed (and optionally one a client saw) against the recomputed tree.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519
from google.protobuf.message import DecodeError

from client.core.checkpoint import Checkpoint, CheckpointError, verify_checkpoint
from client.core.merkle import TreeBuilder, leaf_hash
from ecx.v1 import audit_pb2
from server.store.sqlite import stored_leaves


@dataclass(frozen=True)
class LogReport:
    ok: bool
    entries: int
    message: str
    first_bad_index: int | None = None


def verify_store(
    path: Path,
    public_key: ed25519.Ed25519PublicKey,
    origin: str,
    seen: list[str] | None = None,
) -> LogReport:
    """Check the log in the store at `path`; `seen` are signed checkpoints clients observed."""
    if not path.exists():
        return LogReport(False, 0, f"no store at {path}")
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        checkpoints: list[tuple[Checkpoint, str]] = []
        for (note,) in db.execute("SELECT note FROM checkpoints ORDER BY tree_size"):
            checkpoints.append(
                (verify_checkpoint(note, origin, public_key, origin=origin), "signed")
            )
        for note in seen or []:
            checkpoints.append((verify_checkpoint(note, origin, public_key, origin=origin), "seen"))
        checkpoints.sort(key=lambda c: c[0].size)
        pending = list(checkpoints)
        builder = TreeBuilder()

        def check_due() -> LogReport | None:
            while pending and pending[0][0].size == builder.size:
                checkpoint, kind = pending.pop(0)
                if builder.root() != checkpoint.root:
                    return LogReport(
                        False,
                        builder.size,
                        f"the first {checkpoint.size} entries do not match the checkpoint"
                        f" {kind} at that size",
                        checkpoint.size - 1,
                    )
            return None

        for index, entry, stored_leaf in stored_leaves(db):
            if (report := check_due()) is not None:
                return report
            if index != builder.size:
                return LogReport(
                    False, builder.size, f"entry {builder.size} is missing", builder.size
                )
            try:
                claimed = audit_pb2.LogEntry.FromString(entry).index
            except DecodeError:
                claimed = -1
            leaf = leaf_hash(entry)
            if claimed != index or stored_leaf != leaf:
                return LogReport(False, builder.size, f"entry {index} was altered", index)
            builder.append(leaf)
        if (report := check_due()) is not None:
            return report
        if pending:
            checkpoint, kind = pending[0]
            return LogReport(
                False,
                builder.size,
                f"the store holds {builder.size} entries but a checkpoint of {checkpoint.size}"
                f" was {kind}: rolled back or truncated",
                builder.size,
            )
        return LogReport(
            True, builder.size, f"{builder.size} entries match {len(checkpoints)} checkpoints"
        )
    except CheckpointError as e:
        return LogReport(False, 0, f"a checkpoint does not verify: {e}")
    except sqlite3.Error as e:
        return LogReport(False, 0, f"cannot read the store: {e}")
    finally:
        db.close()
