"""Request ids made by the client: RFC 9562 version 7, unique, and in the order they were made."""

from __future__ import annotations

import re
import time
import uuid

from client.api import new_request_id
from server.services.denials import check_request_id


def test_a_request_id_is_a_uuid_v7_the_hub_accepts() -> None:
    made = time.time_ns() // 1_000_000
    request_id = new_request_id()
    parsed = uuid.UUID(hex=request_id)
    assert re.fullmatch("[0-9a-f]{32}", request_id)
    assert parsed.version == 7
    assert parsed.variant == uuid.RFC_4122
    assert abs((parsed.int >> 80) - made) < 5_000  # its time field is the time it was made
    check_request_id(request_id)


def test_request_ids_are_unique_and_sort_in_the_order_they_were_made() -> None:
    earlier = [new_request_id() for _ in range(2_000)]
    time.sleep(0.002)
    later = [new_request_id() for _ in range(2_000)]
    assert len(set(earlier + later)) == 4_000
    # Ids of one millisecond are in random order; those of a later millisecond sort after.
    assert max(earlier) < min(later)
