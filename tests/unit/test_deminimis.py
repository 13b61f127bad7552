"""The de minimis rule (treaty Art. 3): worked cases, the exclusion annex, every refused figure,
and properties that must hold for any figures."""

from __future__ import annotations

from fractions import Fraction
from typing import Any

import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from client.core.deminimis import (
    DEFAULT_ANNEX,
    Aggregation,
    AnnexItem,
    Boundary,
    DeMinimisCase,
    DeMinimisError,
    DeMinimisResult,
    DeMinimisRules,
    ExcludedGoods,
    FinalSystem,
    OverThreshold,
    Supplier,
    assess,
    follow_on,
    percent,
)

INCLUSIVE = DeMinimisRules()
EXCLUSIVE = DeMinimisRules(boundary=Boundary.EXCLUSIVE)
COMBINED = DeMinimisRules(aggregation=Aggregation.COMBINED)
COMBINED_EXCLUSIVE = DeMinimisRules(aggregation=Aggregation.COMBINED, boundary=Boundary.EXCLUSIVE)


def supplier(party: str, value: int, excluded: int = 0, *entries: str) -> Supplier:
    return Supplier(party, value, excluded, entries or ("ML11.a",))


def case(value: int, excluded: int, *suppliers: Supplier) -> DeMinimisCase:
    return DeMinimisCase(FinalSystem(value, excluded), suppliers)


# (system value, system excluded, [(party, value, excluded)], rules, applies, {party: share})
WORKED = [
    pytest.param(
        1_000_000, 0, [("FR", 150_000, 0)], INCLUSIVE, True, {"FR": Fraction(3, 20)}, id="under"
    ),
    pytest.param(
        1_000_000, 0, [("FR", 250_000, 0)], INCLUSIVE, False, {"FR": Fraction(1, 4)}, id="over"
    ),
    pytest.param(
        1_000_000, 0, [("FR", 200_001, 0)], INCLUSIVE, False, {}, id="one-euro-over"
    ),
    pytest.param(
        1_000_000, 0, [("FR", 200_000, 0)], INCLUSIVE, True, {"FR": Fraction(1, 5)},
        id="exactly-20-inclusive",
    ),
    pytest.param(
        1_000_000, 0, [("FR", 200_000, 0)], EXCLUSIVE, False, {"FR": Fraction(1, 5)},
        id="exactly-20-exclusive",
    ),
    pytest.param(
        1_000_000, 0, [("FR", 199_999, 0)], EXCLUSIVE, True, {}, id="one-euro-under-exclusive"
    ),
    pytest.param(
        2_500_000, 100_000, [("FR", 480_000, 0)], INCLUSIVE, True, {"FR": Fraction(1, 5)},
        id="system-maintenance-excluded-to-exactly-20",
    ),
    pytest.param(
        2_500_000, 0, [("FR", 520_000, 0)], INCLUSIVE, False, {"FR": Fraction(26, 125)},
        id="over-without-the-system-exclusion",
    ),
    pytest.param(
        2_500_000, 100_000, [("FR", 520_000, 40_000)], INCLUSIVE, True, {"FR": Fraction(1, 5)},
        id="maintenance-excluded-both-sides",
    ),
    pytest.param(
        2_500_000, 100_000, [("FR", 520_000, 0)], INCLUSIVE, False, {"FR": Fraction(13, 60)},
        id="supplier-maintenance-counted-is-over",
    ),
    pytest.param(
        1_000_000, 0, [("FR", 150_000, 0), ("ES", 100_000, 0)], INCLUSIVE, True,
        {"FR": Fraction(3, 20), "ES": Fraction(1, 10)}, id="two-under-per-supplier",
    ),
    pytest.param(
        1_000_000, 0, [("FR", 150_000, 0), ("ES", 100_000, 0)], COMBINED, False,
        {"FR": Fraction(3, 20), "ES": Fraction(1, 10)}, id="two-under-combined-over",
    ),
    pytest.param(
        1_000_000, 0, [("FR", 120_000, 0), ("ES", 80_000, 0)], COMBINED, True, {},
        id="combined-exactly-20-inclusive",
    ),
    pytest.param(
        1_000_000, 0, [("FR", 120_000, 0), ("ES", 80_000, 0)], COMBINED_EXCLUSIVE, False, {},
        id="combined-exactly-20-exclusive",
    ),
    pytest.param(
        1_000_000, 0, [("FR", 150_000, 0), ("ES", 300_000, 0)], INCLUSIVE, False,
        {"FR": Fraction(3, 20), "ES": Fraction(3, 10)}, id="one-of-two-over",
    ),
    pytest.param(
        3, 0, [("FR", 1, 0)], DeMinimisRules(threshold=Fraction(1, 3)), True,
        {"FR": Fraction(1, 3)}, id="third-exact-without-rounding",
    ),
    pytest.param(
        1_000_000, 0, [("FR", 0, 0)], EXCLUSIVE, True, {"FR": Fraction(0)}, id="nothing-supplied"
    ),
    pytest.param(
        1_000_000, 0, [("FR", 1_000_000, 0)], INCLUSIVE, False, {"FR": Fraction(1)},
        id="whole-system",
    ),
]  # fmt: skip


