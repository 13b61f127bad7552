"""Published encryption keys: a participant's signed statement of its key, read by the same
code at the hub that takes it and at every sender that seals to it.

The hub is not trusted for integrity (DESIGN §1): a sender seals to a key only if the
participant's own signing key signed it, so a hub that substitutes a key is caught before
anything is sealed.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from google.protobuf import unknown_fields
from google.protobuf.message import DecodeError

from client.core.envelope import ENCRYPTION_KEY_PAYLOAD_TYPE, EnvelopeError
from client.core.sealing import (
    EncryptionPrivateKey,
    RecipientKey,
    SealError,
    Suite,
    check_public_key,
    key_id_of,
)
from client.core.signers import PublishedSigners, SignerError, signing_time
from ecx.v1 import participant_pb2

SUITE_CODES: dict[Suite, participant_pb2.EncryptionSuite] = {
    Suite.HYBRID: participant_pb2.MLKEM768_X25519,
    Suite.X25519: participant_pb2.X25519,
}
_SUITES = {code: suite for suite, code in SUITE_CODES.items()}


class KeyStatementError(Exception):
    """A key statement is malformed; `field` names the statement field at fault."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def _date(text: str) -> dt.date | None:
    if len(text) != 10 or text[4] != "-" or text[7] != "-":
        return None
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        return None


def key_object_id(participant: str, key_id: str) -> str:
    """The exchange-log object id of a published key."""
    return f"encryption-key:{participant}:{key_id}"


@dataclass(frozen=True)
class KeyStatement:
    """What a participant signs about its encryption key, parsed and checked in itself: the
    suite is known, the public key is one of that suite, the key id names it, and not_after is
    a calendar date."""

    participant: str
    key_id: str
    suite: Suite
    public_key: bytes
    not_after: dt.date

    @classmethod
    def of(cls, key: EncryptionPrivateKey, participant: str, not_after: dt.date) -> KeyStatement:
        """The statement a participant signs to publish its key."""
        return cls(participant, key.key_id, key.suite, key.public_bytes(), not_after)

    def to_payload(self) -> bytes:
        """The bytes to sign: the EncryptionKey message, serialized deterministically."""
        return participant_pb2.EncryptionKey(
            participant=self.participant,
            key_id=self.key_id,
            suite=SUITE_CODES[self.suite],
            public_key=self.public_key,
            not_after=self.not_after.isoformat(),
        ).SerializeToString(deterministic=True)

    @classmethod
    def from_payload(cls, payload: bytes, *, trial: bool = False) -> KeyStatement:
        """The statement in signed payload bytes; KeyStatementError naming the field otherwise.
        With `trial`, the key must also survive a trial encapsulation (what the hub asks of a
        key before it publishes it)."""
        try:
            message = participant_pb2.EncryptionKey.FromString(payload)
        except DecodeError:
            raise KeyStatementError("envelope.payload", "not an EncryptionKey") from None
        if len(unknown_fields.UnknownFieldSet(message)):
            raise KeyStatementError("envelope.payload", "carries fields unknown to ecx")
        if not message.participant:
            raise KeyStatementError("participant", "is required")
        suite = _SUITES.get(message.suite)
        if suite is None:
            raise KeyStatementError("suite", "must be MLKEM768_X25519 or X25519")
        try:
            check_public_key(suite, message.public_key, trial=trial)
        except SealError as e:
            raise KeyStatementError("public_key", str(e)) from e
        if message.key_id != key_id_of(suite, message.public_key):
            raise KeyStatementError(
                "key_id", "must be the hex SHA-256 of the suite name, a NUL and the public key"
            )
        not_after = _date(message.not_after)
        if not_after is None:
            raise KeyStatementError("not_after", "must be a calendar date YYYY-MM-DD")
        return cls(message.participant, message.key_id, suite, message.public_key, not_after)

    @property
    def object_id(self) -> str:
        return key_object_id(self.participant, self.key_id)

    def recipient(self) -> RecipientKey:
        return RecipientKey(self.participant, self.key_id, self.suite, self.public_key)


class PublishedKeyError(Exception):
    """A published key that must not be sealed to; str() says why."""


_SUBSTITUTED = "the hub may have substituted it"


def verify_published_key(
    participant: str,
    published: participant_pb2.PublishedKey,
    signers: PublishedSigners,
    today: dt.date,
) -> KeyStatement:
    """The key a participant published, if its own signing key signed it (a certificate the
    pinned CA issued to it, not revoked when the log recorded the signature), the statement
    names that participant and today is not past its not_after; PublishedKeyError otherwise."""
    try:
        verified, certificate = signers.signers.verify(
            published.envelope, ENCRYPTION_KEY_PAYLOAD_TYPE
        )
    except EnvelopeError as e:
        raise PublishedKeyError(
            f"its published key is not signed by it: {_SUBSTITUTED} ({e})"
        ) from e
    if verified.signer != participant:
        raise PublishedKeyError(
            f"its published key is not signed by it but by {verified.signer}: {_SUBSTITUTED}"
        )
    try:
        statement = KeyStatement.from_payload(verified.payload)
    except KeyStatementError as e:
        raise PublishedKeyError(f"its published key statement is malformed: {e}") from e
    if statement.participant != participant:
        raise PublishedKeyError(
            f"its published key is a key of {statement.participant}: {_SUBSTITUTED}"
        )
    try:
        signed_at = signing_time(published.log_entry, statement.object_id)
    except SignerError as e:
        raise PublishedKeyError(f"its published key: {e}") from e
    revoked = signers.revocations.revoked_on(certificate.serial)
    if revoked is not None and revoked <= signed_at:
        raise PublishedKeyError(
            f"its published key was signed after its signing certificate was revoked"
            f" ({revoked.date()})"
        )
    if today > statement.not_after:
        raise PublishedKeyError(f"its published key expired on {statement.not_after}")
    return statement


@dataclass(frozen=True)
class KeyCheck:
    """The result form of verify_published_key: the statement (if it parses) and, if the key
    must not be sealed to, why."""

    participant: str
    statement: KeyStatement | None
    problem: str = ""

    @property
    def ok(self) -> bool:
        return not self.problem


def check_published_key(
    participant: str,
    published: participant_pb2.PublishedKey,
    signers: PublishedSigners,
    today: dt.date,
) -> KeyCheck:
    """Like verify_published_key, as a result: for showing every key with its verdict."""
    try:
        return KeyCheck(participant, verify_published_key(participant, published, signers, today))
    except PublishedKeyError as e:
        try:
            statement = KeyStatement.from_payload(published.envelope.payload)
        except KeyStatementError:
            statement = None
        return KeyCheck(participant, statement, str(e))
