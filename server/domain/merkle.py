"""The exchange log's Merkle tree from stored subtree hashes (RFC 9162 §2.1).

A stored node (level, index) is the root of the perfect subtree over leaves
[index * 2**level, (index + 1) * 2**level). Appending a leaf stores it and every perfect subtree it
completes; any root, inclusion proof or consistency proof then needs O(log n) stored nodes.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from client.core.merkle import fold_subtrees, largest_power_of_two_below, node_hash

NodeKey = tuple[int, int]  # (level, index)


@dataclass(frozen=True)
class Span:
    """Leaves [start, end) whose Merkle tree hash a proof needs."""

    start: int
    end: int


def perfect_subtrees(span: Span) -> list[NodeKey]:
    """The stored nodes whose hashes compose MTH(D[start:end]), left to right.

    Valid for the spans of RFC 9162's recursion, where each left part is a power of two.
    """
    keys: list[NodeKey] = []
    start, end = span.start, span.end
    while start < end:
        size = end - start
        width = 1 << (size.bit_length() - 1)
        if start % width:
            width = start & -start
        level = width.bit_length() - 1
        keys.append((level, start >> level))
        start += width
    return keys


def span_hash(span: Span, nodes: Mapping[NodeKey, bytes]) -> bytes:
    """MTH(D[start:end]) from stored nodes: perfect subtrees folded from the right."""
    return fold_subtrees([nodes[key] for key in perfect_subtrees(span)])


def inclusion_spans(leaf_index: int, tree_size: int) -> list[Span]:
    """The subtrees of PATH(m, D[n]) (RFC 9162 §2.1.3.1), leaf to root."""
    spans: list[Span] = []
    start, end, m = 0, tree_size, leaf_index
    while end - start > 1:
        k = largest_power_of_two_below(end - start)
        if m < k:
            spans.append(Span(start + k, end))
            end = start + k
        else:
            spans.append(Span(start, start + k))
            start += k
            m -= k
    spans.reverse()
    return spans


def consistency_spans(first_size: int, second_size: int) -> list[Span]:
    """The subtrees of PROOF(m, D[n]) = SUBPROOF(m, D[n], true) (RFC 9162 §2.1.4.1), in order."""
    spans: list[Span] = []
    start, end, m, complete = 0, second_size, first_size, True
    while m != end - start:
        k = largest_power_of_two_below(end - start)
        if m <= k:
            spans.append(Span(start + k, end))
            end = start + k
        else:
            spans.append(Span(start, start + k))
            start += k
            m -= k
            complete = False
    if not complete:
        spans.append(Span(start, end))
    spans.reverse()
    return spans


def nodes_needed(spans: Iterable[Span]) -> set[NodeKey]:
    return {key for span in spans for key in perfect_subtrees(span)}


def node_id(key: NodeKey) -> int:
    """One integer key per stored node: level in the high bits, index in the low 40."""
    level, index = key
    return level << 40 | index


def node_key(ident: int) -> NodeKey:
    return ident >> 40, ident & ((1 << 40) - 1)


class Frontier:
    """The perfect subtrees covering the whole log: enough to append and to compute the root."""

    def __init__(self, size: int = 0, nodes: Mapping[NodeKey, bytes] | None = None) -> None:
        self.size = size
        keys = perfect_subtrees(Span(0, size))
        self._stack: list[tuple[NodeKey, bytes]] = [(k, (nodes or {})[k]) for k in keys]

    def mark(self) -> tuple[int, list[tuple[NodeKey, bytes]]]:
        """A point to return to if the appends after it are rolled back."""
        return self.size, list(self._stack)

    def reset(self, mark: tuple[int, list[tuple[NodeKey, bytes]]]) -> None:
        self.size, stack = mark
        self._stack = list(stack)

    def append(self, leaf: bytes) -> list[tuple[NodeKey, bytes]]:
        """Add a leaf hash; returns every node to store (the leaf and the subtrees it completes)."""
        key, h = (0, self.size), leaf
        created = [(key, h)]
        while self._stack and self._stack[-1][0][0] == key[0]:
            (level, index), left = self._stack.pop()
            key, h = (level + 1, index >> 1), node_hash(left, h)
            created.append((key, h))
        self._stack.append((key, h))
        self.size += 1
        return created

    def root(self) -> bytes:
        return fold_subtrees([h for _, h in self._stack])
