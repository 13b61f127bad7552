"""Denial rules as pure functions: dates, lifecycle, control-entry formats, field validation."""

from __future__ import annotations

import datetime as dt

import pytest

from client.core.chain import Link
from ecx.v1 import common_pb2, denial_pb2
from server.domain import denials as rules
from server.domain.countries import normalize_country
from server.errors import FailedPrecondition, InvalidArgument
from tests.helpers import TODAY, dual_use_payload, military_payload

RULES = rules.DenialRules()


@pytest.mark.parametrize(
    ("day", "years", "expected"),
    [
        (dt.date(2026, 3, 15), 3, dt.date(2029, 3, 15)),
        (dt.date(2024, 2, 29), 3, dt.date(2027, 2, 28)),
        (dt.date(2024, 2, 29), 4, dt.date(2028, 2, 29)),
        (dt.date(2026, 12, 31), 3, dt.date(2029, 12, 31)),
    ],
    ids=["plain", "leap-day-falls-back", "leap-to-leap", "year-end"],
)
def test_add_years(day: dt.date, years: int, expected: dt.date) -> None:
    assert rules.add_years(day, years) == expected


def test_valid_until_counts_from_latest_of_denial_and_renewal() -> None:
    assert rules.valid_until(dt.date(2026, 1, 10), None, RULES) == "2029-01-10"
    assert rules.valid_until(dt.date(2026, 1, 10), dt.date(2028, 6, 1), RULES) == "2031-06-01"
    assert rules.valid_until(dt.date(2026, 1, 10), None, rules.DenialRules(5)) == "2031-01-10"


@pytest.mark.parametrize(
    ("stored", "today", "expected"),
    [
        (denial_pb2.ACTIVE, "2029-01-10", denial_pb2.ACTIVE),
        (denial_pb2.ACTIVE, "2029-01-11", denial_pb2.EXPIRED),
        (denial_pb2.REVOKED, "2030-01-01", denial_pb2.REVOKED),
        (denial_pb2.REVOKED, "2026-01-01", denial_pb2.REVOKED),
    ],
    ids=["last-day-active", "day-after-expired", "revoked-stays-after", "revoked-stays-before"],
)
def test_effective_status(stored: int, today: str, expected: int) -> None:
    assert rules.effective_status(stored, "2029-01-10", dt.date.fromisoformat(today)) == expected


@pytest.mark.parametrize(
    "text", ["2026-02-30", "2026-13-01", "26-01-01", "2026-1-1", "", "2026-01-01T00"]
)
def test_parse_date_rejects(text: str) -> None:
    assert rules.parse_date(text) is None


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("NL", "NL"),
        ("EL", "GR"),
        ("GR", "GR"),
        ("XK", "XK"),
        ("nl", None),
        ("ZZ", None),
        ("NLD", None),
    ],
)
def test_country_codes(code: str, expected: str | None) -> None:
    assert normalize_country(code) == expected


def _validate(payload: denial_pb2.DenialPayload, state: str) -> rules.DenialContent:
    return rules.DenialContent.from_payload(payload, caller_state=state, today=TODAY, rules=RULES)


@pytest.mark.parametrize(
    "entries",
    [["ML1"], ["ML22"], ["ML10.a"], ["ML6.b.1.a"], ["ML8.c.3.a.2"], ["ML4", "ML5.c"]],
    ids=lambda e: "+".join(e),
)
def test_military_entries_accepted(entries: list[str]) -> None:
    assert (
        _validate(military_payload(control_entries=entries), "DE").payload.control_entries
        == entries
    )


@pytest.mark.parametrize(
    "entries",
    [["3B001.f.4"], ["5A002.a.1"], ["9A004"], ["3B993"], ["0A001.a"], ["6A003.b.4.b"]],
    ids=lambda e: "+".join(e),
)
def test_annex_i_entries_accepted(entries: list[str]) -> None:
    assert _validate(dual_use_payload(control_entries=entries), "NL").regime == denial_pb2.DUAL_USE


def test_greek_reference_and_state_accept_el() -> None:
    content = _validate(military_payload(reference="EL-2026-7", state="EL"), "GR")
    assert content.issuing_state == "GR"


def test_all_violations_reported_together() -> None:
    payload = military_payload(contact="", control_entries=["ML99"], destination_country="XX")
    with pytest.raises(InvalidArgument) as caught:
        _validate(payload, "DE")
    fields = {v.field for v in caught.value.violations}
    assert fields == {"contact", "control_entries[0]", "destination_country"}


def test_validated_content_carries_index_values() -> None:
    content = _validate(military_payload(destination_country="AE"), "DE")
    assert (content.reference, content.issuing_state, content.destination_country) == (
        "DE-2026-0001",
        "DE",
        "AE",
    )


def _state(
    status: int,
    valid_until: str = "2029-01-01",
    *,
    denial_date: str = "2026-11-18",
    renewed: str = "",
) -> rules.DenialState:
    content = military_payload(denial_date=denial_date).SerializeToString()
    record = denial_pb2.Denial(reference="DE-1", envelope=common_pb2.Envelope(payload=content))
    return rules.DenialState(
        reference="DE-1",
        issuer="de",
        regime=denial_pb2.MILITARY,
        issuing_state="DE",
        version=1,
        status=status,
        valid_until=valid_until,
        latest_record=record.SerializeToString(),
        renewed_on=renewed,
    )


