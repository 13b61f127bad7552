"""Sealing with real keys of both suites: what was sealed opens with the right key, info and
associated data, and with nothing else; every failure is a SealError."""

from __future__ import annotations

import dataclasses

import pytest

from client.core.sealing import (
    CONTENT_KEY_BYTES,
    EncryptionPrivateKey,
    KeyWrap,
    RecipientKey,
    SealError,
    Suite,
    check_public_key,
    key_id_of,
    open_content,
    seal_content,
    unwrap_key,
    wrap_key,
)

SUITES = list(Suite)
CONTENT = b"End-user Technopark Trading LLC is a procurement front." * 40
AAD = b"notice NL-2026-N001 v1"
INFO = b"notice NL-2026-N001 v1 from nl to de,fr: de"


@pytest.fixture(scope="module", params=SUITES, ids=[s.name for s in SUITES])
def suite(request: pytest.FixtureRequest) -> Suite:
    return request.param  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def de_key(suite: Suite) -> EncryptionPrivateKey:
    return EncryptionPrivateKey.generate(suite)


@pytest.fixture(scope="module")
def fr_key(suite: Suite) -> EncryptionPrivateKey:
    return EncryptionPrivateKey.generate(suite)


def _flip(data: bytes, at: int) -> bytes:
    return data[:at] + bytes([data[at] ^ 0x01]) + data[at + 1 :]


def test_content_round_trip() -> None:
    key, sealed = seal_content(CONTENT, AAD)
    assert len(key) == CONTENT_KEY_BYTES
    assert CONTENT not in sealed
    assert len(sealed) == 12 + len(CONTENT) + 16
    assert open_content(key, sealed, AAD) == CONTENT


def test_each_seal_has_its_own_key_and_nonce() -> None:
    first, second = seal_content(CONTENT, AAD), seal_content(CONTENT, AAD)
    assert first[0] != second[0]
    assert first[1][:12] != second[1][:12]


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda k, c, a: (k, c, a + b"x"), id="other-aad"),
        pytest.param(lambda k, c, a: (k, _flip(c, 0), a), id="altered-nonce"),
        pytest.param(lambda k, c, a: (k, _flip(c, 20), a), id="altered-ciphertext"),
        pytest.param(lambda k, c, a: (k, _flip(c, len(c) - 1), a), id="altered-tag"),
        pytest.param(lambda k, c, a: (k, c[:-1], a), id="truncated"),
        pytest.param(lambda k, c, a: (k, c[:20], a), id="shorter-than-nonce-and-tag"),
        pytest.param(lambda k, c, a: (_flip(k, 0), c, a), id="other-key"),
        pytest.param(lambda k, c, a: (k[:16], c, a), id="short-key"),
    ],
)
def test_content_does_not_open_otherwise(change: object) -> None:
    key, sealed = seal_content(CONTENT, AAD)
    assert callable(change)
    with pytest.raises(SealError):
        open_content(*change(key, sealed, AAD))


def test_wrap_round_trip(suite: Suite, de_key: EncryptionPrivateKey) -> None:
    key, _ = seal_content(CONTENT, AAD)
    wrap = wrap_key(key, de_key.recipient("de"), INFO)
    assert (wrap.participant, wrap.key_id) == ("de", de_key.key_id)
    assert key not in wrap.wrapped_key
    assert unwrap_key(wrap, de_key, INFO) == key


def test_each_wrap_is_a_fresh_encapsulation(de_key: EncryptionPrivateKey) -> None:
    key, _ = seal_content(CONTENT, AAD)
    first, second = (wrap_key(key, de_key.recipient("de"), INFO) for _ in range(2))
    assert first.enc != second.enc


