"""What a sender accepts as a participant's published encryption key: only a statement that
participant's own signing key signed (a certificate the pinned CA issued to it, not revoked when
the log recorded the signature), naming it, and not past its not_after."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from google.protobuf.timestamp_pb2 import Timestamp

from certs.devpki import DevPki
from client.core.envelope import DENIAL_PAYLOAD_TYPE, ENCRYPTION_KEY_PAYLOAD_TYPE, sign
from client.core.published_keys import (
    KeyStatement,
    KeyStatementError,
    PublishedKeyError,
    check_published_key,
    key_object_id,
    verify_published_key,
)
from client.core.sealing import EncryptionPrivateKey, Suite, key_id_of
from client.core.signers import PublishedSigners, published_signers
from client.identity import Identity
from ecx.v1 import audit_pb2, participant_pb2

NOW = dt.datetime.now(dt.UTC)
TODAY = NOW.date()
NOT_AFTER = TODAY + dt.timedelta(days=30)


@pytest.fixture(scope="module")
def signers(pki: DevPki) -> PublishedSigners:
    answer = participant_pb2.ListParticipantsResponse(
        participants=[
            participant_pb2.Participant(
                id=name, signing_certificate=(pki.identity(name) / "signing-cert.pem").read_text()
            )
            for name in ("nl", "de", "revoked")
        ],
        crl=pki.crl.read_text(),
    )
    return published_signers(answer, x509.load_pem_x509_certificate(pki.ca_cert.read_bytes()), NOW)


def published(
    pki: DevPki,
    signer: str,
    statement: KeyStatement,
    *,
    logged_at: dt.datetime = NOW,
    object_id: str | None = None,
    payload_type: str = ENCRYPTION_KEY_PAYLOAD_TYPE,
) -> participant_pb2.PublishedKey:
    """A key as the hub serves it: the envelope signed by `signer`, and its log entry."""
    stamp = Timestamp()
    stamp.FromDatetime(logged_at)
    entry = audit_pb2.LogEntry(
        index=7,
        time=stamp,
        actor=signer,
        action="PublishEncryptionKey",
        object_ids=[object_id or statement.object_id],
    )
    key = Identity.load(pki.identity(signer)).require_signing_key()
    return participant_pb2.PublishedKey(
        envelope=sign(statement.to_payload(), payload_type, key),
        signer=signer,
        log_index=7,
        log_entry=entry.SerializeToString(),
    )


@pytest.fixture(scope="module")
def key() -> EncryptionPrivateKey:
    return EncryptionPrivateKey.generate(Suite.HYBRID)


def test_a_key_its_participant_signed_is_taken(
    pki: DevPki, signers: PublishedSigners, key: EncryptionPrivateKey
) -> None:
    statement = KeyStatement.of(key, "nl", NOT_AFTER)
    verified = verify_published_key("nl", published(pki, "nl", statement), signers, TODAY)
    assert verified == statement
    assert verified.recipient() == key.recipient("nl")
    assert verified.object_id == key_object_id("nl", key.key_id)
    # up to and including its last day
    assert verify_published_key("nl", published(pki, "nl", statement), signers, NOT_AFTER)


@pytest.mark.parametrize(
    ("case", "reason"),
    [
        pytest.param("signed-by-another", "not signed by it but by de", id="signed-by-another"),
        pytest.param("names-another", "is a key of de", id="names-another"),
        pytest.param("payload-altered", "signature does not verify", id="payload-altered"),
        pytest.param("other-payload-type", "payload_type", id="other-payload-type"),
        pytest.param("expired", "expired on", id="expired"),
        pytest.param("log-entry-of-another", "log entry is not about", id="log-entry-of-another"),
        pytest.param("signed-when-revoked", "was revoked", id="signed-when-revoked"),
    ],
)
def test_a_key_is_refused(
    pki: DevPki,
    signers: PublishedSigners,
    key: EncryptionPrivateKey,
    case: str,
    reason: str,
) -> None:
    participant, today = "nl", TODAY
    served = published(pki, "nl", KeyStatement.of(key, "nl", NOT_AFTER))
    if case == "signed-by-another":
        served = published(pki, "de", KeyStatement.of(key, "nl", NOT_AFTER))
    elif case == "names-another":
        served = published(pki, "nl", KeyStatement.of(key, "de", NOT_AFTER))
    elif case == "payload-altered":
        other = EncryptionPrivateKey.generate(Suite.HYBRID)
        served.envelope.payload = KeyStatement.of(other, "nl", NOT_AFTER).to_payload()
    elif case == "other-payload-type":
        served = published(
            pki, "nl", KeyStatement.of(key, "nl", NOT_AFTER), payload_type=DENIAL_PAYLOAD_TYPE
        )
    elif case == "expired":
        today = NOT_AFTER + dt.timedelta(days=1)
    elif case == "log-entry-of-another":
        served = published(
            pki, "nl", KeyStatement.of(key, "nl", NOT_AFTER), object_id="encryption-key:nl:00"
        )
    elif case == "signed-when-revoked":
        participant = "revoked"
        served = published(pki, "revoked", KeyStatement.of(key, "revoked", NOT_AFTER))
    with pytest.raises(PublishedKeyError, match=reason):
        verify_published_key(participant, served, signers, today)
    check = check_published_key(participant, served, signers, today)
    assert not check.ok
    assert reason in check.problem


def test_a_revoked_signers_key_logged_before_the_revocation_counts(
    pki: DevPki, signers: PublishedSigners, key: EncryptionPrivateKey
) -> None:
    """Judged as of its log entry, as every stored signature is (README: signing keys)."""
    statement = KeyStatement.of(key, "revoked", NOT_AFTER)
    earlier = published(pki, "revoked", statement, logged_at=NOW - dt.timedelta(days=1))
    assert verify_published_key("revoked", earlier, signers, TODAY) == statement


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        pytest.param({"participant": ""}, "participant", id="no-participant"),
        pytest.param({"suite": 0}, "suite", id="no-suite"),
        pytest.param({"public_key": b"\x01" * 32}, "public_key", id="x25519-bytes-as-hybrid"),
        pytest.param({"key_id": "00" * 32}, "key_id", id="key-id"),
        pytest.param({"not_after": "2027-1-5"}, "not_after", id="not-after-form"),
    ],
)
def test_a_malformed_statement_names_its_field(
    key: EncryptionPrivateKey, fields: dict[str, object], field: str
) -> None:
    message = participant_pb2.EncryptionKey.FromString(
        KeyStatement.of(key, "nl", NOT_AFTER).to_payload()
    )
    for name, value in fields.items():
        setattr(message, name, value)
    with pytest.raises(KeyStatementError) as caught:
        KeyStatement.from_payload(message.SerializeToString())
    assert caught.value.field == field


def test_the_trial_encapsulation_refuses_a_low_order_x25519_point() -> None:
    """The hub asks for the trial (a key no one can seal to is not published); senders need not."""
    zero = bytes(32)
    payload = KeyStatement(
        "nl", key_id_of(Suite.X25519, zero), Suite.X25519, zero, NOT_AFTER
    ).to_payload()
    assert KeyStatement.from_payload(payload).public_key == zero
    with pytest.raises(KeyStatementError) as caught:
        KeyStatement.from_payload(payload, trial=True)
    assert caught.value.field == "public_key"
