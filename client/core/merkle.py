"""Merkle tree hashing and proof verification, RFC 9162 §2.1 (SHA-256).

Pure functions over raw 32-byte hashes. Every malformed input fails closed with one error type,
`ProofError`, whose message starts `malformed <thing>:` or names the mismatch.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from client.errors import VerificationError

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()  # RFC 9162 §2.1.1: MTH({}) = HASH()


class ProofError(VerificationError):
    """A Merkle proof or its inputs do not verify."""


def leaf_hash(entry: bytes) -> bytes:
    """RFC 9162 §2.1.1: MTH({d(0)}) = HASH(0x00 || d(0))."""
    return hashlib.sha256(b"\x00" + entry).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """RFC 9162 §2.1.1: HASH(0x01 || MTH(left) || MTH(right))."""
    return hashlib.sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """k of RFC 9162 §2.1.1: the largest power of two smaller than n (n > 1)."""
    return 1 << ((n - 1).bit_length() - 1)


def _check_hash(name: str, value: bytes) -> None:
    if not isinstance(value, bytes | bytearray) or len(value) != HASH_SIZE:
        raise ProofError(f"malformed {name}: must be {HASH_SIZE} bytes")


def _check_proof(proof: Sequence[bytes]) -> None:
    for i, element in enumerate(proof):
        _check_hash(f"proof element {i}", element)


def _shift_until_odd_or_zero(fn: int, sn: int) -> tuple[int, int]:
    while fn & 1 == 0 and fn != 0:
        fn >>= 1
        sn >>= 1
    return fn, sn


def root_from_inclusion_proof(
    leaf_index: int, tree_size: int, leaf: bytes, proof: Sequence[bytes]
) -> bytes:
    """The root an inclusion proof implies (RFC 9162 §2.1.3.2, steps 1-4)."""
    if not 0 <= leaf_index < tree_size:
        raise ProofError("malformed inclusion proof: leaf index must be below the tree size")
    _check_hash("leaf hash", leaf)
    _check_proof(proof)
    fn, sn = leaf_index, tree_size - 1
    r = bytes(leaf)
    for p in proof:
        if sn == 0:
            raise ProofError("malformed inclusion proof: too many elements")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            if not fn & 1:
                fn, sn = _shift_until_odd_or_zero(fn, sn)
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("malformed inclusion proof: too few elements")
    return r


def verify_inclusion(
    leaf_index: int, tree_size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> None:
    """Raise ProofError unless `leaf` is at `leaf_index` of the tree of `tree_size` with `root`."""
    _check_hash("root", root)
    if root_from_inclusion_proof(leaf_index, tree_size, leaf, proof) != root:
        raise ProofError("inclusion proof does not lead to the root")


def verify_consistency(
    first_size: int,
    second_size: int,
    proof: Sequence[bytes],
    first_root: bytes,
    second_root: bytes,
) -> None:
    """Raise ProofError unless the tree of `second_size` extends the one of `first_size`.

    RFC 9162 §2.1.4.2. A first size of 0 is refused (nothing to be consistent with); equal sizes
    pass only with an empty proof and equal roots.
    """
    _check_hash("first root", first_root)
    _check_hash("second root", second_root)
    _check_proof(proof)
    if first_size <= 0:
        raise ProofError("malformed consistency proof: first size must be at least 1")
    if second_size < first_size:
        raise ProofError("malformed consistency proof: second size is smaller than the first")
    if first_size == second_size:
        if proof:
            raise ProofError("malformed consistency proof: must be empty for equal sizes")
        if first_root != second_root:
            raise ProofError("consistency proof: equal sizes with different roots")
        return
    if not proof:
        raise ProofError("malformed consistency proof: empty")
    path = list(proof)
    if first_size & (first_size - 1) == 0:  # step 2: first is an exact power of two
        path.insert(0, bytes(first_root))
    fn, sn = first_size - 1, second_size - 1
    while fn & 1:  # step 4
        fn >>= 1
        sn >>= 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("malformed consistency proof: too many elements")
        if fn & 1 or fn == sn:
            fr = node_hash(c, fr)
            sr = node_hash(c, sr)
            if not fn & 1:
                fn, sn = _shift_until_odd_or_zero(fn, sn)
        else:
            sr = node_hash(sr, c)
        fn >>= 1
        sn >>= 1
    if sn != 0:
        raise ProofError("malformed consistency proof: too few elements")
    if fr != first_root:
        raise ProofError("consistency proof does not lead to the first root")
    if sr != second_root:
        raise ProofError("consistency proof does not lead to the second root")


@dataclass(frozen=True)
class ProofCheck:
    """The result form of a verification: whether it passed and, if not, why."""

    ok: bool
    reason: str = ""


def check_inclusion(
    leaf_index: int, tree_size: int, leaf: bytes, proof: Sequence[bytes], root: bytes
) -> ProofCheck:
    try:
        verify_inclusion(leaf_index, tree_size, leaf, proof, root)
    except ProofError as e:
        return ProofCheck(False, str(e))
    return ProofCheck(True)


def check_consistency(
    first_size: int,
    second_size: int,
    proof: Sequence[bytes],
    first_root: bytes,
    second_root: bytes,
) -> ProofCheck:
    try:
        verify_consistency(first_size, second_size, proof, first_root, second_root)
    except ProofError as e:
        return ProofCheck(False, str(e))
    return ProofCheck(True)


def fold_subtrees(roots: Sequence[bytes]) -> bytes:
    """MTH of a tree given the roots of its perfect subtrees, largest (leftmost) first.

    RFC 9162 §2.1.1 splits at the largest power of two, so the tree is the right fold.
    """
    if not roots:
        return EMPTY_ROOT
    h = roots[-1]
    for left in reversed(roots[:-1]):
        h = node_hash(left, h)
    return h


def merkle_root(leaves: Sequence[bytes]) -> bytes:
    """MTH of a whole list of leaf hashes, level by level (RFC 9162 §2.1.1).

    Pairing left to right and carrying an odd last node up unchanged gives the same tree as the
    RFC's split at the largest power of two.
    """
    if not leaves:
        return EMPTY_ROOT
    level = list(leaves)
    sha256 = hashlib.sha256
    while len(level) > 1:
        paired = [
            sha256(b"\x01" + left + right).digest()
            for left, right in zip(level[0::2], level[1::2], strict=False)
        ]
        if len(level) % 2:
            paired.append(level[-1])
        level = paired
    return level[0]


class ChunkedTree:
    """Root of a long list of leaf hashes, reduced block by block as they arrive.

    Each full block of `block` leaves (a power of two) is a perfect subtree; the tree over the
    block roots, the last block possibly partial, is the RFC 9162 tree over the leaves, because
    every split at a power of two at least `block` falls on a block boundary.
    """

    def __init__(self, block: int = 4096) -> None:
        if block < 1 or block & (block - 1):
            raise ValueError("block must be a power of two")
        self._block = block
        self._roots: list[bytes] = []
        self._pending: list[bytes] = []
        self.size = 0

    def extend(self, leaves: Sequence[bytes]) -> None:
        self._pending.extend(leaves)
        self.size += len(leaves)
        block = self._block
        if len(self._pending) >= block:
            full = len(self._pending) - len(self._pending) % block
            for start in range(0, full, block):
                self._roots.append(merkle_root(self._pending[start : start + block]))
            del self._pending[:full]

    def root(self) -> bytes:
        tail = [merkle_root(self._pending)] if self._pending else []
        return merkle_root(self._roots + tail)


class TreeBuilder:
    """Root of a growing tree from its leaf hashes in O(log n) memory: the compact range of the
    perfect subtrees so far (RFC 9162 §2.1.1 decomposition)."""

    def __init__(self) -> None:
        self._stack: list[tuple[int, bytes]] = []  # (height, hash), heights strictly decreasing
        self.size = 0

    def append(self, leaf: bytes) -> None:
        height, h = 0, leaf
        while self._stack and self._stack[-1][0] == height:
            _, left = self._stack.pop()
            h = node_hash(left, h)
            height += 1
        self._stack.append((height, h))
        self.size += 1

    def root(self) -> bytes:
        return fold_subtrees([h for _, h in self._stack])
