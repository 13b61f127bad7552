"""The de minimis rule of the treaty on export controls in the defence domain (2021, Art. 3 and its
annex; DOMAIN.md §6): a party supplying components for another party's system licenses them
without delay when its share of the final system's value is small enough, unless the goods are on
the exclusion annex.

What is law and what is configuration (`DeMinimisRules`):
- the share is the supplier's value over the final system's value, each less its maintenance,
  spare parts, training and repairs [law: Art. 3 excludes them from the system's value; excluding a
  supplier's own such part from its share is the reading taken here];
- the threshold is 20 % [law], and configurable because the parties review it;
- "at most 20 %" reads as inclusive, a share of exactly 20 % qualifies [assumed];
- each supplying party's share is judged on its own, as the treaty speaks of "the share of a
  party" [assumed]; the combined setting sums the suppliers' shares instead;
- the exclusion annex names goods, not list entries, so the mapping to the EU Common Military List
  is configuration [assumed]. Where an ML entry is wider than the annex item, the default maps the
  whole entry: a share wrongly kept out of de minimis goes through the ordinary procedure, while
  one wrongly let in would skip the end-user certificate. A narrower national mapping replaces it.

Figures no share can be computed from raise `DeMinimisError`; they never become a "does not apply",
which is an answer about valid figures.
"""

from __future__ import annotations

import enum
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from fractions import Fraction
from types import MappingProxyType

# EU Common Military List: ML1..ML22 with sub-items alternating letter and number (ML6.b.1.a).
ML_ENTRY = re.compile(
    r"ML(?:[1-9]|1[0-9]|2[0-2])(?:\.[a-z](?:\.[0-9]{1,2}(?:\.[a-z](?:\.[0-9]{1,2})?)?)?)?"
)
PARTY = re.compile(r"[A-Z]{2}")
_EXCLUDED_PARTS = "maintenance, spare parts, training and repairs"


class DeMinimisError(Exception):
    """Figures no share can be computed from; `field` names the input so the hub can answer
    INVALID_ARGUMENT with a field violation."""

    def __init__(self, field: str, reason: str) -> None:
        self.field = field
        self.reason = reason
        super().__init__(f"{field}: {reason}")

    def under(self, prefix: str) -> DeMinimisError:
        """The same error named from the enclosing input (`suppliers[1]` + `value`)."""
        return DeMinimisError(f"{prefix}.{self.field}", self.reason)


class Boundary(enum.Enum):
    """Whether a share equal to the threshold is within it."""

    INCLUSIVE = "≤"
    EXCLUSIVE = "<"


class Aggregation(enum.Enum):
    """Whether each supplier's share is judged alone or the suppliers' shares summed."""

    PER_SUPPLIER = "per-supplier"
    COMBINED = "combined"


class AnnexItem(enum.Enum):
    """Goods the annex to Art. 3 keeps out of de minimis whatever their share."""

    SMALL_ARMS = "small arms and smooth-bore weapons"
    ARTILLERY = "artillery and anti-tank weapons"
    AMMUNITION = "ammunition and propellant charges for those weapons"
    MUNITIONS = "bombs, torpedoes, rockets, missiles, mines and their warheads"
    TANK_CHASSIS_AND_TURRETS = "chassis and turrets of battle tanks"
    AIRCRAFT_ENGINES = "aircraft engines"
    COMBAT_AIRFRAMES = "complete combat-aircraft airframes"


# The annex to Art. 3 mapped to Military List entries [assumed, configurable]. An entry is excluded
# when it equals a prefix or extends it after a dot: ML4.a is under ML4, ML10.a is not under ML1.
DEFAULT_ANNEX: Mapping[str, AnnexItem] = MappingProxyType(
    {
        # Smooth-bore weapons under 20 mm, other arms of 12.7 mm or less, their accessories.
        "ML1": AnnexItem.SMALL_ARMS,
        # Guns, howitzers, cannons, mortars, anti-tank weapons, launchers, recoilless rifles and
        # smooth-bore weapons of 20 mm or more, with their projectors, sights and mountings.
        "ML2": AnnexItem.ARTILLERY,
        # Ammunition for ML1 and ML2 weapons, including the propellant charges made for it.
        "ML3": AnnexItem.AMMUNITION,
        # Propellants as such (ML8.b): what a propellant charge is made of. Explosives (ML8.a) and
        # pyrotechnics (ML8.c) are not named by the annex and stay eligible.
        "ML8.b": AnnexItem.AMMUNITION,
        # The whole of ML4: the munitions of ML4.a with their warheads, seekers and motors, and the
        # launching and handling equipment of ML4.b, which the list does not separate from them.
        "ML4": AnnexItem.MUNITIONS,
        # Tanks and their components sit in ML6.a with every other military ground vehicle: the
        # list has no entry for chassis and turrets alone, so all of ML6.a is kept out.
        "ML6.a": AnnexItem.TANK_CHASSIS_AND_TURRETS,
        # Aero-engines made or modified for military use, and components made for them.
        "ML10.c": AnnexItem.AIRCRAFT_ENGINES,
        # Combat aircraft and components made for them: the list does not tell a complete
        # airframe from its parts, so every ML10.a.1 entry is kept out.
        "ML10.a.1": AnnexItem.COMBAT_AIRFRAMES,
    }
)


