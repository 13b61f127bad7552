"""Each signed statement names its place in its object's history: the version it creates and the
SHA-256 of the signed statement of the version it follows. The statements of a denial, or the
steps of a consultation, thus form a hash chain that the author signed link by link: a statement
sent again later, or twice, no longer fits, and a history with a version left out, added or
reordered does not verify. The hub refuses what does not follow its current version; recipients
check the whole chain.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from ecx.v1 import common_pb2, consultation_pb2, denial_pb2

SHA256_BYTES = 32
_CHANGES = (denial_pb2.REVOKE, denial_pb2.RENEW)


class ChainError(Exception):
    """A history whose statements do not link up; `version` is the first that does not."""

    def __init__(self, version: int, reason: str) -> None:
        super().__init__(f"version {version}: {reason}")
        self.version = version
        self.reason = reason


@dataclass(frozen=True)
class Link:
    """A statement's place: the version it creates and the digest of the one it follows."""

    version: int
    previous_sha256: bytes

    @classmethod
    def of(cls, message: common_pb2.VersionLink) -> Link:
        return cls(message.version, message.previous_sha256)

    def to_proto(self) -> common_pb2.VersionLink:
        return common_pb2.VersionLink(version=self.version, previous_sha256=self.previous_sha256)


def statement_sha256(statement: bytes) -> bytes:
    """The digest by which the next statement names this one: of its signed payload bytes."""
    return hashlib.sha256(statement).digest()


def first_link() -> Link:
    return Link(1, b"")


def link_after(version: int, statement: bytes) -> Link:
    """The link of a statement that follows `version`, whose signed statement was `statement`."""
    return Link(version + 1, statement_sha256(statement))


def denial_statement(record: denial_pb2.Denial) -> bytes:
    """The signed statement that created a denial version: its revocation or renewal, or else
    the content it submitted or amended."""
    if record.change in _CHANGES or record.HasField("change_envelope"):
        return record.change_envelope.payload
    return record.envelope.payload


def denial_link(record: denial_pb2.Denial) -> Link | None:
    """The link the statement of a denial version carries, None if it carries none."""
    try:
        if record.change in _CHANGES or record.HasField("change_envelope"):
            change = denial_pb2.DenialStatusChange.FromString(record.change_envelope.payload)
            return Link.of(change.link) if change.HasField("link") else None
        content = denial_pb2.DenialPayload.FromString(record.envelope.payload)
    except DecodeError:
        return None
    return Link.of(content.link) if content.HasField("link") else None


def step_link(event: consultation_pb2.ConsultationEvent) -> Link | None:
    """The link a consultation step carries, None if it carries none."""
    try:
        statement = consultation_pb2.ConsultationStatement.FromString(event.envelope.payload)
    except DecodeError:
        return None
    return Link.of(statement.link) if statement.HasField("link") else None


def expected_link(version: int, previous: bytes | None) -> Link:
    """What the statement of `version` must carry, given the statement it follows."""
    return first_link() if previous is None else Link(version, statement_sha256(previous))


def check_chain(links: Sequence[tuple[int, Link | None, bytes]]) -> None:
    """(version, link, signed statement) of each version, oldest first: versions 1, 2, 3 …, and
    each link names its own version and the digest of the statement before. ChainError if not."""
    previous: bytes | None = None
    for expected_version, (version, link, statement) in enumerate(links, start=1):
        if version != expected_version:
            raise ChainError(expected_version, f"version {version} found where this one should be")
        if link is None:
            raise ChainError(version, "its statement names no place in the history")
        if link != expected_link(version, previous):
            raise ChainError(
                version,
                "its statement does not follow the version before"
                if link.version == version
                else f"its statement was signed as version {link.version}",
            )
        previous = statement


def check_denial_chain(versions: Sequence[denial_pb2.Denial]) -> None:
    """Every version of a denial, oldest first, links to the one before."""
    check_chain([(d.version, denial_link(d), denial_statement(d)) for d in versions])


def check_consultation_chain(consultation: consultation_pb2.Consultation) -> None:
    """Every step of a consultation, oldest first, links to the one before."""
    check_chain([(e.version, step_link(e), e.envelope.payload) for e in consultation.events])