def test_a_wrap_does_not_open_with_another_recipients_key(
    de_key: EncryptionPrivateKey, fr_key: EncryptionPrivateKey
) -> None:
    key, _ = seal_content(CONTENT, AAD)
    wrap = wrap_key(key, de_key.recipient("de"), INFO)
    with pytest.raises(SealError, match="wrapped to key"):
        unwrap_key(wrap, fr_key, INFO)
    # and not either when the wrap is relabelled with that key's id: HPKE itself refuses
    relabelled = dataclasses.replace(wrap, key_id=fr_key.key_id)
    with pytest.raises(SealError, match="does not open"):
        unwrap_key(relabelled, fr_key, INFO)


@pytest.mark.parametrize(
    "change",
    [
        pytest.param(lambda w: (w, INFO + b"x"), id="other-info"),
        pytest.param(lambda w: (w, b""), id="no-info"),
        pytest.param(lambda w: (dataclasses.replace(w, enc=_flip(w.enc, 0)), INFO), id="enc-head"),
        pytest.param(
            lambda w: (dataclasses.replace(w, enc=_flip(w.enc, len(w.enc) - 1)), INFO),
            id="enc-tail",
        ),
        pytest.param(lambda w: (dataclasses.replace(w, enc=w.enc[:-1]), INFO), id="enc-short"),
        pytest.param(
            lambda w: (dataclasses.replace(w, wrapped_key=_flip(w.wrapped_key, 3)), INFO),
            id="wrapped-key",
        ),
        pytest.param(
            lambda w: (dataclasses.replace(w, wrapped_key=w.wrapped_key[:-1]), INFO),
            id="wrapped-key-short",
        ),
    ],
)
def test_a_wrap_does_not_open_otherwise(de_key: EncryptionPrivateKey, change: object) -> None:
    key, _ = seal_content(CONTENT, AAD)
    wrap = wrap_key(key, de_key.recipient("de"), INFO)
    assert callable(change)
    changed, info = change(wrap)
    with pytest.raises(SealError):
        unwrap_key(changed, de_key, info)
    assert unwrap_key(wrap, de_key, INFO) == key  # the unchanged wrap still opens


def test_a_wrap_to_a_key_of_another_suite_is_refused() -> None:
    hybrid, plain = (
        EncryptionPrivateKey.generate(Suite.HYBRID),
        EncryptionPrivateKey.generate(Suite.X25519),
    )
    key, _ = seal_content(CONTENT, AAD)
    claimed = RecipientKey("de", hybrid.key_id, Suite.X25519, hybrid.public_bytes())
    with pytest.raises(SealError):
        wrap_key(key, claimed, INFO)
    wrap = wrap_key(key, plain.recipient("de"), INFO)
    with pytest.raises(SealError):
        unwrap_key(dataclasses.replace(wrap, key_id=hybrid.key_id), hybrid, INFO)


def test_a_recipient_key_whose_id_does_not_name_it_is_refused(
    de_key: EncryptionPrivateKey, fr_key: EncryptionPrivateKey
) -> None:
    key, _ = seal_content(CONTENT, AAD)
    swapped = dataclasses.replace(de_key.recipient("de"), public_key=fr_key.public_bytes())
    with pytest.raises(SealError, match="not the key its id names"):
        wrap_key(key, swapped, INFO)


def test_key_file_round_trip(suite: Suite, de_key: EncryptionPrivateKey) -> None:
    data = de_key.to_bytes()
    assert data.startswith(b"-----BEGIN ECX ENCRYPTION PRIVATE KEY-----\n")
    loaded = EncryptionPrivateKey.from_bytes(data)
    assert (loaded.suite, loaded.key_id) == (suite, de_key.key_id)
    assert loaded.public_bytes() == de_key.public_bytes()
    # both parts of a hybrid key came back: a wrap made to the original opens with the copy
    key, _ = seal_content(CONTENT, AAD)
    assert unwrap_key(wrap_key(key, de_key.recipient("de"), INFO), loaded, INFO) == key


