"""Characters a reader cannot see are refused where they could disguise a party or an identifier
(a name that looks like another, a reference that reads backwards), and escaped wherever the CLI
prints what the hub sent."""

from __future__ import annotations

import pytest

from client.errors import RemoteError
from ecx.v1 import consultation_pb2, denial_pb2
from tests.helpers import RunningHub, dual_use_payload

HIDING = {
    "right-to-left-override": "\u202e",
    "left-to-right-isolate": "\u2066",
    "line-separator": "\u2028",
    "zero-width-space": "\u200b",
    "byte-order-mark": "\ufeff",
    "soft-hyphen": "\u00ad",
    "tag-letter": "\U000e0041",
    "escape": "\x1b",
}


def _with(field: str, text: str) -> denial_pb2.DenialPayload:
    payload = dual_use_payload("NL-2026-0300")
    if field == "end_user.name":
        payload.end_user.name = f"Radio{text}tekhnika"
    elif field == "consignee.aliases[0]":
        payload.consignee.aliases[0] = f"OOO {text}Tekhnopark"
    elif field == "contact":
        payload.contact = f"denials{text}@example.org"
    elif field == "originating_authority":
        payload.originating_authority = f"CDIU{text}"
    return payload


@pytest.mark.parametrize("char", list(HIDING), ids=list(HIDING))
@pytest.mark.parametrize(
    "field", ["end_user.name", "consignee.aliases[0]", "contact", "originating_authority"]
)
async def test_names_and_one_line_fields_refuse_invisible_characters(
    hub: RunningHub, field: str, char: str
) -> None:
    async with hub.client("nl") as nl:
        with pytest.raises(RemoteError) as caught:
            await nl.submit_denial(_with(field, HIDING[char]))
    assert caught.value.code.name == "INVALID_ARGUMENT"
    assert (field, "contains control or invisible characters") in caught.value.violations


@pytest.mark.parametrize("char", ["\u202e", "\u2067", "\u2029", "\u200b"])
async def test_free_text_refuses_what_hides_or_reverses_text(hub: RunningHub, char: str) -> None:
    payload = dual_use_payload("NL-2026-0301")
    payload.goods_description = f"Lithography tool {char}for wafers"
    async with hub.client("nl") as nl:
        with pytest.raises(RemoteError) as caught:
            await nl.submit_denial(payload)
    assert caught.value.violations == [
        ("goods_description", "contains control or invisible characters")
    ]


async def test_persian_names_keep_their_joiners_and_prose_its_direction_marks(
    hub: RunningHub,
) -> None:
    """The zero-width non-joiner is part of Persian spelling; right-to-left writers put
    direction marks in prose. Both change no direction and stay allowed."""
    payload = dual_use_payload("NL-2026-0302")
    payload.end_user.name = "صنایع\u200cهوایی قدس"
    payload.end_use = "مصرف \u200fغیرنظامی"
    async with hub.client("nl") as nl:
        stored = await nl.submit_denial(payload)
        shown = await nl.verify_denial(stored)
    assert shown.end_user.name == payload.end_user.name


async def test_screening_refuses_invisible_characters_in_the_names_it_looks_for(
    hub: RunningHub,
) -> None:
    transaction = consultation_pb2.Transaction(
        regime=denial_pb2.DUAL_USE,
        destination_country="RU",
        end_user=denial_pb2.Party(name="Radio\u200btekhnika", country="RU"),
    )
    async with hub.client("de") as de:
        with pytest.raises(RemoteError) as caught:
            await de.consultations.screen(transaction)
    assert ("transaction.end_user.name", "contains control or invisible characters") in (
        caught.value.violations
    )
