"""A denial's history replayed from what its issuer signed, never from the hub's own columns.

Every derived value the hub keeps beside a denial (latest version, status, regime, issuer,
validity) can be recomputed from the signed statements of its versions: the content the issuer
submitted or amended, and its signed revocations and renewals, each linked to the one before.
Reads decide on the replay; `ecx-server verify-log` replays every denial in the store and names
the first version that differs from what was signed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from client.core.chain import ChainError, check_denial_chain, denial_statement, statement_sha256
from client.core.envelope import DENIAL_CHANGE_PAYLOAD_TYPE, DENIAL_PAYLOAD_TYPE
from ecx.v1 import audit_pb2, common_pb2, denial_pb2
from server.domain.countries import normalize_country
from server.domain.denials import DenialRules, parse_date, valid_until

# Verifies one envelope of the given payload type as signed at the given time; returns the
# signer's participant id, or raises ValueError saying why not.
Verify = Callable[[common_pb2.Envelope, str, dt.datetime], str]

_ACTIONS = {
    denial_pb2.SUBMIT: "SubmitDenial",
    denial_pb2.AMEND: "AmendDenial",
    denial_pb2.REVOKE: "RevokeDenial",
    denial_pb2.RENEW: "RenewDenial",
}


class HistoryError(Exception):
    """A stored version that is not what its signed statements make it; `version` is the first
    such (0 when the history as a whole is at fault)."""

    def __init__(self, reference: str, version: int, reason: str, index: int | None = None) -> None:
        where = f"denial {reference} v{version}" if version else f"denial {reference}"
        super().__init__(f"{where}: {reason}")
        self.reference = reference
        self.version = version
        self.reason = reason
        # The exchange-log entry at fault, where one is.
        self.index = index


@dataclass(frozen=True)
class VersionFacts:
    """What a version is, by its signed statements."""

    reference: str
    version: int
    change: int
    issuer: str
    issuing_state: str
    regime: int
    destination_country: str
    status: int  # ACTIVE or REVOKED, as stored; EXPIRED is derived from valid_until and a date
    valid_until: str
    renewed_on: str
    statement_sha256: bytes
    action: str  # the exchange-log action that recorded it


def signing_time(record: denial_pb2.Denial) -> dt.datetime:
    """When a version was signed, as the exchange log recorded it."""
    try:
        entry = audit_pb2.LogEntry.FromString(record.log_entry)
        if entry.HasField("time"):
            return entry.time.ToDatetime(tzinfo=dt.UTC)
    except DecodeError:
        pass
    return record.recorded_at.ToDatetime(tzinfo=dt.UTC)


def replay(
    reference: str,
    records: Sequence[denial_pb2.Denial],
    verify: Verify,
    rules: DenialRules,
) -> list[VersionFacts]:
    """The facts of every version, oldest first, from the signed statements alone; HistoryError
    names the first version whose record disagrees with them or whose signature fails."""
    if not records:
        raise HistoryError(reference, 0, "no versions")
    try:
        check_denial_chain(records)
    except ChainError as e:
        raise HistoryError(reference, e.version, e.reason) from e
    facts: list[VersionFacts] = []
    for record in records:
        previous = facts[-1] if facts else None
        facts.append(_version(reference, record, previous, records, verify, rules))
    return facts


def _version(
    reference: str,
    record: denial_pb2.Denial,
    previous: VersionFacts | None,
    records: Sequence[denial_pb2.Denial],
    verify: Verify,
    rules: DenialRules,
) -> VersionFacts:
    v = record.version

    def fail(reason: str) -> HistoryError:
        return HistoryError(reference, v, reason)

    if record.reference != reference:
        raise fail(f"the record names {record.reference}")
    signed_at = signing_time(record)
    try:
        signer = verify(record.envelope, DENIAL_PAYLOAD_TYPE, signed_at)
    except ValueError as e:
        raise fail(f"the content's signature does not verify: {e}") from e
    try:
        content = denial_pb2.DenialPayload.FromString(record.envelope.payload)
    except DecodeError as e:
        raise fail("the signed content is not a denial") from e
    if content.reference != reference:
        raise fail(f"the signed content names {content.reference}")
    expected = denial_pb2.SUBMIT if previous is None else None
    if previous is not None and previous.status == denial_pb2.REVOKED:
        raise fail("it follows a revocation, which is final")
    renewed_on = previous.renewed_on if previous is not None else ""
    status = denial_pb2.ACTIVE
    if record.change in (denial_pb2.REVOKE, denial_pb2.RENEW):
        try:
            change_signer = verify(record.change_envelope, DENIAL_CHANGE_PAYLOAD_TYPE, signed_at)
            change = denial_pb2.DenialStatusChange.FromString(record.change_envelope.payload)
        except ValueError as e:
            raise fail(f"the change's signature does not verify: {e}") from e
        except DecodeError as e:
            raise fail("the signed change is not a revocation or renewal") from e
        if change.change != record.change or change.reference != reference:
            raise fail("the signed change says otherwise")
        if change_signer != signer:
            raise fail(f"the change is signed by {change_signer}, the content by {signer}")
        if previous is None or record.envelope != records[v - 2].envelope:
            raise fail("a revocation or renewal must carry the content in force unchanged")
        if record.change == denial_pb2.REVOKE:
            status = denial_pb2.REVOKED
            if record.revocation_reason != change.reason:
                raise fail("the revocation reason is not the one signed")
        else:
            renewed_on = change.effective_date
    elif record.change != (expected or denial_pb2.AMEND):
        raise fail(f"recorded as {denial_pb2.DenialChange.Name(record.change)}")
    if record.HasField("change_envelope") and record.change not in (
        denial_pb2.REVOKE,
        denial_pb2.RENEW,
    ):
        raise fail("a submission or amendment carries a change statement")
    if previous is not None and signer != previous.issuer:
        raise fail(f"signed by {signer}, not by the issuer {previous.issuer}")
    if previous is not None and content.regime != previous.regime:
        raise fail("the regime changed")
    denial_date = parse_date(content.denial_date)
    if denial_date is None:
        raise fail("the signed content has no valid denial date")
    renewed = parse_date(renewed_on) if renewed_on else None
    facts = VersionFacts(
        reference=reference,
        version=v,
        change=record.change,
        issuer=signer,
        issuing_state=normalize_country(content.issuing_state) or content.issuing_state,
        regime=content.regime,
        destination_country=normalize_country(content.destination_country)
        or content.destination_country,
        status=status,
        valid_until=valid_until(denial_date, renewed, rules)
        if record.change != denial_pb2.REVOKE or previous is None
        else previous.valid_until,
        renewed_on=renewed_on,
        statement_sha256=statement_sha256(denial_statement(record)),
        action=_ACTIONS.get(record.change, "?"),
    )
    _check_record(record, facts, fail)
    return facts


def _check_record(
    record: denial_pb2.Denial,
    facts: VersionFacts,
    fail: Callable[[str], HistoryError],
) -> None:
    """The hub's own fields of a record must say what the signed statements say."""
    for name, recorded, signed in (
        ("signer", record.signer, facts.issuer),
        ("regime", record.regime, facts.regime),
        ("issuing state", record.issuing_state, facts.issuing_state),
        ("status", record.status, facts.status),
        ("validity", record.valid_until, facts.valid_until),
    ):
        if recorded != signed:
            raise fail(f"its record says {name} {recorded!r}, its signed statements {signed!r}")


