"""Request ids: chosen by the client, reused only to retry the same request."""

from __future__ import annotations

import os
import time
import uuid


def new_request_id() -> str:
    """A fresh request id; reuse it only to retry the same request.

    A UUIDv7 (RFC 9562): 48 bits of Unix time in milliseconds, then 74 random bits. Ids made in
    a later millisecond sort later, so the hub's records of them grow at one end of its index
    instead of landing on a different page each.
    """
    millis = time.time_ns() // 1_000_000 & (1 << 48) - 1
    rand = int.from_bytes(os.urandom(10), "big")
    rand_a, rand_b = rand >> 62 & 0xFFF, rand & (1 << 62) - 1
    return uuid.UUID(int=millis << 80 | 0x7 << 76 | rand_a << 64 | 0b10 << 62 | rand_b).hex