@pytest.mark.parametrize(("value", "excluded", "suppliers", "rules", "applies", "shares"), WORKED)
def test_worked_case(
    value: int,
    excluded: int,
    suppliers: list[tuple[str, int, int]],
    rules: DeMinimisRules,
    applies: bool,
    shares: dict[str, Fraction],
) -> None:
    result = assess(case(value, excluded, *(supplier(*s) for s in suppliers)), rules)
    assert result.applies is applies
    got = {s.supplier.party: s.share for s in result.suppliers}
    for party, share in shares.items():
        assert got[party] == share
    if rules.aggregation is Aggregation.COMBINED:
        assert result.combined_share == sum(got.values())
    else:
        assert result.combined_share is None


def test_reasons_name_the_supplier_and_share_over() -> None:
    result = assess(case(1_000_000, 0, supplier("FR", 150_000), supplier("ES", 300_000)))
    assert result.reasons == (
        OverThreshold(("ES",), Fraction(3, 10), Fraction(1, 5), Boundary.INCLUSIVE),
    )
    assert [s.within_threshold for s in result.suppliers] == [True, False]
    assert result.applies_to("FR")
    assert not result.applies_to("ES")
    assert not result.applies_to("DE")


def test_combined_over_names_every_supplier() -> None:
    result = assess(case(1_000_000, 0, supplier("FR", 150_000), supplier("ES", 100_000)), COMBINED)
    assert result.reasons == (
        OverThreshold(("FR", "ES"), Fraction(1, 4), Fraction(1, 5), Boundary.INCLUSIVE),
    )
    assert [s.within_threshold for s in result.suppliers] == [True, True]
    assert not result.applies_to("FR")
    assert not result.applies_to("ES")


# Each annex item: an entry it covers, and a neighbour it must not cover.
ANNEX = [
    ("ML1.a", AnnexItem.SMALL_ARMS, "ML11.a"),
    ("ML1", AnnexItem.SMALL_ARMS, "ML13.c"),
    ("ML2.a", AnnexItem.ARTILLERY, "ML22.a"),
    ("ML2.c", AnnexItem.ARTILLERY, "ML21.b.1"),
    ("ML3.b", AnnexItem.AMMUNITION, "ML5.a"),
    ("ML8.b.1", AnnexItem.AMMUNITION, "ML8.a"),
    ("ML8.b", AnnexItem.AMMUNITION, "ML8.c.1"),
    ("ML4.a", AnnexItem.MUNITIONS, "ML5.b"),
    ("ML4.b.2", AnnexItem.MUNITIONS, "ML14"),
    ("ML6.a", AnnexItem.TANK_CHASSIS_AND_TURRETS, "ML6.b.1"),
    ("ML6.a.1", AnnexItem.TANK_CHASSIS_AND_TURRETS, "ML6.b"),
    ("ML10.c", AnnexItem.AIRCRAFT_ENGINES, "ML10.d"),
    ("ML10.c.1", AnnexItem.AIRCRAFT_ENGINES, "ML10.b"),
    ("ML10.a.1", AnnexItem.COMBAT_AIRFRAMES, "ML10.a.2"),
    ("ML10.a.1.b", AnnexItem.COMBAT_AIRFRAMES, "ML10.a.10"),
]