def latest_facts(
    reference: str, record: denial_pb2.Denial, verify: Verify, rules: DenialRules
) -> VersionFacts:
    """What can be told of the latest version from its record alone: regime, issuer, status,
    signatures (the renewals before it, and so its validity, take the whole history)."""
    signed_at = signing_time(record)

    def fail(reason: str) -> HistoryError:
        return HistoryError(reference, record.version, reason)

    try:
        signer = verify(record.envelope, DENIAL_PAYLOAD_TYPE, signed_at)
        content = denial_pb2.DenialPayload.FromString(record.envelope.payload)
        status = denial_pb2.ACTIVE
        if record.change in (denial_pb2.REVOKE, denial_pb2.RENEW):
            change_signer = verify(record.change_envelope, DENIAL_CHANGE_PAYLOAD_TYPE, signed_at)
            change = denial_pb2.DenialStatusChange.FromString(record.change_envelope.payload)
            if change.change != record.change or change_signer != signer:
                raise fail("the signed change says otherwise")
            if change.change == denial_pb2.REVOKE:
                status = denial_pb2.REVOKED
    except ValueError as e:
        raise fail(f"a signature does not verify: {e}") from e
    except DecodeError as e:
        raise fail("a signed statement does not decode") from e
    if content.reference != reference or record.reference != reference:
        raise fail("the signed content names another denial")
    facts = VersionFacts(
        reference=reference,
        version=record.version,
        change=record.change,
        issuer=signer,
        issuing_state=normalize_country(content.issuing_state) or content.issuing_state,
        regime=content.regime,
        destination_country=normalize_country(content.destination_country)
        or content.destination_country,
        status=status,
        valid_until=record.valid_until,
        renewed_on="",
        statement_sha256=statement_sha256(denial_statement(record)),
        action=_ACTIONS.get(record.change, "?"),
    )
    _check_record(record, facts, fail)
    return facts


def check_logged(
    reference: str,
    records: Sequence[denial_pb2.Denial],
    facts: Sequence[VersionFacts],
    logged: Sequence[tuple[int, str, bytes]],
) -> None:
    """The versions stored are exactly those the exchange log recorded as written, each at the
    entry it carries and with the digest of its signed statement: a version deleted (the log
    knows more), added or replaced (the log knows another) is a HistoryError."""
    entries: dict[int, tuple[int, bytes]] = {}
    prefix = f"denial:{reference}:v"
    for index, object_id, entry in logged:
        number = object_id[len(prefix) :]
        if number.isdigit():
            entries[int(number)] = (index, entry)
    for record, version in zip(records, facts, strict=True):
        found = entries.pop(version.version, None)
        if found is None:
            raise HistoryError(reference, version.version, "the exchange log never recorded it")
        index, entry = found
        if index != record.log_index or entry != record.log_entry:
            raise HistoryError(reference, version.version, f"it is not the entry {index} logged")
        try:
            digest = audit_pb2.LogEntry.FromString(entry).payload_sha256
        except DecodeError:
            digest = b""
        if digest != version.statement_sha256:
            raise HistoryError(reference, version.version, "the log recorded another statement")
    if entries:
        missing = min(entries)
        raise HistoryError(
            reference,
            missing,
            f"the exchange log records it (entry {entries[missing][0]}), the store does not",
            entries[missing][0],
        )
