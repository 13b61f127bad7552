"""client/merkle.py against the public RFC 6962/9162 conformance set in ../shared/testdata/merkle.

ecx applies one rule stricter than the vectors: a root, leaf hash or proof element that is not
exactly 32 bytes is always rejected (see that folder's README).
"""

from __future__ import annotations

import base64
import json
import os
from pathlib import Path
from typing import Any

import pytest

from client.core.merkle import (
    ProofError,
    TreeBuilder,
    leaf_hash,
    verify_consistency,
    verify_inclusion,
)
from tests.helpers import ROOT

VECTORS = ROOT.parent / "shared" / "testdata" / "merkle"
STRICTER = {"consistency/additional/sizes-are-equal-one-and-proof-is-empty.json"}

if not VECTORS.is_dir():
    if os.environ.get("CI"):
        raise RuntimeError(f"Merkle conformance vectors missing at {VECTORS}")
    pytest.skip(f"conformance vectors not present at {VECTORS}", allow_module_level=True)


def _files(kind: str) -> list[Path]:
    return sorted((VECTORS / kind).rglob("*.json"))


def _b64(value: str | None) -> bytes:
    return base64.b64decode(value or "")


def _id(path: Path) -> str:
    return str(path.relative_to(VECTORS))


def _expect_error(path: Path, vector: dict[str, Any]) -> bool:
    return bool(vector["wantErr"]) or _id(path) in STRICTER


def test_the_set_is_complete() -> None:
    assert len(_files("inclusion")) == 98
    assert len(_files("consistency")) == 98


@pytest.mark.parametrize("path", _files("inclusion"), ids=_id)
def test_inclusion_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    proof = [_b64(p) for p in v["proof"] or []]
    args = (v["leafIdx"], v["treeSize"], _b64(v["leafHash"]), proof, _b64(v["root"]))
    if _expect_error(path, v):
        with pytest.raises(ProofError):
            verify_inclusion(*args)
    else:
        verify_inclusion(*args)


@pytest.mark.parametrize("path", _files("consistency"), ids=_id)
def test_consistency_vector(path: Path) -> None:
    v = json.loads(path.read_text())
    proof = [_b64(p) for p in v["proof"] or []]
    args = (v["size1"], v["size2"], proof, _b64(v["root1"]), _b64(v["root2"]))
    if _expect_error(path, v):
        with pytest.raises(ProofError):
            verify_consistency(*args)
    else:
        verify_consistency(*args)


def test_real_certificate_transparency_inclusion() -> None:
    v = json.loads((VECTORS / "ct-real-log-inclusion.json").read_text())
    proof = [bytes.fromhex(p) for p in v["auditPathHex"]]
    root = bytes.fromhex(v["rootHashHex"])
    leaf = leaf_hash(bytes.fromhex(v["leafInputHex"]))
    assert leaf == bytes.fromhex(v["leafHashHex"])
    verify_inclusion(v["leafIndex_0based"], v["treeSize"], leaf, proof, root)
    with pytest.raises(ProofError):
        verify_inclusion(v["leafIndex_0based"] + 1, v["treeSize"], leaf, proof, root)


def test_rfc6962_tree_roots() -> None:
    v = json.loads((VECTORS / "tree-rfc6962-8leaf.json").read_text())
    builder = TreeBuilder()
    roots = [bytes.fromhex(h) for h in v["root_hashes_by_tree_size_hex"]]
    assert builder.root() == roots[0]
    for size, data in enumerate(v["leaf_inputs_hex"], start=1):
        builder.append(leaf_hash(bytes.fromhex(data)))
        assert builder.root() == roots[size]
