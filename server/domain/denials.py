"""Denial notifications: what a valid one looks like and how its lifecycle moves.

Military denials follow Common Position 2008/944/CFSP (criteria 1-8, EU Common Military List);
dual-use denials follow Regulation (EU) 2021/821 Art. 15-16 (grounds, Annex I entries).
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf import unknown_fields
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import DecodeError, Message

from client.core.chain import SHA256_BYTES, Link, first_link, link_after
from client.core.names import name_key
from client.core.text import LINE_UNSAFE, TEXT_UNSAFE, escape_line
from ecx.v1 import denial_pb2
from ecx.v1.common_pb2 import VersionLink
from server.domain.countries import normalize_country
from server.errors import FailedPrecondition, FieldViolation, InvalidArgument

# Active for consultation purposes for three years from the denial date (Reg. 2021/821 Art. 16(6);
# CP 2008/944 User's Guide). Configurable through DenialRules.
DEFAULT_VALIDITY_YEARS = 3

# EU Common Military List: ML1..ML22 with sub-items alternating letter and number (ML6.b.1.a).
_ML_ENTRY = re.compile(
    r"ML(?:[1-9]|1[0-9]|2[0-2])(?:\.[a-z](?:\.[0-9]{1,2}(?:\.[a-z](?:\.[0-9]{1,2})?)?)?)?"
)
# Annex I of Reg. 2021/821: category digit, group letter A-E, three digits, sub-items (3B001.f.4).
# National lists reuse the same shape for their own entries (e.g. 3B993, 5A992).
_ANNEX_I_ENTRY = re.compile(
    r"[0-9][A-E][0-9]{3}(?:\.[a-z](?:\.[0-9]{1,2}(?:\.[a-z](?:\.[0-9]{1,2}(?:\.[a-z])?)?)?)?)?"
)
# A reference is prefixed by the issuer's state: denials (NL-2026-0042) and consultations.
REFERENCE = re.compile(r"([A-Z]{2})-[A-Za-z0-9][A-Za-z0-9./_-]{0,61}")
REFERENCE_FORM = "must look like XX-identifier (letters, digits, . / _ -; max 65)"
_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")

MAX_SHORT = 300
MAX_ADDRESS = 500
MAX_TEXT = 4000
MAX_ALIASES = 20
# Words of one party name that matching compares (legal forms and words such as "of" are not
# words here): real names rarely reach 12; "Federal State Budgetary Educational Institution of
# Higher Education Moscow State Technical University named after N.E. Bauman (National Research
# University)" has 16. Comparing two names costs the product of their words, so this bounds
# what one comparison costs.
MAX_NAME_WORDS = 24
MAX_ENTRIES = 50
MAX_REASONS = 16
MAX_VIOLATIONS = 20

Regime = denial_pb2.Regime
LicenceType = denial_pb2.LicenceType
Ground = denial_pb2.Ground


@dataclass(frozen=True)
class DenialRules:
    """The configurable parts of the denial rules."""

    validity_years: int = DEFAULT_VALIDITY_YEARS


def add_years(day: dt.date, years: int) -> dt.date:
    """The same calendar day `years` later; 29 February falls back to 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def parse_date(text: str) -> dt.date | None:
    """A strict YYYY-MM-DD calendar date, or None."""
    if not _DATE.fullmatch(text):
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


@functools.cache
def _message_fields(descriptor: Descriptor) -> tuple[tuple[str, bool], ...]:
    """(name, repeated) of the message-typed fields of a message type."""
    return tuple(
        (f.name, f.is_repeated) for f in descriptor.fields if f.type == FieldDescriptor.TYPE_MESSAGE
    )


def has_unknown_fields(message: Message) -> bool:
    """True if the bytes carried fields this hub does not know: signed content it cannot show."""
    return unknown_field(message) is not None