@pytest.mark.parametrize(("entry", "item", "neighbour"), ANNEX, ids=[a[0] for a in ANNEX])
def test_annex_item_excluded_whatever_the_share(
    entry: str, item: AnnexItem, neighbour: str
) -> None:
    small = case(1_000_000, 0, supplier("FR", 1_000, 0, "ML11.a", entry))
    result = assess(small)
    assert not result.applies
    assert result.suppliers[0].within_threshold
    (reason,) = result.reasons
    assert isinstance(reason, ExcludedGoods)
    assert (reason.party, reason.entry, reason.item) == ("FR", entry, item)
    assert entry in result.explain()
    assert item.value in result.explain()

    allowed = assess(case(1_000_000, 0, supplier("FR", 1_000, 0, neighbour)))
    assert allowed.applies, neighbour


def test_every_annex_item_is_mapped() -> None:
    assert set(DEFAULT_ANNEX.values()) == set(AnnexItem)


def test_most_specific_prefix_is_named() -> None:
    rules = DeMinimisRules(annex={"ML10": AnnexItem.COMBAT_AIRFRAMES, **DEFAULT_ANNEX})
    (reason,) = assess(case(100, 0, supplier("FR", 1, 0, "ML10.c.2")), rules).reasons
    assert isinstance(reason, ExcludedGoods)
    assert (reason.prefix, reason.item) == ("ML10.c", AnnexItem.AIRCRAFT_ENGINES)


def test_annex_is_configuration() -> None:
    narrow = DeMinimisRules(annex={"ML1": AnnexItem.SMALL_ARMS})
    assert assess(case(100, 0, supplier("FR", 1, 0, "ML4.a")), narrow).applies
    assert not assess(case(100, 0, supplier("FR", 1, 0, "ML1.a")), narrow).applies
    assert assess(case(100, 0, supplier("FR", 1, 0, "ML1.a")), DeMinimisRules(annex={})).applies


def test_excluded_goods_keep_out_only_their_party() -> None:
    result = assess(
        case(1_000_000, 0, supplier("FR", 1_000, 0, "ML10.c"), supplier("ES", 1_000, 0, "ML11"))
    )
    assert not result.applies
    assert not result.applies_to("FR")
    assert result.applies_to("ES")


def test_explain_reads_for_an_officer() -> None:
    result = assess(case(2_500_000, 100_000, supplier("FR", 441_600)))
    assert result.explain().splitlines()[0] == (
        "FR supplies 441,600 EUR, 18.4 % of 2,400,000 EUR (2,500,000 EUR less 100,000 EUR of"
        " maintenance, spare parts, training and repairs): within the 20 % threshold (≤)."
    )
    assert "De minimis applies to FR" in result.explain()


def test_explain_over_and_exclusive() -> None:
    text = assess(case(1_000_000, 0, supplier("FR", 200_000, 10_000)), EXCLUSIVE).explain()
    assert "FR supplies 190,000 EUR (200,000 EUR less 10,000 EUR of" in text
    assert "19 % of 1,000,000 EUR: within the 20 % threshold (<)." in text
    text = assess(case(1_000_000, 0, supplier("FR", 200_000)), EXCLUSIVE).explain()
    assert "20 % of 1,000,000 EUR: over the 20 % threshold (<)." in text
    assert "De minimis does not apply to FR" in text


def test_explain_combined() -> None:
    text = assess(
        case(1_000_000, 0, supplier("FR", 150_000), supplier("ES", 100_000)), COMBINED
    ).explain()
    assert "Counted together: 25 %, over the 20 % threshold (≤)." in text
    assert "De minimis does not apply to FR and ES" in text


