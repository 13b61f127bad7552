"""Merkle hashing and proofs: the stored-subtree implementation against a naive RFC 9162 reference,
and the verifier against malformed input."""

from __future__ import annotations

import functools
import hashlib

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from client.core.merkle import (
    EMPTY_ROOT,
    ChunkedTree,
    ProofError,
    TreeBuilder,
    check_consistency,
    check_inclusion,
    leaf_hash,
    merkle_root,
    verify_consistency,
    verify_inclusion,
)
from server.domain.merkle import (
    Frontier,
    NodeKey,
    Span,
    consistency_spans,
    inclusion_spans,
    nodes_needed,
    span_hash,
)

MAX = 300
LEAVES = [leaf_hash(i.to_bytes(4, "big")) for i in range(MAX)]


# Reference: RFC 9162 §2.1.1, §2.1.3.1, §2.1.4.1 transcribed literally (memoised for speed).
def _k(n: int) -> int:
    k = 1
    while k * 2 < n:
        k *= 2
    return k


@functools.cache
def ref_mth(start: int, end: int) -> bytes:
    n = end - start
    if n == 0:
        return hashlib.sha256(b"").digest()
    if n == 1:
        return LEAVES[start]
    k = _k(n)
    return hashlib.sha256(b"\x01" + ref_mth(start, start + k) + ref_mth(start + k, end)).digest()


def ref_path(m: int, start: int, end: int) -> list[bytes]:
    n = end - start
    if n == 1:
        return []
    k = _k(n)
    if m < k:
        return [*ref_path(m, start, start + k), ref_mth(start + k, end)]
    return [*ref_path(m - k, start + k, end), ref_mth(start, start + k)]


def ref_subproof(m: int, start: int, end: int, complete: bool) -> list[bytes]:
    n = end - start
    if m == n:
        return [] if complete else [ref_mth(start, end)]
    k = _k(n)
    if m <= k:
        return [*ref_subproof(m, start, start + k, complete), ref_mth(start + k, end)]
    return [*ref_subproof(m - k, start + k, end, False), ref_mth(start, start + k)]


@pytest.fixture(scope="module")
def stored() -> dict[NodeKey, bytes]:
    """Every node the hub would store after appending MAX leaves."""
    frontier = Frontier()
    nodes: dict[NodeKey, bytes] = {}
    for leaf in LEAVES:
        nodes.update(frontier.append(leaf))
    return nodes


def _proof(spans: list[Span], stored: dict[NodeKey, bytes]) -> list[bytes]:
    subset = {k: stored[k] for k in nodes_needed(spans)}  # only what the plan asked for
    return [span_hash(s, subset) for s in spans]


def test_roots_agree_for_every_size(stored: dict[NodeKey, bytes]) -> None:
    frontier = Frontier()
    builder = TreeBuilder()
    assert frontier.root() == builder.root() == EMPTY_ROOT == ref_mth(0, 0)
    for n in range(1, MAX + 1):
        frontier.append(LEAVES[n - 1])
        builder.append(LEAVES[n - 1])
        expected = ref_mth(0, n)
        assert span_hash(Span(0, n), stored) == expected, n
        assert frontier.root() == expected, n
        assert builder.root() == expected, n
        assert merkle_root(LEAVES[:n]) == expected, n
        assert Frontier(n, stored).root() == expected, n


@pytest.mark.parametrize("block", [1, 2, 4, 8])
def test_chunked_tree_agrees_for_every_size(block: int) -> None:
    for n in range(MAX + 1):
        tree = ChunkedTree(block)
        step = 1
        while tree.size < n:  # arrive in uneven batches, as over the network
            tree.extend(LEAVES[tree.size : min(n, tree.size + step)])
            step = step % 7 + 1
        assert tree.root() == ref_mth(0, n), (block, n)


def test_inclusion_proofs_agree_for_all_pairs(stored: dict[NodeKey, bytes]) -> None:
    for n in range(1, MAX + 1):
        root = ref_mth(0, n)
        for m in range(n):
            proof = _proof(inclusion_spans(m, n), stored)
            assert proof == ref_path(m, 0, n), (m, n)
            verify_inclusion(m, n, LEAVES[m], proof, root)


def test_consistency_proofs_agree_for_all_pairs(stored: dict[NodeKey, bytes]) -> None:
    for n in range(1, MAX + 1):
        second = ref_mth(0, n)
        for m in range(1, n + 1):
            proof = _proof(consistency_spans(m, n), stored)
            assert proof == ref_subproof(m, 0, n, True), (m, n)
            verify_consistency(m, n, proof, ref_mth(0, m), second)