def _whole_euros(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise DeMinimisError(name, "must be a whole number of euros")
    if value < 0:
        raise DeMinimisError(name, f"must not be negative, got {value}")
    return value


def _excluded_within(value: int, excluded: int) -> None:
    if excluded > value:
        raise DeMinimisError(
            "excluded_value",
            f"{_euros(excluded)} of {_EXCLUDED_PARTS} is more than the whole {_euros(value)}",
        )


@dataclass(frozen=True)
class DeMinimisRules:
    """How shares are judged; the defaults are the treaty's 20 % and the assumptions above."""

    # [law] Art. 3: 20 % of the final system's value; the parties review it, so configurable.
    threshold: Fraction = Fraction(1, 5)
    # [assumed] "at most 20 %": a share equal to the threshold qualifies.
    boundary: Boundary = Boundary.INCLUSIVE
    # [assumed] each supplying party's share on its own.
    aggregation: Aggregation = Aggregation.PER_SUPPLIER
    # [assumed] the annex to Art. 3 as Military List entry prefixes.
    annex: Mapping[str, AnnexItem] = field(default_factory=lambda: DEFAULT_ANNEX)

    def __post_init__(self) -> None:
        if not isinstance(self.threshold, Fraction):
            raise DeMinimisError("threshold", "must be an exact Fraction, not a float")
        if not 0 < self.threshold <= 1:
            raise DeMinimisError("threshold", "must be above 0 % and at most 100 %")
        for prefix, item in self.annex.items():
            if not isinstance(prefix, str) or not ML_ENTRY.fullmatch(prefix):
                raise DeMinimisError(
                    f"annex[{prefix!r}]", "must be a Military List entry like ML10.c"
                )
            if not isinstance(item, AnnexItem):
                raise DeMinimisError(f"annex[{prefix!r}]", "must name an AnnexItem")
        object.__setattr__(self, "annex", MappingProxyType(dict(self.annex)))

    def within(self, share: Fraction) -> bool:
        """Whether a share qualifies under the threshold and its boundary."""
        if self.boundary is Boundary.INCLUSIVE:
            return share <= self.threshold
        return share < self.threshold

    def annex_match(self, entry: str) -> tuple[str, AnnexItem] | None:
        """The most specific annex prefix an entry falls under, if any."""
        found = [p for p in self.annex if entry == p or entry.startswith(p + ".")]
        if not found:
            return None
        prefix = max(found, key=len)
        return prefix, self.annex[prefix]


@dataclass(frozen=True)
class FinalSystem:
    """The system the components are integrated into, in whole euros."""

    value: int
    # Maintenance, spare parts, training and repairs: not part of the value (Art. 3).
    excluded_value: int = 0

    def __post_init__(self) -> None:
        _whole_euros(self.value, "value")
        _whole_euros(self.excluded_value, "excluded_value")
        _excluded_within(self.value, self.excluded_value)
        if self.value == 0:
            raise DeMinimisError("value", "must be more than zero: a share of nothing is undefined")
        if self.counted == 0:
            raise DeMinimisError(
                "excluded_value", f"leaves nothing of {_euros(self.value)} to take a share of"
            )

    @property
    def counted(self) -> int:
        """The value shares are taken of."""
        return self.value - self.excluded_value


@dataclass(frozen=True)
class Supplier:
    """One supplying party's components for the system, with their Military List entries."""

    party: str
    value: int
    # Its own maintenance, spare parts, training and repairs: not part of its share (Art. 3).
    excluded_value: int = 0
    control_entries: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not isinstance(self.party, str) or not PARTY.fullmatch(self.party):
            raise DeMinimisError("party", "must be a two-letter country code like FR")
        _whole_euros(self.value, "value")
        _whole_euros(self.excluded_value, "excluded_value")
        _excluded_within(self.value, self.excluded_value)
        entries: object = self.control_entries
        if isinstance(entries, str) or not isinstance(entries, Sequence):
            raise DeMinimisError("control_entries", "must be a list of Military List entries")
        if not entries:
            # Without an entry the annex cannot be checked, so nothing may pass unchecked.
            raise DeMinimisError("control_entries", "must name at least one Military List entry")
        for i, entry in enumerate(entries):
            if not isinstance(entry, str) or not ML_ENTRY.fullmatch(entry):
                raise DeMinimisError(
                    f"control_entries[{i}]", "must be a Military List entry like ML10.c"
                )
        object.__setattr__(self, "control_entries", tuple(entries))

    @property
    def counted(self) -> int:
        """The value its share is taken of."""
        return self.value - self.excluded_value


@dataclass(frozen=True)
class DeMinimisCase:
    """Components of one or more parties integrated into one final system."""

    system: FinalSystem
    suppliers: tuple[Supplier, ...]

    def __post_init__(self) -> None:
        suppliers: object = self.suppliers
        if not isinstance(suppliers, Sequence) or not suppliers:
            raise DeMinimisError("suppliers", "must name at least one supplying party")
        object.__setattr__(self, "suppliers", tuple(suppliers))
        seen: set[str] = set()
        for i, s in enumerate(self.suppliers):
            if s.party in seen:
                raise DeMinimisError(f"suppliers[{i}].party", f"{s.party} is named twice")
            seen.add(s.party)
            if s.counted > self.system.counted:
                raise DeMinimisError(
                    f"suppliers[{i}].value",
                    f"{s.party}'s {_euros(s.counted)} counted is more than the system's"
                    f" {_euros(self.system.counted)}: a share above 100 %",
                )
        total = sum(s.counted for s in self.suppliers)
        if total > self.system.counted:
            raise DeMinimisError(
                "suppliers",
                f"together {_euros(total)} counted, more than the system's"
                f" {_euros(self.system.counted)}",
            )

    @classmethod
    def from_mapping(cls, data: object) -> DeMinimisCase:
        """A case from decoded JSON; unknown keys are refused, since a misspelt exclusion would
        silently raise a share."""
        top = _fields(data, "", {"system", "suppliers"}, {"system", "suppliers"})
        sys_data = _fields(top["system"], "system", {"value", "excluded_value"}, {"value"})
        try:
            system = FinalSystem(**sys_data)  # type: ignore[arg-type]
        except DeMinimisError as e:
            raise e.under("system") from None
        listed = top["suppliers"]
        if not isinstance(listed, list):
            raise DeMinimisError("suppliers", "must be a list")
        suppliers = []
        for i, item in enumerate(listed):
            name = f"suppliers[{i}]"
            known = {"party", "value", "excluded_value", "control_entries"}
            fields = _fields(item, name, known, {"party", "value", "control_entries"})
            try:
                suppliers.append(Supplier(**fields))  # type: ignore[arg-type]
            except DeMinimisError as e:
                raise e.under(name) from None
        return cls(system, tuple(suppliers))


def _fields(data: object, name: str, known: set[str], required: set[str]) -> dict[str, object]:
    where = f"{name}." if name else ""
    if not isinstance(data, Mapping):
        raise DeMinimisError(name or "case", "must be an object")
    for key in data:
        if key not in known:
            raise DeMinimisError(f"{where}{key}", "unknown field")
    missing = sorted(required - set(data))
    if missing:
        raise DeMinimisError(f"{where}{missing[0]}", "is required")
    return {str(k): v for k, v in data.items()}


@dataclass(frozen=True)
class ExcludedGoods:
    """A supplied entry the annex keeps out of de minimis whatever the share."""

    party: str
    entry: str
    prefix: str
    item: AnnexItem

    @property
    def parties(self) -> tuple[str, ...]:
        """The supplying parties this keeps out of de minimis."""
        return (self.party,)

    def describe(self) -> str:
        """One line for the licensing officer."""
        where = "" if self.entry == self.prefix else f", as an entry under {self.prefix}"
        return (
            f"{self.party}'s {self.entry} is on the exclusion annex ({self.item.value}{where}):"
            " excluded from de minimis whatever the share"
        )


@dataclass(frozen=True)
class OverThreshold:
    """A share, or the suppliers' combined share, beyond the threshold."""

    parties: tuple[str, ...]
    share: Fraction
    threshold: Fraction
    boundary: Boundary

    def describe(self) -> str:
        """One line for the licensing officer."""
        who = " and ".join(self.parties)
        verb = "supplies" if len(self.parties) == 1 else "together supply"
        return (
            f"{who} {verb} {percent(self.share, up=True)} %, over the"
            f" {percent(self.threshold)} % threshold ({self.boundary.value})"
        )


Reason = ExcludedGoods | OverThreshold


@dataclass(frozen=True)
class SupplierShare:
    """One supplier's share of the final system and where it stands against the threshold."""

    supplier: Supplier
    share: Fraction
    within_threshold: bool
    excluded: tuple[ExcludedGoods, ...]


@dataclass(frozen=True)
class DeMinimisResult:
    """The verdict with the figures it rests on, for the hub to record and the officer to read."""

    case: DeMinimisCase
    rules: DeMinimisRules
    suppliers: tuple[SupplierShare, ...]
    # The suppliers' summed share, computed only when the rules aggregate them.
    combined_share: Fraction | None
    reasons: tuple[Reason, ...]

    @property
    def applies(self) -> bool:
        """Whether de minimis applies to every supplying party of the case."""
        return not self.reasons

    def applies_to(self, party: str) -> bool:
        """Whether de minimis applies to this party's supply; each party licenses its own."""
        supplied = any(s.supplier.party == party for s in self.suppliers)
        return supplied and not any(party in r.parties for r in self.reasons)

    def explain(self) -> str:
        """A few lines a licensing officer can check by hand."""
        system = self.case.system
        of_system = f"{_euros(system.counted)}{_less(system)}"
        sign = self.rules.boundary.value
        limit = f"the {percent(self.rules.threshold)} % threshold ({sign})"
        lines = []
        for s in self.suppliers:
            supplier = s.supplier
            own = f"{_euros(supplier.counted)}{_less(supplier)}"
            standing = "within" if s.within_threshold else "over"
            lines.append(
                f"{supplier.party} supplies {own}, {percent(s.share, up=not s.within_threshold)} %"
                f" of {of_system}: {standing} {limit}."
            )
        if self.combined_share is not None:
            within = self.rules.within(self.combined_share)
            shown = percent(self.combined_share, up=not within)
            lines.append(f"Counted together: {shown} %, {'within' if within else 'over'} {limit}.")
        lines.extend(f"{r.describe()}." for r in self.reasons if isinstance(r, ExcludedGoods))
        parties = [s.supplier.party for s in self.suppliers]
        applying = [p for p in parties if self.applies_to(p)]
        if self.applies:
            lines.append(
                f"De minimis applies to {_and(parties)} (Art. 3): licence without delay, no"
                " end-user certificate; a certificate of integration may be asked for."
            )
        elif not applying:
            lines.append(f"De minimis does not apply to {_and(parties)}: the ordinary procedure.")
        else:
            refused = [p for p in parties if p not in applying]
            lines.append(
                f"De minimis applies to {_and(applying)} (Art. 3), not to {_and(refused)}."
            )
        return "\n".join(lines)


def assess(case: DeMinimisCase, rules: DeMinimisRules | None = None) -> DeMinimisResult:
    """Judge a case under Art. 3: each share, the annex, and the verdict with its reasons."""
    rules = rules or DeMinimisRules()
    counted = case.system.counted
    shares = []
    for supplier in case.suppliers:
        share = Fraction(supplier.counted, counted)
        excluded = []
        for entry in supplier.control_entries:
            match = rules.annex_match(entry)
            if match is not None:
                excluded.append(ExcludedGoods(supplier.party, entry, *match))
        shares.append(SupplierShare(supplier, share, rules.within(share), tuple(excluded)))
    reasons: list[Reason] = []
    combined: Fraction | None = None
    if rules.aggregation is Aggregation.COMBINED:
        combined = sum((s.share for s in shares), Fraction(0))
        if not rules.within(combined):
            parties = tuple(s.supplier.party for s in shares)
            reasons.append(OverThreshold(parties, combined, rules.threshold, rules.boundary))
    else:
        reasons.extend(
            OverThreshold((s.supplier.party,), s.share, rules.threshold, rules.boundary)
            for s in shares
            if not s.within_threshold
        )
    for s in shares:
        reasons.extend(s.excluded)
    return DeMinimisResult(case, rules, tuple(shares), combined, tuple(reasons))


def follow_on(original: DeMinimisResult, party: str) -> bool:
    """Whether the party's follow-on maintenance, spare parts, training and repairs are de minimis.

    Art. 3 treats them as de minimis when the supply they follow was: they are judged by the
    original verdict for that party, never by a share of their own.
    """
    return original.applies_to(party)


def percent(share: Fraction, *, up: bool = False) -> str:
    """A share as a percentage to two decimals; an inexact one is rounded away from the verdict's
    far side (up when over the threshold), so the figure shown never crosses the threshold."""
    hundredths = share * 10_000
    exact = hundredths.denominator == 1
    rounded = math.ceil(hundredths) if up else math.floor(hundredths)
    whole, cents = divmod(rounded, 100)
    text = f"{whole}.{cents:02d}".rstrip("0").rstrip(".") if cents else str(whole)
    return text if exact else f"about {text}"


def _euros(value: int) -> str:
    return f"{value:,} EUR"


def _less(part: FinalSystem | Supplier) -> str:
    if not part.excluded_value:
        return ""
    return f" ({_euros(part.value)} less {_euros(part.excluded_value)} of {_EXCLUDED_PARTS})"


def _and(parties: Sequence[str]) -> str:
    if len(parties) == 1:
        return parties[0]
    return f"{', '.join(parties[:-1])} and {parties[-1]}"