@pytest.mark.parametrize(
    ("share", "up", "text"),
    [
        (Fraction(23, 125), False, "18.4"),
        (Fraction(1, 5), True, "20"),
        (Fraction(200_001, 1_000_000), True, "about 20.01"),
        (Fraction(199_999, 1_000_000), False, "about 19.99"),
        (Fraction(1, 3), False, "about 33.33"),
        (Fraction(0), False, "0"),
        (Fraction(1), True, "100"),
        (Fraction(1, 10_000), False, "0.01"),
        (Fraction(1, 2_000_000), True, "about 0.01"),
    ],
    ids=["exact", "threshold", "just-over", "just-under", "third", "zero", "all", "small", "tiny"],
)
def test_percent_never_crosses_the_threshold_when_shown(
    share: Fraction, up: bool, text: str
) -> None:
    assert percent(share, up=up) == text


def test_follow_on_takes_the_original_verdict() -> None:
    result = assess(case(1_000_000, 0, supplier("FR", 150_000), supplier("ES", 300_000)))
    assert follow_on(result, "FR")
    assert not follow_on(result, "ES")
    assert not follow_on(result, "DE")


# Refused figures, each with the field the hub names in its INVALID_ARGUMENT.
def good() -> dict[str, Any]:
    return {
        "system": {"value": 2_500_000, "excluded_value": 100_000},
        "suppliers": [
            {"party": "FR", "value": 400_000, "excluded_value": 0, "control_entries": ["ML11.a"]},
            {"party": "ES", "value": 60_000, "excluded_value": 10_000, "control_entries": ["ML5"]},
        ],
    }


def test_from_mapping_reads_a_case() -> None:
    parsed = DeMinimisCase.from_mapping(good())
    assert parsed == case(
        2_500_000,
        100_000,
        Supplier("FR", 400_000, 0, ("ML11.a",)),
        Supplier("ES", 60_000, 10_000, ("ML5",)),
    )


def _set(path: str, value: Any) -> dict[str, Any]:
    data = good()
    target: Any = data
    *parents, last = path.split("/")
    for key in parents:
        target = target[int(key)] if key.isdigit() else target[key]
    if value is _DELETE:
        del target[int(last) if last.isdigit() else last]
    else:
        target[int(last) if last.isdigit() else last] = value
    return data


_DELETE = object()

INVALID = [
    ("system/value", -1, "system.value", "negative"),
    ("system", {"value": 0}, "system.value", "more than zero"),
    ("system/value", 2.5e6, "system.value", "whole number"),
    ("system/value", True, "system.value", "whole number"),
    ("system/value", "2500000", "system.value", "whole number"),
    ("system/excluded_value", -1, "system.excluded_value", "negative"),
    ("system/excluded_value", 2_500_001, "system.excluded_value", "more than the whole"),
    ("system/excluded_value", 2_500_000, "system.excluded_value", "nothing"),
    ("system/value", _DELETE, "system.value", "required"),
    ("system/excluded", 5, "system.excluded", "unknown field"),
    ("suppliers/1/value", -5, "suppliers[1].value", "negative"),
    ("suppliers/1/excluded_value", -1, "suppliers[1].excluded_value", "negative"),
    ("suppliers/1/excluded_value", 60_001, "suppliers[1].excluded_value", "more than the whole"),
    ("suppliers/0/value", 2_400_001, "suppliers[0].value", "above 100 %"),
    ("suppliers/1/value", 2_010_001, "suppliers", "more than the system"),
    ("suppliers/1/party", "FR", "suppliers[1].party", "twice"),
    ("suppliers/1/party", "fr", "suppliers[1].party", "two-letter"),
    ("suppliers/1/control_entries", [], "suppliers[1].control_entries", "at least one"),
    ("suppliers/1/control_entries", "ML5", "suppliers[1].control_entries", "list"),
    ("suppliers/1/control_entries/0", "3A001", "suppliers[1].control_entries[0]", "Military"),
    ("suppliers/1/control_entries/0", "ml4.a", "suppliers[1].control_entries[0]", "Military"),
    ("suppliers/1/control_entries", _DELETE, "suppliers[1].control_entries", "required"),
    ("suppliers/1/excluded", 1, "suppliers[1].excluded", "unknown field"),
    ("suppliers/1", [], "suppliers[1]", "object"),
    ("suppliers", [], "suppliers", "at least one"),
    ("suppliers", {}, "suppliers", "list"),
    ("extra", 1, "extra", "unknown field"),
]


