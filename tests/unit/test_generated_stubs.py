"""The committed Python stubs are exactly what `make proto` generates from proto/."""

from __future__ import annotations

from pathlib import Path

import pytest
from grpc_tools import protoc

from tests.helpers import ROOT

PROTO = ROOT / "proto"
SOURCES = sorted(PROTO.glob("ecx/v1/*.proto"))


def _generate(out: Path) -> None:
    include = Path(protoc.__file__).parent / "_proto"
    args = [
        "protoc",
        f"-I{PROTO}",
        f"-I{include}",
        f"--python_out={out}",
        f"--pyi_out={out}",
        f"--grpc_python_out={out}",
        *(str(s) for s in SOURCES),
    ]
    assert protoc.main(args) == 0


def test_protos_exist() -> None:
    assert {s.name for s in SOURCES} >= {"common.proto", "participant.proto", "denial.proto"}


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_committed_stubs_match_generated(source: Path, tmp_path: Path) -> None:
    _generate(tmp_path)
    stem = source.stem
    for suffix in ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py"):
        generated = tmp_path / "ecx" / "v1" / f"{stem}{suffix}"
        committed = PROTO / "ecx" / "v1" / f"{stem}{suffix}"
        assert committed.exists(), f"{committed.name} is not committed; run make proto"
        assert committed.read_bytes() == generated.read_bytes(), (
            f"{committed.name} differs from what {source.name} generates; run make proto"
        )
