"""The wire-format pieces the hub writes itself encode exactly what protobuf would, and the one it
reads back refuses anything but a single whole entry."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ecx.v1 import common_pb2, denial_pb2
from server.wire import length_delimited, length_delimited_value, varint


@given(st.binary(min_size=1, max_size=70_000))
def test_a_length_delimited_field_is_what_protobuf_writes(value: bytes) -> None:
    assert length_delimited(1, value) == common_pb2.Envelope(payload=value).SerializeToString()


@given(st.binary(max_size=300), st.integers(min_value=1, max_value=2**29 - 1))
def test_an_entry_reads_back_as_its_value(value: bytes, field: int) -> None:
    assert length_delimited_value(field, length_delimited(field, value)) == value


@pytest.mark.parametrize(
    "value",
    [1, 127, 128, 300, 16_383, 16_384, 2**21, 2**28, 2**35, 2**63 - 1],
    ids=str,
)
def test_varint_matches_protobuf(value: int) -> None:
    # An int64 field is its key (field 14 << 3, wire type 0), then the varint of its value.
    encoded = denial_pb2.DenialPayload(value_eur=value).SerializeToString()
    assert encoded == varint(14 << 3) + varint(value)


def test_denials_concatenated_as_change_entries_are_a_sync_response() -> None:
    denials = [denial_pb2.Denial(reference=f"NL-2026-{i:04d}", version=1) for i in range(3)]
    response = denial_pb2.SyncDenialsResponse(changes=denials, cursor="42")
    written = b"".join(length_delimited(1, d.SerializeToString()) for d in denials)
    assert written + length_delimited(2, b"42") == response.SerializeToString()


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        (b"", "not field 1"),
        (b"\x12\x01a", "not field 1"),
        (b"\x08\x01", "not field 1"),
        (b"\x0a", "truncated length"),
        (b"\x0a\x80", "truncated length"),
        (b"\x0a" + b"\xff" * 10 + b"\x01", "not a 64-bit varint"),
        (b"\x0a\x02a", "length does not match"),
        (b"\x0a\x01ab", "length does not match"),
    ],
    ids=[
        "empty",
        "other field",
        "varint field",
        "no length",
        "cut length",
        "long length",
        "short value",
        "trailing bytes",
    ],
)
def test_reading_an_entry_fails_closed(entry: bytes, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        length_delimited_value(1, entry)