def unknown_field(message: Message, path: str = "") -> str | None:
    """The path of the first message within `message` that carries fields this hub does not
    know ("" for `message` itself, "envelope.signatures[0]" for one nested), or None."""
    if len(unknown_fields.UnknownFieldSet(message)):
        return path
    # Only the message-typed fields are walked (ListFields would convert every set field).
    for name, repeated in _message_fields(message.DESCRIPTOR):
        field = f"{path}.{name}" if path else name
        if repeated:
            for i, child in enumerate(getattr(message, name)):
                found = unknown_field(child, f"{field}[{i}]")
                if found is not None:
                    return found
        elif message.HasField(name):
            found = unknown_field(getattr(message, name), field)
            if found is not None:
                return found
    return None


def escape_for_log(text: str) -> str:
    """Text a caller sent, as a log line may hold it: controls and invisible characters escaped,
    so that nobody can forge a line or hide what it says."""
    return escape_line(text)


def effective_status(stored: int, valid_until: str, today: dt.date) -> int:
    """ACTIVE turns EXPIRED after its last valid day; REVOKED stays REVOKED."""
    if stored == denial_pb2.ACTIVE and valid_until < today.isoformat():
        return denial_pb2.EXPIRED
    return stored


class FieldChecker:
    """Collects the violations in a payload so the caller sees them at once: the first
    MAX_VIOLATIONS of them, so that a message of many bad elements cannot make an answer (and a
    log line) as large as itself."""

    def __init__(self) -> None:
        self.violations: list[FieldViolation] = []

    def fail(self, field: str, description: str) -> None:
        if len(self.violations) < MAX_VIOLATIONS:
            self.violations.append(FieldViolation(field, description))

    def text(
        self, field: str, value: str, *, required: bool, limit: int, multiline: bool = False
    ) -> None:
        if not value.strip():
            if required:
                self.fail(field, "is required")
            elif value:
                self.fail(field, "must not be blank")
            return
        if len(value) > limit:
            self.fail(field, f"longer than {limit} characters")
        # Names and one-line fields refuse every invisible character; long text only those that
        # hide or reverse what follows (client.core.text).
        if (TEXT_UNSAFE if multiline else LINE_UNSAFE).search(value):
            self.fail(field, "contains control or invisible characters")

    def country(self, field: str, value: str, *, required: bool = True) -> str:
        if not value:
            if required:
                self.fail(field, "is required")
            return ""
        code = normalize_country(value)
        if code is None:
            self.fail(field, "not an ISO 3166-1 alpha-2 country code")
            return ""
        return code

    def raise_if_any(self) -> None:
        if self.violations:
            raise InvalidArgument(self.violations)


def check_link_form(c: FieldChecker, field: str, link: VersionLink | None) -> Link:
    """A statement's link is required and well formed: version 1 follows nothing, a later
    version names the SHA-256 of the statement before."""
    if link is None:
        c.fail(
            field, "is required: the version this statement creates and the statement it follows"
        )
        return first_link()
    if link.version < 1:
        c.fail(f"{field}.version", "versions count from 1")
    elif link.version == 1 and link.previous_sha256:
        c.fail(f"{field}.previous_sha256", "version 1 follows nothing: must be empty")
    elif link.version > 1 and len(link.previous_sha256) != SHA256_BYTES:
        c.fail(f"{field}.previous_sha256", "must be the 32-byte SHA-256 of the statement before")
    return Link.of(link)


def check_follows(link: Link, what: str, version: int, statement: bytes) -> None:
    """A statement must follow the current version: one signed for another place in the history
    (an old statement sent again, the same one twice) is refused."""
    if link != link_after(version, statement):
        raise FailedPrecondition(
            f"the statement does not follow the current version {version} of {what}: it was"
            f" signed as version {link.version}, after another statement (stale or replayed)"
            if link.version != version + 1
            else f"the statement does not follow the current version {version} of {what}: it"
            " names another statement before it (stale or replayed)"
        )