@pytest.mark.parametrize(
    ("path", "value", "field", "reason"),
    INVALID,
    ids=[f"{p}={v!r}" for p, v, _, _ in INVALID],
)
def test_invalid_figures_name_their_field(path: str, value: Any, field: str, reason: str) -> None:
    with pytest.raises(DeMinimisError) as caught:
        DeMinimisCase.from_mapping(_set(path, value))
    assert caught.value.field == field
    assert reason in caught.value.reason
    assert str(caught.value).startswith(f"{field}: ")


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"threshold": Fraction(0)}, "threshold"),
        ({"threshold": Fraction(101, 100)}, "threshold"),
        ({"threshold": 0.2}, "threshold"),
        ({"annex": {"ML4a": AnnexItem.MUNITIONS}}, "annex['ML4a']"),
        ({"annex": {"ML4": "munitions"}}, "annex['ML4']"),
    ],
    ids=["zero", "above-100", "float", "bad-prefix", "bad-item"],
)
def test_invalid_rules(kwargs: dict[str, Any], field: str) -> None:
    with pytest.raises(DeMinimisError) as caught:
        DeMinimisRules(**kwargs)
    assert caught.value.field == field


def test_rules_accept_a_threshold_of_100_percent() -> None:
    rules = DeMinimisRules(threshold=Fraction(1))
    assert assess(case(10, 0, supplier("FR", 10)), rules).applies


def test_rules_are_not_changed_through_the_mapping_given() -> None:
    annex = {"ML1": AnnexItem.SMALL_ARMS}
    rules = DeMinimisRules(annex=annex)
    annex["ML4"] = AnnexItem.MUNITIONS
    assert "ML4" not in rules.annex


# Properties over any valid figures.
@st.composite
def cases(draw: st.DrawFn, max_suppliers: int = 3) -> DeMinimisCase:
    value = draw(st.integers(1, 10**9))
    excluded = draw(st.integers(0, value - 1))
    room = value - excluded
    parties = draw(
        st.lists(st.sampled_from(["FR", "DE", "ES", "GB", "NL"]), min_size=1,
                 max_size=max_suppliers, unique=True)
    )  # fmt: skip
    suppliers = []
    for party in parties:
        counted = draw(st.integers(0, room))
        room -= counted
        own_excluded = draw(st.integers(0, 10**8))
        entries = draw(st.lists(st.sampled_from(["ML5.a", "ML11", "ML13.c", "ML4.a"]), min_size=1))
        suppliers.append(Supplier(party, counted + own_excluded, own_excluded, tuple(entries)))
    return DeMinimisCase(FinalSystem(value, excluded), tuple(suppliers))


rules_strategy = st.builds(
    DeMinimisRules,
    threshold=st.fractions(Fraction(1, 1000), Fraction(1)),
    boundary=st.sampled_from(Boundary),
    aggregation=st.sampled_from(Aggregation),
)


def _replace_supplier(c: DeMinimisCase, i: int, **changes: int) -> DeMinimisCase:
    old = c.suppliers[i]
    fields = {"value": old.value, "excluded_value": old.excluded_value, **changes}
    new = Supplier(old.party, fields["value"], fields["excluded_value"], old.control_entries)
    return DeMinimisCase(c.system, (*c.suppliers[:i], new, *c.suppliers[i + 1 :]))


@given(cases(), rules_strategy, st.data())
def test_more_value_never_turns_no_into_yes(
    c: DeMinimisCase, rules: DeMinimisRules, data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(c.suppliers) - 1))
    room = c.system.counted - sum(s.counted for s in c.suppliers)
    more = data.draw(st.integers(0, room))
    bigger = _replace_supplier(c, i, value=c.suppliers[i].value + more)
    before, after = assess(c, rules), assess(bigger, rules)
    assert after.suppliers[i].share >= before.suppliers[i].share
    if after.applies:
        assert before.applies
    party = c.suppliers[i].party
    if after.applies_to(party):
        assert before.applies_to(party)


