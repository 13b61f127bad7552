"""How a screened control entry relates to a denied one: the evidence an officer reads."""

from __future__ import annotations

import pytest

from server.services.screening import entry_relation


@pytest.mark.parametrize(
    ("query", "denied", "relation"),
    [
        ("ML10.a", "ML10.a", "SAME_ENTRY"),
        ("3B001.f.1", "3B001.f.1", "SAME_ENTRY"),
        ("ML10.a.1", "ML10.a", "SAME_SUBTREE"),
        ("ML10", "ML10.b.2", "SAME_SUBTREE"),
        ("ML10.a", "ML10.b", "SAME_SUBTREE"),
        ("3B001.f.1", "3B001.a", "SAME_SUBTREE"),
        ("3B001.f", "3B002", "SAME_CATEGORY"),
        ("5A002.a", "5A001.b", "SAME_CATEGORY"),
        ("ML10.a", "ML1.a", None),
        ("ML2.a", "ML22.a", None),
        ("3B001.f", "3A001.a", None),
        ("ML10.a", "3B001.f", None),
    ],
)
def test_entry_relation(query: str, denied: str, relation: str | None) -> None:
    assert entry_relation(query, denied) == relation
    assert entry_relation(denied, query) == relation