def test_proofs_read_logarithmically_many_nodes() -> None:
    n = 1_000_000
    for m in (0, 1, 499_999, 524_288, n - 1):
        assert len(nodes_needed(inclusion_spans(m, n))) <= 2 * n.bit_length()
    for m in (1, 2, 3, 524_288, 777_777, n - 1):
        assert len(nodes_needed(consistency_spans(m, n))) <= 2 * n.bit_length()


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_tampered_inclusion_proofs_fail(stored: dict[NodeKey, bytes], data: st.DataObject) -> None:
    n = data.draw(st.integers(2, MAX))
    m = data.draw(st.integers(0, n - 1))
    proof = _proof(inclusion_spans(m, n), stored)
    root = ref_mth(0, n)
    i = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    bad = list(proof)
    bad[i] = bytes(b ^ (1 << (bit % 8)) if j == bit // 8 else b for j, b in enumerate(bad[i]))
    assert not check_inclusion(m, n, LEAVES[m], bad, root).ok
    assert not check_inclusion(m, n, LEAVES[m], proof[:-1], root).ok
    assert not check_inclusion(m, n, LEAVES[m], [*proof, proof[0]], root).ok
    other = (m + 1) % n
    assert not check_inclusion(other, n, LEAVES[m], proof, root).ok or other == m


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_tampered_consistency_proofs_fail(
    stored: dict[NodeKey, bytes], data: st.DataObject
) -> None:
    n = data.draw(st.integers(2, MAX))
    m = data.draw(st.integers(1, n - 1))
    proof = _proof(consistency_spans(m, n), stored)
    first, second = ref_mth(0, m), ref_mth(0, n)
    assert check_consistency(m, n, proof, first, second).ok
    i = data.draw(st.integers(0, len(proof) - 1))
    bad = list(proof)
    bad[i] = hashlib.sha256(bad[i]).digest()
    assert not check_consistency(m, n, bad, first, second).ok
    assert not check_consistency(m, n, proof[:-1], first, second).ok
    assert not check_consistency(m, n, [*proof, proof[0]], first, second).ok
    assert not check_consistency(m, n, proof, second, first).ok


H = bytes(32)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((5, 5, H, [], H), "index"),
        ((0, 0, H, [], H), "index"),
        ((-1, 4, H, [H, H], H), "index"),
        ((0, 4, b"short", [H, H], H), "leaf hash"),
        ((0, 4, H, [H, b"x" * 33], H), "proof element 1"),
        ((0, 4, H, [H, H], H[:31]), "root"),
        ((0, 4, H, [], H), "too few"),
        ((0, 4, H, [H, H, H], H), "too many"),
        ((0, 1, H, [H], H), "too many"),
    ],
    ids=[
        "index-equals-size",
        "empty-tree",
        "negative-index",
        "short-leaf",
        "long-element",
        "short-root",
        "empty-proof",
        "extra-element",
        "single-leaf-extra",
    ],
)
def test_malformed_inclusion(args: tuple, reason: str) -> None:
    with pytest.raises(ProofError, match=reason):
        verify_inclusion(*args)


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        ((0, 4, [H], H, H), "first size"),
        ((0, 0, [], EMPTY_ROOT, EMPTY_ROOT), "first size"),
        ((5, 4, [H], H, H), "smaller"),
        ((4, 4, [H], H, H), "empty for equal"),
        ((4, 4, [], H, b"\x01" * 32), "different roots"),
        ((3, 4, [], H, H), "empty"),
        ((3, 4, [H[:5]], H, H), "proof element 0"),
        ((3, 4, [H], H[:5], H), "first root"),
        ((3, 4, [H], H, H + b"x"), "second root"),
    ],
    ids=[
        "first-zero",
        "zero-zero",
        "second-smaller",
        "equal-with-proof",
        "equal-different-roots",
        "empty-proof",
        "short-element",
        "short-first-root",
        "long-second-root",
    ],
)
def test_malformed_consistency(args: tuple, reason: str) -> None:
    with pytest.raises(ProofError, match=reason):
        verify_consistency(*args)


def test_equal_sizes_with_empty_proof_and_equal_roots_pass() -> None:
    verify_consistency(7, 7, [], ref_mth(0, 7), ref_mth(0, 7))
