"""The few pieces of protobuf wire format the hub writes and reads itself.

Encoding per the protobuf language guide, "Encoding": a length-delimited field (wire type 2) is
its key, the varint of (field number << 3 | 2), then the varint byte length, then the bytes.
"""

from __future__ import annotations

import functools

_LENGTH_DELIMITED = 2


@functools.lru_cache(maxsize=4096)
def varint(value: int) -> bytes:
    """Base-128 varint of a non-negative integer (lengths repeat, hence the cache)."""
    out = bytearray()
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def length_delimited(field: int, value: bytes) -> bytes:
    """One length-delimited field: key, length, value."""
    return varint(field << 3 | _LENGTH_DELIMITED) + varint(len(value)) + value


def length_delimited_value(field: int, entry: bytes) -> bytes:
    """The value of `entry`, which must be exactly one length-delimited `field`."""
    key = varint(field << 3 | _LENGTH_DELIMITED)
    if not entry.startswith(key):
        raise ValueError(f"malformed field entry: not field {field}, length-delimited")
    length, shift, pos = 0, 0, len(key)
    while True:
        if shift > 63:
            raise ValueError("malformed field entry: length is not a 64-bit varint")
        if pos == len(entry):
            raise ValueError("malformed field entry: truncated length")
        byte = entry[pos]
        pos += 1
        length |= (byte & 0x7F) << shift
        if byte < 0x80:
            break
        shift += 7
    if len(entry) - pos != length:
        raise ValueError("malformed field entry: length does not match")
    return entry[pos:]
