"""Screening retrieves candidates through the token index: unrelated denials are never compared."""

from __future__ import annotations

from ecx.v1 import consultation_pb2, denial_pb2
from tests.helpers import RunningHub, military_payload, party

UNRELATED = [
    "Zephyrine Marlowe",
    "Quillon Brastead",
    "Otterburn Velasko",
    "Fenwick Haldane",
    "Larkspur Ostrova",
    "Ravensworth Kiln",
    "Tamsin Goodwright",
    "Ulverston Pike",
    "Wendover Castille",
    "Yarrowby Dunmore",
    "Ashcombe Trevanion",
    "Brackley Forsythe",
]


async def test_only_denials_sharing_a_name_token_are_compared(hub: RunningHub) -> None:
    async with hub.client("nl") as nl, hub.client("de") as de:
        for i, name in enumerate(UNRELATED):
            await nl.submit_denial(
                military_payload(f"NL-2026-U{i:03d}", "NL", end_user=party(name, "AE"))
            )
        await nl.submit_denial(
            military_payload("NL-2026-U900", "NL", end_user=party("Rosoboronexport JSC", "RU"))
        )
        screened = await de.consultations.screen(
            consultation_pb2.Transaction(
                regime=denial_pb2.MILITARY,
                destination_country="RU",
                end_user=denial_pb2.Party(name="AO Rosoboroneksport", country="RU"),
                control_entries=["ML2.a"],
            )
        )
    assert [c.reference for c in screened.candidates] == ["NL-2026-U900"]
    # Retrieval went through the index: none of the unrelated denials was compared.
    assert screened.denials_compared == 1
