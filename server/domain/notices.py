"""Sensitive notices: what the hub checks of a statement it cannot read (DOMAIN.md §5).

The content of a notice is encrypted by its originator's client to each recipient; the hub sees
the routing metadata, the ciphertext and one key wrap per recipient, all signed. It checks what
decides who may read what: the marking (up to RESTREINT UE), the recipients (member-state
authorities, and for the dual-use broadcasts of Reg. 2021/821 Art. 4, 5, 7 and 9 every one of
them and the Commission), a wrap for each recipient's current key and no one else, the review
date, and each statement's place in the notice's history.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from client.core.notices import BROADCAST_KINDS
from ecx.v1 import notice_pb2
from server.domain.denials import (
    MAX_SHORT,
    MAX_TEXT,
    REFERENCE,
    REFERENCE_FORM,
    FieldChecker,
    add_years,
    parse_date,
)
from server.errors import FailedPrecondition, InvalidArgument

HIGHEST_MARKING = notice_pb2.RESTREINT_UE
MAX_CIPHERTEXT = 256 * 1024
MAX_RECIPIENTS = 64
MAX_WRAP_FIELD = 2048  # bytes of an encapsulation or a wrapped key (ML-KEM-768 + X25519: ~1.1 kB)


@dataclass(frozen=True)
class NoticeRules:
    """The configurable parts: how far ahead a review date may lie [assumed: two years]."""

    review_years: int = 2


@dataclass(frozen=True)
class Eligible:
    """Who may receive notices, as the registry says now: member-state authorities (id ->
    state) and the Commission's ids."""

    authorities: Mapping[str, str]
    commission: frozenset[str]

    def all_for(self, kind: int, originator: str) -> list[str]:
        """Everyone a notice to all goes to: every authority but the originator, and for a
        dual-use broadcast the Commission too."""
        everyone = set(self.authorities)
        if kind in BROADCAST_KINDS:
            everyone |= self.commission
        return sorted(everyone - {originator})

    def may_receive(self, participant: str) -> bool:
        return participant in self.authorities or participant in self.commission


def check_reference(c: FieldChecker, reference: str, originator_state: str) -> None:
    match = REFERENCE.fullmatch(reference)
    if not reference:
        c.fail("envelope.payload.reference", "is required")
    elif match is None:
        c.fail("envelope.payload.reference", REFERENCE_FORM)
    elif match.group(1) != originator_state:
        c.fail("envelope.payload.reference", "must start with the originator's state code")


def check_wraps(
    c: FieldChecker,
    field: str,
    wraps: Sequence[notice_pb2.KeyWrap],
    recipients: Sequence[str],
    current_keys: Mapping[str, str],
    originator: str = "",
) -> None:
    """One wrap per recipient, to that recipient's current published key, and no other; the
    originator may keep one for itself (to open its notice again, and grant it further)."""
    wrapped = [w.participant for w in wraps]
    if sorted(wrapped) != sorted(set(wrapped)):
        c.fail(field, "a recipient has two key wraps")
    missing = sorted(set(recipients) - set(wrapped))
    extra = sorted(set(wrapped) - set(recipients) - {originator})
    if missing:
        c.fail(field, f"no key wrap for {', '.join(missing[:5])}")
    if extra:
        c.fail(field, f"key wraps for participants it is not shared with: {', '.join(extra[:5])}")
    addressed = {*recipients, originator}
    for i, wrap in enumerate(wraps[: MAX_RECIPIENTS + 1]):
        current = current_keys.get(wrap.participant)
        if wrap.participant in addressed and current is None:
            c.fail(f"{field}[{i}]", f"{wrap.participant} has published no encryption key")
        elif wrap.participant in addressed and wrap.key_id != current:
            c.fail(
                f"{field}[{i}].key_id",
                f"not the current encryption key of {wrap.participant}",
            )
        if not wrap.enc or len(wrap.enc) > MAX_WRAP_FIELD:
            c.fail(f"{field}[{i}].enc", "must hold one encapsulation")
        if not wrap.wrapped_key or len(wrap.wrapped_key) > MAX_WRAP_FIELD:
            c.fail(f"{field}[{i}].wrapped_key", "must hold one wrapped key")


def check_recipients(
    c: FieldChecker,
    field: str,
    recipients: Sequence[str],
    originator: str,
    eligible: Eligible,
) -> None:
    if not recipients:
        c.fail(field, "at least one recipient is required")
        return
    if len(recipients) > MAX_RECIPIENTS:
        c.fail(field, f"at most {MAX_RECIPIENTS} recipients")
        return
    if list(recipients) != sorted(set(recipients)):
        c.fail(field, "must be sorted, each once")
    for i, participant in enumerate(recipients):
        if participant == originator:
            c.fail(f"{field}[{i}]", "the originator is not its own recipient")
        elif not eligible.may_receive(participant):
            c.fail(
                f"{field}[{i}]",
                f"{participant[:65]!r} is not a member-state authority or the Commission",
            )