@dataclass(frozen=True)
class DenialContent:
    """A validated denial payload with the values the hub indexes; cannot exist invalid."""

    reference: str
    regime: int
    issuing_state: str
    destination_country: str
    denial_date: dt.date
    payload: denial_pb2.DenialPayload
    link: Link

    @classmethod
    def from_payload_bytes(
        cls,
        data: bytes,
        *,
        caller_state: str,
        today: dt.date,
        rules: DenialRules,
        check_age: bool = True,
    ) -> DenialContent:
        """Decode and validate the signed payload bytes of a submission or amendment."""
        try:
            payload = denial_pb2.DenialPayload.FromString(data)
        except DecodeError as e:
            raise InvalidArgument.field("envelope.payload", "not a DenialPayload") from e
        if has_unknown_fields(payload):
            raise InvalidArgument.field("envelope.payload", "carries fields unknown to the hub")
        return cls.from_payload(
            payload, caller_state=caller_state, today=today, rules=rules, check_age=check_age
        )

    @classmethod
    def from_payload(
        cls,
        p: denial_pb2.DenialPayload,
        *,
        caller_state: str,
        today: dt.date,
        rules: DenialRules,
        check_age: bool = True,
    ) -> DenialContent:
        """Validate every field; `check_age=False` leaves the validity period to the caller
        (an amendment of a renewed denial may keep an old denial date)."""
        c = FieldChecker()
        issuing_state = c.country("issuing_state", p.issuing_state)
        if issuing_state and issuing_state != caller_state:
            c.fail("issuing_state", "must be the calling authority's member state")

        match = REFERENCE.fullmatch(p.reference)
        if not p.reference:
            c.fail("reference", "is required")
        elif match is None:
            c.fail("reference", REFERENCE_FORM)
        elif normalize_country(match.group(1)) != issuing_state:
            c.fail("reference", "must start with the issuing state's code")

        if p.regime not in (denial_pb2.MILITARY, denial_pb2.DUAL_USE):
            c.fail("regime", "must be MILITARY or DUAL_USE")
        if p.licence_type not in denial_pb2.LicenceType.values() or p.licence_type == 0:
            c.fail("licence_type", "is required")
        elif p.regime == denial_pb2.MILITARY and p.licence_type == denial_pb2.TECHNICAL_ASSISTANCE:
            c.fail("licence_type", "TECHNICAL_ASSISTANCE applies to dual-use denials only")

        c.text("originating_authority", p.originating_authority, required=True, limit=MAX_SHORT)
        denial_date = parse_date(p.denial_date)
        if not p.denial_date:
            c.fail("denial_date", "is required")
        elif denial_date is None:
            c.fail("denial_date", "must be a calendar date YYYY-MM-DD")
        elif denial_date > today:
            c.fail("denial_date", "is in the future")
        elif check_age and add_years(denial_date, rules.validity_years) < today:
            c.fail("denial_date", f"older than the {rules.validity_years}-year validity period")

        destination = c.country("destination_country", p.destination_country)
        if destination and destination == issuing_state:
            c.fail("destination_country", "must differ from the issuing state")

        if not p.HasField("end_user"):
            c.fail("end_user", "is required")
        check_party(c, "end_user", p.end_user, required=True)
        if p.HasField("consignee"):
            check_party(c, "consignee", p.consignee, required=False)

        c.text("end_use", p.end_use, required=False, limit=MAX_TEXT, multiline=True)
        c.text(
            "goods_description", p.goods_description, required=True, limit=MAX_TEXT, multiline=True
        )
        check_entries(c, "control_entries", p.regime, p.control_entries)
        c.text("quantity", p.quantity, required=False, limit=100)
        if p.value_eur < 0:
            c.fail("value_eur", "must not be negative")
        _check_reasons(c, p)
        c.text("contact", p.contact, required=True, limit=MAX_SHORT)
        link = check_link_form(c, "link", p.link if p.HasField("link") else None)
        c.raise_if_any()
        assert denial_date is not None
        return cls(p.reference, p.regime, issuing_state, destination, denial_date, p, link)


def check_party(
    c: FieldChecker,
    field: str,
    party: denial_pb2.Party,
    *,
    required: bool,
    max_aliases: int = MAX_ALIASES,
) -> None:
    c.text(f"{field}.name", party.name, required=required, limit=MAX_SHORT)
    _check_name_words(c, f"{field}.name", party.name)
    c.country(f"{field}.country", party.country, required=required or bool(party.name))
    c.text(f"{field}.address", party.address, required=False, limit=MAX_ADDRESS, multiline=True)
    if len(party.aliases) > max_aliases:
        c.fail(f"{field}.aliases", f"more than {max_aliases} aliases")
        return
    for i, alias in enumerate(party.aliases):
        c.text(f"{field}.aliases[{i}]", alias, required=True, limit=MAX_SHORT)
        _check_name_words(c, f"{field}.aliases[{i}]", alias)