@given(cases(), rules_strategy, st.data())
def test_system_exclusions_never_lower_a_share(
    c: DeMinimisCase, rules: DeMinimisRules, data: st.DataObject
) -> None:
    taken = sum(s.counted for s in c.suppliers)
    # The largest exclusion that keeps the suppliers within the system and something to count.
    most = c.system.value - max(taken, 1)
    assume(most >= 0)
    larger = data.draw(st.integers(0, most))
    more_excluded = DeMinimisCase(FinalSystem(c.system.value, larger), c.suppliers)
    none_excluded = DeMinimisCase(FinalSystem(c.system.value, 0), c.suppliers)
    low, high = assess(none_excluded, rules), assess(more_excluded, rules)
    for a, b in zip(low.suppliers, high.suppliers, strict=True):
        assert b.share >= a.share
    if low.combined_share is not None and high.combined_share is not None:
        assert high.combined_share >= low.combined_share


@given(cases(), rules_strategy, st.data())
def test_a_suppliers_own_exclusion_never_raises_its_share(
    c: DeMinimisCase, rules: DeMinimisRules, data: st.DataObject
) -> None:
    i = data.draw(st.integers(0, len(c.suppliers) - 1))
    s = c.suppliers[i]
    room = c.system.counted - sum(x.counted for x in c.suppliers)
    less = data.draw(st.integers(max(0, s.excluded_value - room), s.excluded_value))
    more = data.draw(st.integers(0, s.value - s.excluded_value))
    with_less = _replace_supplier(c, i, excluded_value=less)
    with_more = _replace_supplier(c, i, excluded_value=s.excluded_value + more)
    shares = [assess(x, rules).suppliers[i].share for x in (with_less, c, with_more)]
    assert shares == sorted(shares, reverse=True)
    if assess(c, rules).applies_to(s.party):
        assert assess(with_more, rules).applies_to(s.party)


def _compared(result: DeMinimisResult) -> list[Fraction]:
    if result.combined_share is not None:
        return [result.combined_share]
    return [s.share for s in result.suppliers]


@given(cases(), st.sampled_from(Aggregation), st.data())
def test_boundary_matters_only_at_the_threshold_exactly(
    c: DeMinimisCase, aggregation: Aggregation, data: st.DataObject
) -> None:
    probe = assess(c, DeMinimisRules(aggregation=aggregation))
    exact = [s for s in _compared(probe) if 0 < s <= 1]
    # Half the time the threshold is one of the shares compared, so equality really happens.
    if exact and data.draw(st.booleans()):
        threshold = data.draw(st.sampled_from(exact))
    else:
        threshold = data.draw(st.fractions(Fraction(1, 1000), Fraction(1)))
    inclusive = assess(c, DeMinimisRules(threshold, Boundary.INCLUSIVE, aggregation))
    exclusive = assess(c, DeMinimisRules(threshold, Boundary.EXCLUSIVE, aggregation))
    if exclusive.applies:
        assert inclusive.applies
    if inclusive.applies != exclusive.applies:
        assert threshold in _compared(inclusive)
    for a, b in zip(inclusive.suppliers, exclusive.suppliers, strict=True):
        if a.within_threshold != b.within_threshold:
            assert a.share == threshold


@given(cases(), rules_strategy)
def test_verdict_agrees_with_its_reasons(c: DeMinimisCase, rules: DeMinimisRules) -> None:
    result = assess(c, rules)
    annexed = any(rules.annex_match(e) for s in c.suppliers for e in s.control_entries)
    shares_ok = all(rules.within(s) for s in _compared(result))
    assert result.applies is (shares_ok and not annexed)
    assert result.applies == all(result.applies_to(s.party) for s in c.suppliers)
    assert ("De minimis applies to" in result.explain().splitlines()[-1]) is any(
        result.applies_to(s.party) for s in c.suppliers
    )