def check_version(
    statement: notice_pb2.NoticeStatement,
    *,
    originator: str,
    originator_state: str,
    eligible: Eligible,
    current_keys: Mapping[str, str],
    today: dt.date,
    rules: NoticeRules,
    first: bool,
) -> notice_pb2.NoticeVersion:
    """A share (`first`) or an update: marking, recipients, review date, sealed content."""
    c = FieldChecker()
    if first:
        check_reference(c, statement.reference, originator_state)
    v = statement.version
    field = "envelope.payload.version"
    if v.kind not in notice_pb2.NoticeKind.values() or v.kind == 0:
        c.fail(f"{field}.kind", "is required")
    if v.classification not in notice_pb2.Classification.values() or v.classification == 0:
        c.fail(f"{field}.classification", "is required: SENSITIVE or RESTREINT_UE")
    elif v.classification > HIGHEST_MARKING:
        marking = notice_pb2.Classification.Name(v.classification)
        c.fail(
            f"{field}.classification",
            f"ecx carries notices up to RESTREINT_UE; {marking} must not be sent through it",
        )
    check_recipients(c, f"{field}.recipients", v.recipients, originator, eligible)
    everyone = eligible.all_for(v.kind, originator)
    if v.kind in BROADCAST_KINDS and (not v.to_all or list(v.recipients) != everyone):
        c.fail(
            f"{field}.recipients",
            "a dual-use broadcast goes to every member state and the Commission (to_all)",
        )
    elif v.to_all and list(v.recipients) != everyone:
        c.fail(f"{field}.recipients", "to_all names every member-state authority")
    review = parse_date(v.review_date)
    if review is None:
        c.fail(f"{field}.review_date", "must be a calendar date YYYY-MM-DD")
    elif review < today:
        c.fail(f"{field}.review_date", "is in the past")
    elif review > add_years(today, rules.review_years):
        c.fail(f"{field}.review_date", f"more than {rules.review_years} years ahead")
    if not v.ciphertext:
        c.fail(f"{field}.ciphertext", "is required: the sealed content")
    elif len(v.ciphertext) > MAX_CIPHERTEXT:
        c.fail(f"{field}.ciphertext", f"larger than {MAX_CIPHERTEXT} bytes")
    if len(v.content_sha256) != 32:
        c.fail(f"{field}.content_sha256", "must be the SHA-256 of the content")
    check_wraps(c, f"{field}.wraps", v.wraps, v.recipients, current_keys, originator)
    c.raise_if_any()
    return v


def check_withdrawal(statement: notice_pb2.NoticeStatement) -> str:
    c = FieldChecker()
    c.text(
        "envelope.payload.withdrawal.reason",
        statement.withdrawal.reason,
        required=True,
        limit=MAX_TEXT,
        multiline=True,
    )
    c.raise_if_any()
    return statement.withdrawal.reason


def check_grant(
    statement: notice_pb2.NoticeStatement,
    *,
    originator: str,
    readers: Sequence[str],
    content_versions: Sequence[int],
    requests: int,
    eligible: Eligible,
    current_keys: Mapping[str, str],
) -> notice_pb2.SharingGrant:
    """New readers of one version's content, each with a wrap of its key."""
    c = FieldChecker()
    g = statement.grant
    field = "envelope.payload.grant"
    if g.content_version not in content_versions:
        c.fail(f"{field}.content_version", "names no version of the content")
    check_recipients(c, f"{field}.recipients", g.recipients, originator, eligible)
    already = sorted(set(g.recipients) & set(readers))
    if already:
        c.fail(f"{field}.recipients", f"already readers: {', '.join(already[:5])}")
    check_wraps(c, f"{field}.wraps", g.wraps, g.recipients, current_keys, originator)
    for i, answer in enumerate(g.answers):
        if answer >= requests:
            c.fail(f"{field}.answers[{i}]", "names no request")
    c.raise_if_any()
    return g


def check_acknowledgement(
    statement: notice_pb2.NoticeStatement, contents: Mapping[int, bytes]
) -> notice_pb2.Acknowledgement:
    """A receipt names a version of the content and its digest."""
    a = statement.acknowledgement
    digest = contents.get(a.version)
    if digest is None:
        raise InvalidArgument.field(
            "envelope.payload.acknowledgement.version", "names no version of the content"
        )
    if a.content_sha256 != digest:
        raise InvalidArgument.field(
            "envelope.payload.acknowledgement.content_sha256",
            "is not the digest of that version's content",
        )
    return a


def check_request(
    statement: notice_pb2.NoticeStatement,
    *,
    originator: str,
    readers: Sequence[str],
    latest_version: int,
    eligible: Eligible,
) -> notice_pb2.SharingRequest:
    c = FieldChecker()
    r = statement.request
    field = "envelope.payload.request"
    if r.version < 1 or r.version > latest_version:
        c.fail(f"{field}.version", "names no version of the notice")
    check_recipients(c, f"{field}.recipients", r.recipients, originator, eligible)
    already = sorted(set(r.recipients) & set(readers))
    if already:
        c.fail(f"{field}.recipients", f"already readers: {', '.join(already[:5])}")
    c.text(f"{field}.reason", r.reason, required=True, limit=MAX_SHORT * 4, multiline=True)
    c.raise_if_any()
    return r


def check_shared(state: int, reference: str) -> None:
    if state == notice_pb2.NOTICE_WITHDRAWN:
        raise FailedPrecondition(f"notice {reference} is withdrawn")