def _check_name_words(c: FieldChecker, field: str, name: str) -> None:
    """A name matching would compare in more words than MAX_NAME_WORDS is refused; a name over
    the length limit is refused for that already and not keyed."""
    if name.strip() and len(name) <= MAX_SHORT and len(name_key(name).parts) > MAX_NAME_WORDS:
        c.fail(field, f"more than {MAX_NAME_WORDS} words (legal forms and words like 'of' aside)")


def entry_item(entry: str) -> str:
    """The list item an entry belongs to: ML10 of ML10.a.1, 3B001 of 3B001.f.4."""
    return entry.split(".", 1)[0]


def entry_category(entry: str) -> str:
    """Where an entry sits in its list, for screening: the Military List item (ML10 of
    ML10.a.1) or the Annex I category and product group (3B of 3B001.f.4)."""
    return entry_item(entry) if entry.startswith("ML") else entry[:2]


def check_entries(c: FieldChecker, field: str, regime: int, entries: Sequence[str]) -> None:
    """Control-list entries in the format of the regime's list, at least one, no repeats."""
    if not entries:
        c.fail(field, "at least one control-list entry is required")
        return
    if len(entries) > MAX_ENTRIES:
        c.fail(field, f"more than {MAX_ENTRIES} entries")
        return
    military = regime == denial_pb2.MILITARY
    pattern, name = (
        (_ML_ENTRY, "a Military List entry like ML10.a")
        if military
        else (
            _ANNEX_I_ENTRY,
            "an Annex I entry like 3B001.f.4",
        )
    )
    seen: set[str] = set()
    for i, entry in enumerate(entries):
        if not pattern.fullmatch(entry):
            c.fail(f"{field}[{i}]", f"must be {name}")
        elif entry in seen:
            c.fail(f"{field}[{i}]", "duplicate entry")
        seen.add(entry)


def _check_reasons(c: FieldChecker, p: denial_pb2.DenialPayload) -> None:
    if not p.reasons:
        c.fail("reasons", "at least one reason is required")
        return
    if len(p.reasons) > MAX_REASONS:
        c.fail("reasons", f"more than {MAX_REASONS} reasons")
        return
    military = p.regime == denial_pb2.MILITARY
    for i, reason in enumerate(p.reasons):
        field = f"reasons[{i}]"
        if military:
            if not 1 <= reason.criterion <= 8:
                c.fail(f"{field}.criterion", "must be a criterion 1-8 of Common Position 2008/944")
            if reason.ground:
                c.fail(f"{field}.ground", "military denials cite criteria, not dual-use grounds")
        else:
            if reason.ground not in denial_pb2.Ground.values() or reason.ground == 0:
                c.fail(f"{field}.ground", "a dual-use ground is required")
            if reason.criterion and (
                reason.ground != denial_pb2.FOREIGN_SECURITY_POLICY
                or not 1 <= reason.criterion <= 8
            ):
                c.fail(
                    f"{field}.criterion",
                    "only with ground FOREIGN_SECURITY_POLICY, and within 1-8",
                )
        c.text(
            f"{field}.explanation",
            reason.explanation,
            required=True,
            limit=MAX_TEXT,
            multiline=True,
        )