def _change(change: int, effective: str) -> rules.StatusChange:
    return rules.StatusChange(
        "DE-1", change, "reviewed", dt.date.fromisoformat(effective), Link(2, bytes(32))
    )


def test_amendment_rules() -> None:
    content = _validate(military_payload(), "DE")
    rules.check_amendment(_state(denial_pb2.ACTIVE), content, TODAY, RULES)
    with pytest.raises(FailedPrecondition):
        rules.check_amendment(_state(denial_pb2.REVOKED), content, TODAY, RULES)
    with pytest.raises(FailedPrecondition):
        rules.check_amendment(_state(denial_pb2.ACTIVE, "2025-01-01"), content, TODAY, RULES)
    dual = _validate(dual_use_payload(reference="DE-2026-0001", state="DE"), "DE")
    with pytest.raises(InvalidArgument, match="regime"):
        rules.check_amendment(_state(denial_pb2.ACTIVE), dual, TODAY, RULES)


def test_revocation_and_renewal_rules() -> None:
    revoke, renew = (
        _change(denial_pb2.REVOKE, "2026-11-20"),
        _change(denial_pb2.RENEW, "2026-11-20"),
    )
    rules.check_revocation(_state(denial_pb2.ACTIVE), revoke)
    rules.check_renewal(_state(denial_pb2.ACTIVE, "2025-01-01"), renew)
    with pytest.raises(FailedPrecondition):
        rules.check_revocation(_state(denial_pb2.REVOKED), revoke)
    with pytest.raises(FailedPrecondition):
        rules.check_renewal(_state(denial_pb2.REVOKED), renew)


@pytest.mark.parametrize(
    ("change", "effective", "renewed", "refused"),
    [
        (denial_pb2.REVOKE, "1900-01-01", "", "before the denial date 2026-11-18"),
        (denial_pb2.REVOKE, "2026-11-17", "", "before the denial date 2026-11-18"),
        (denial_pb2.REVOKE, "2026-11-18", "", None),
        (denial_pb2.RENEW, "0001-01-01", "", "before the denial, 2026-11-18"),
        (denial_pb2.RENEW, "2026-11-18", "", None),
        (denial_pb2.RENEW, "2026-11-19", "2026-11-20", "before the latest renewal, 2026-11-20"),
        (denial_pb2.RENEW, "2026-11-20", "2026-11-20", None),
    ],
    ids=[
        "revocation-in-1900",
        "revocation-the-day-before",
        "revocation-on-the-day",
        "renewal-in-year-1",
        "renewal-on-the-day",
        "renewal-before-the-last",
        "renewal-on-the-last",
    ],
)
def test_a_change_takes_effect_no_earlier_than_what_it_changes(
    change: int, effective: str, renewed: str, refused: str | None
) -> None:
    state = _state(denial_pb2.ACTIVE, renewed=renewed)
    check = rules.check_revocation if change == denial_pb2.REVOKE else rules.check_renewal
    if refused is None:
        check(state, _change(change, effective))
        return
    with pytest.raises(InvalidArgument, match=refused) as caught:
        check(state, _change(change, effective))
    assert caught.value.violations[0].field == "envelope.payload.effective_date"


def _smuggled_in_reasons() -> bytes:
    """A second reason (field 15, repeated) carrying field 31, which Reason does not have."""
    inner = denial_pb2.Reason(criterion=2, explanation="x").SerializeToString() + b"\xf8\x01\x05"
    return military_payload().SerializeToString() + b"\x7a" + bytes([len(inner)]) + inner


def _smuggled_in_end_user() -> bytes:
    """end_user (field 9) carrying field 31, which Party does not have."""
    inner = denial_pb2.Party(name="Hidden Co", country="AE").SerializeToString() + b"\xf8\x01\x05"
    return military_payload().SerializeToString() + b"\x4a" + bytes([len(inner)]) + inner


@pytest.mark.parametrize(
    "smuggled",
    [
        military_payload().SerializeToString() + b"\xf8\x01\x05",
        _smuggled_in_end_user(),
        _smuggled_in_reasons(),
    ],
    ids=["top-level", "in-a-message-field", "in-a-repeated-message-field"],
)
def test_payload_with_unknown_fields_is_refused(smuggled: bytes) -> None:
    parsed = denial_pb2.DenialPayload.FromString(smuggled)
    assert parsed.reference == "DE-2026-0001"  # the known fields still parse
    with pytest.raises(InvalidArgument) as caught:
        rules.DenialContent.from_payload_bytes(
            smuggled, caller_state="DE", today=TODAY, rules=RULES
        )
    assert caught.value.violations[0].field == "envelope.payload"
    clean = military_payload().SerializeToString()
    content = rules.DenialContent.from_payload_bytes(
        clean, caller_state="DE", today=TODAY, rules=RULES
    )
    assert content.reference == "DE-2026-0001"