def test_key_ids(suite: Suite, de_key: EncryptionPrivateKey) -> None:
    public = de_key.public_bytes()
    assert len(public) == suite.public_key_bytes
    assert de_key.key_id == key_id_of(suite, public)
    assert len(de_key.key_id) == 64
    other = Suite.X25519 if suite is Suite.HYBRID else Suite.HYBRID
    assert key_id_of(other, public) != de_key.key_id
    assert de_key.key_id[:16] in repr(de_key)


def test_public_keys_of_the_hybrid_suite_hold_both_parts() -> None:
    key = EncryptionPrivateKey.generate(Suite.HYBRID)
    public = key.public_bytes()
    assert len(public) == 1184 + 32
    check_public_key(Suite.HYBRID, public)
    with pytest.raises(SealError, match="1216 bytes"):
        check_public_key(Suite.HYBRID, public[1184:])
    with pytest.raises(SealError, match="32 bytes"):
        check_public_key(Suite.X25519, public)


@pytest.mark.parametrize(
    ("suite_", "data"),
    [
        pytest.param(Suite.HYBRID, b"\xff" * 1216, id="mlkem-out-of-range"),
        pytest.param(Suite.HYBRID, b"", id="hybrid-empty"),
        pytest.param(Suite.X25519, bytes(32), id="x25519-zero-point"),
        pytest.param(Suite.X25519, b"\x01" + bytes(31), id="x25519-low-order"),
        pytest.param(Suite.X25519, bytes(31), id="x25519-short"),
    ],
)
def test_unusable_public_keys_are_refused(suite_: Suite, data: bytes) -> None:
    with pytest.raises(SealError):
        check_public_key(suite_, data)


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", id="pkcs8"),
        pytest.param(
            b"-----BEGIN ECX ENCRYPTION PRIVATE KEY-----\nWDQ0OAA=\n"
            b"-----END ECX ENCRYPTION PRIVATE KEY-----\n",
            id="unknown-suite",
        ),
        pytest.param(
            b"-----BEGIN ECX ENCRYPTION PRIVATE KEY-----\nWDI1NTE5AAEC\n"
            b"-----END ECX ENCRYPTION PRIVATE KEY-----\n",
            id="short-key",
        ),
        pytest.param(b"\xff\xfe", id="binary"),
    ],
)
def test_what_is_no_key_file_is_refused(data: bytes) -> None:
    with pytest.raises(SealError):
        EncryptionPrivateKey.from_bytes(data)


def test_a_hybrid_key_file_missing_a_part_is_refused(de_key: EncryptionPrivateKey) -> None:
    whole = EncryptionPrivateKey.generate(Suite.HYBRID).to_bytes()
    plain = EncryptionPrivateKey.generate(Suite.X25519).to_bytes()
    # an X25519 key's parts under the hybrid suite's name
    forged = plain.replace(b"WDI1NTE5", b"TUxLRU03NjhfWDI1NTE5")
    assert forged != plain
    with pytest.raises(SealError):
        EncryptionPrivateKey.from_bytes(forged)
    assert EncryptionPrivateKey.from_bytes(whole).suite is Suite.HYBRID


def test_unknown_suite_names_are_refused() -> None:
    assert Suite.named("MLKEM768_X25519") is Suite.HYBRID
    with pytest.raises(SealError, match="unknown encryption suite"):
        Suite.named("ENCRYPTION_SUITE_UNSPECIFIED")


def test_a_wrong_length_content_key_is_not_wrapped(de_key: EncryptionPrivateKey) -> None:
    with pytest.raises(SealError):
        wrap_key(b"short", de_key.recipient("de"), INFO)


def test_a_wrap_is_plain_data() -> None:
    wrap = KeyWrap("de", "ab" * 32, b"enc", b"key")
    assert dataclasses.asdict(wrap)["participant"] == "de"
    with pytest.raises(dataclasses.FrozenInstanceError):
        wrap.participant = "fr"  # type: ignore[misc]