@dataclass(frozen=True)
class StatusChange:
    """A validated, signed revocation or renewal."""

    reference: str
    change: int
    reason: str
    effective_date: dt.date
    link: Link

    @classmethod
    def from_payload_bytes(
        cls, data: bytes, *, reference: str, expected: int, today: dt.date
    ) -> StatusChange:
        try:
            p = denial_pb2.DenialStatusChange.FromString(data)
        except DecodeError as e:
            raise InvalidArgument.field("envelope.payload", "not a DenialStatusChange") from e
        if has_unknown_fields(p):
            raise InvalidArgument.field("envelope.payload", "carries fields unknown to the hub")
        c = FieldChecker()
        if p.reference != reference:
            c.fail("envelope.payload.reference", "must equal the request's reference")
        if p.change != expected:
            c.fail("envelope.payload.change", f"must be {denial_pb2.DenialChange.Name(expected)}")
        c.text(
            "envelope.payload.reason",
            p.reason,
            required=expected == denial_pb2.REVOKE,
            limit=MAX_TEXT,
            multiline=True,
        )
        day = parse_date(p.effective_date)
        if day is None:
            c.fail("envelope.payload.effective_date", "must be a calendar date YYYY-MM-DD")
        elif day > today:
            c.fail("envelope.payload.effective_date", "is in the future")
        link = check_link_form(c, "envelope.payload.link", p.link if p.HasField("link") else None)
        if link.version == 1:
            c.fail("envelope.payload.link.version", "a change follows a version: 2 or later")
        c.raise_if_any()
        assert day is not None
        return cls(p.reference, p.change, p.reason, day, link)


@dataclass(frozen=True)
class DenialState:
    """The latest stored version of a denial, as the lifecycle rules need it."""

    reference: str
    issuer: str
    regime: int
    issuing_state: str
    version: int
    status: int
    valid_until: str
    latest_record: bytes
    renewed_on: str


def check_amendment(
    current: DenialState, new: DenialContent, today: dt.date, rules: DenialRules
) -> str:
    """Amendments keep the identity of the denial and apply to one in force; returns the new
    valid_until, counted from the amended denial date or the latest renewal."""
    if effective_status(current.status, current.valid_until, today) != denial_pb2.ACTIVE:
        raise FailedPrecondition(f"denial {current.reference} is not active; it cannot be amended")
    if new.regime != current.regime:
        raise InvalidArgument.field("regime", "cannot change in an amendment")
    renewed = parse_date(current.renewed_on) if current.renewed_on else None
    until = valid_until(new.denial_date, renewed, rules)
    if until < today.isoformat():
        raise InvalidArgument.field(
            "denial_date", f"older than the {rules.validity_years}-year validity period"
        )
    return until


def current_denial_date(current: DenialState) -> dt.date:
    """The denial date of the content in force at the latest version."""
    record = denial_pb2.Denial.FromString(current.latest_record)
    day = parse_date(denial_pb2.DenialPayload.FromString(record.envelope.payload).denial_date)
    assert day is not None  # validated when the content was recorded
    return day


def check_revocation(current: DenialState, change: StatusChange) -> None:
    """A revocation applies to a denial not yet revoked, and takes effect on or after its date."""
    if current.status == denial_pb2.REVOKED:
        raise FailedPrecondition(f"denial {current.reference} is already revoked")
    denied = current_denial_date(current)
    if change.effective_date < denied:
        raise InvalidArgument.field(
            "envelope.payload.effective_date", f"is before the denial date {denied.isoformat()}"
        )


def check_renewal(current: DenialState, change: StatusChange) -> None:
    """A revoked denial stays revoked; an active or lapsed one may be renewed after review, on
    or after its denial date and its latest renewal."""
    if current.status == denial_pb2.REVOKED:
        raise FailedPrecondition(f"denial {current.reference} is revoked; it cannot be renewed")
    denied = current_denial_date(current)
    renewed = parse_date(current.renewed_on) if current.renewed_on else None
    earliest, what = (
        (renewed, "the latest renewal") if renewed and renewed > denied else (denied, "the denial")
    )
    if change.effective_date < earliest:
        raise InvalidArgument.field(
            "envelope.payload.effective_date", f"is before {what}, {earliest.isoformat()}"
        )


def valid_until(denial_date: dt.date, renewed_on: dt.date | None, rules: DenialRules) -> str:
    """Last day in force: validity_years after the denial date, or after the latest renewal."""
    start = max(denial_date, renewed_on) if renewed_on else denial_date
    return add_years(start, rules.validity_years).isoformat()
