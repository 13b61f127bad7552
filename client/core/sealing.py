"""Sealing for sensitive notices: content under a fresh AES-256-GCM key, that key wrapped to each
recipient with HPKE (RFC 9180, single-shot base mode).

Two suites, both with HKDF-SHA256 and AES-256-GCM: the hybrid post-quantum KEM ML-KEM-768 +
X25519 (draft-ietf-hpke-pq, "MLKEM768-X25519"), so that content recorded today stays sealed
against a future quantum computer as long as ML-KEM holds, and classical security as long as
X25519 holds; and plain DHKEM(X25519) (RFC 9180 §7.1), which a participant may choose instead.
Every failure is a SealError: a caller never sees the cryptography library's own exceptions.
"""

from __future__ import annotations

import base64
import binascii
import enum
import functools
import hashlib
import os
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

CONTENT_KEY_BYTES = 32
NONCE_BYTES = 12
TAG_BYTES = 16
_X25519_BYTES = 32
_MLKEM768_PUBLIC_BYTES = 1184
_MLKEM768_SEED_BYTES = 64
_PEM_LABEL = "ECX ENCRYPTION PRIVATE KEY"


class SealError(Exception):
    """Content or a key wrap cannot be sealed or opened; str() says why, never with key bytes."""


class Suite(enum.Enum):
    """An HPKE suite a participant's encryption key belongs to; values are the names of the
    EncryptionSuite proto enum."""

    HYBRID = "MLKEM768_X25519"
    X25519 = "X25519"

    @classmethod
    def named(cls, name: str) -> Suite:
        """The suite of a proto enum name; SealError for any other."""
        try:
            return cls(name)
        except ValueError:
            raise SealError(f"unknown encryption suite {name!r}") from None

    @property
    def public_key_bytes(self) -> int:
        """Length of a public key of this suite: ML-KEM-768's, then X25519's, for the hybrid."""
        if self is Suite.HYBRID:
            return _MLKEM768_PUBLIC_BYTES + _X25519_BYTES
        return _X25519_BYTES

    def _hpke(self) -> hpke.Suite:
        kem = hpke.KEM.MLKEM768_X25519 if self is Suite.HYBRID else hpke.KEM.X25519
        return hpke.Suite(kem, hpke.KDF.HKDF_SHA256, hpke.AEAD.AES_256_GCM)

    def _enc_bytes(self) -> int:
        kem = hpke.KEM.MLKEM768_X25519 if self is Suite.HYBRID else hpke.KEM.X25519
        return kem.enc_length()


_HPKE = {suite: suite._hpke() for suite in Suite}
_ENC_BYTES = {suite: suite._enc_bytes() for suite in Suite}

_PublicKey = hpke.MLKEM768X25519PublicKey | x25519.X25519PublicKey
_PrivateKey = hpke.MLKEM768X25519PrivateKey | x25519.X25519PrivateKey


def key_id_of(suite: Suite, public_key: bytes) -> str:
    """Names an encryption key by what it is: hex SHA-256 over the suite name, a NUL and the
    public key bytes, so no label can make one key pass for another."""
    return hashlib.sha256(suite.value.encode() + b"\0" + public_key).hexdigest()


@functools.lru_cache(maxsize=1024)
def _public_key(suite: Suite, data: bytes) -> _PublicKey:
    """A public key parsed once: for ML-KEM-768 the parse (its modulus check) costs about what
    an encapsulation does, and a sender seals to the same few dozen keys again and again."""
    if len(data) != suite.public_key_bytes:
        raise SealError(
            f"a {suite.value} public key is {suite.public_key_bytes} bytes, not {len(data)}"
        )
    try:
        if suite is Suite.HYBRID:
            return hpke.MLKEM768X25519PublicKey(
                mlkem.MLKEM768PublicKey.from_public_bytes(data[:_MLKEM768_PUBLIC_BYTES]),
                x25519.X25519PublicKey.from_public_bytes(data[_MLKEM768_PUBLIC_BYTES:]),
            )
        return x25519.X25519PublicKey.from_public_bytes(data)
    except (ValueError, UnsupportedAlgorithm) as e:
        raise SealError(f"not a valid {suite.value} public key") from e


def check_public_key(suite: Suite, data: bytes, *, trial: bool = True) -> None:
    """Refuse bytes no one could seal to: the wrong length, an ML-KEM key that fails its
    modulus check (FIPS 203 §7.2) and, with `trial`, an X25519 point of low order (no shared
    secret), found by one trial encapsulation, which costs what one wrap does."""
    key = _public_key(suite, data)
    if not trial:
        return
    try:
        _HPKE[suite].encrypt(b"", key, info=b"ecx key check")
    except (ValueError, TypeError) as e:
        raise SealError(f"not a usable {suite.value} public key") from e


@dataclass(frozen=True)
class RecipientKey:
    """A recipient's published public key, as the sender seals to it."""

    participant: str
    key_id: str
    suite: Suite
    public_key: bytes


@functools.lru_cache(maxsize=1024)
def _sealable(recipient: RecipientKey) -> _PublicKey:
    """The recipient's parsed key, once its id is found to name it (also checked once)."""
    if recipient.key_id != key_id_of(recipient.suite, recipient.public_key):
        raise SealError(f"the key of {recipient.participant} is not the key its id names")
    return _public_key(recipient.suite, recipient.public_key)


class EncryptionPrivateKey:
    """A participant's private encryption key: its suite, its key id, and the private key
    (for the hybrid suite, its ML-KEM-768 and X25519 parts, both kept to be written out)."""

    __slots__ = ("_mlkem", "_x25519", "key_id", "private_key", "suite")

    def __init__(
        self,
        suite: Suite,
        x25519_key: x25519.X25519PrivateKey,
        mlkem_key: mlkem.MLKEM768PrivateKey | None = None,
    ) -> None:
        self.suite = suite
        self._x25519 = x25519_key
        self._mlkem: mlkem.MLKEM768PrivateKey | None = None
        self.private_key: _PrivateKey
        if suite is Suite.HYBRID:
            if mlkem_key is None:
                raise SealError("a hybrid key needs an ML-KEM-768 private key")
            self._mlkem = mlkem_key
            self.private_key = hpke.MLKEM768X25519PrivateKey(mlkem_key, x25519_key)
        else:
            if mlkem_key is not None:
                raise SealError("an X25519 key has no ML-KEM part")
            self.private_key = x25519_key
        self.key_id = key_id_of(suite, self.public_bytes())

    @classmethod
    def generate(cls, suite: Suite = Suite.HYBRID) -> EncryptionPrivateKey:
        """A fresh key of the suite."""
        try:
            part = mlkem.MLKEM768PrivateKey.generate() if suite is Suite.HYBRID else None
        except UnsupportedAlgorithm as e:
            raise SealError("this OpenSSL build has no ML-KEM-768") from e
        return cls(suite, x25519.X25519PrivateKey.generate(), part)

    def public_bytes(self) -> bytes:
        """The public key as published: for the hybrid suite the ML-KEM-768 encapsulation key,
        then the X25519 public key (the order of draft-ietf-hpke-pq and X-Wing)."""
        tail = self._x25519.public_key().public_bytes_raw()
        if self._mlkem is None:
            return tail
        return self._mlkem.public_key().public_bytes_raw() + tail

    def recipient(self, participant: str) -> RecipientKey:
        """This key's public half, as a sender would seal to it."""
        return RecipientKey(participant, self.key_id, self.suite, self.public_bytes())

    def to_bytes(self) -> bytes:
        """The key file: PEM of the suite name, a NUL, then the raw private parts (the ML-KEM
        seed before the X25519 scalar). Unencrypted: the file must be the owner's alone."""
        raw = self._x25519.private_bytes_raw()
        if self._mlkem is not None:
            raw = self._mlkem.private_bytes_raw() + raw
        body = base64.encodebytes(self.suite.value.encode() + b"\0" + raw).decode("ascii")
        return f"-----BEGIN {_PEM_LABEL}-----\n{body}-----END {_PEM_LABEL}-----\n".encode()

    @classmethod
    def from_bytes(cls, data: bytes) -> EncryptionPrivateKey:
        """A key from its file (to_bytes); SealError if it is not one."""
        try:
            text = data.decode("ascii").strip()
        except UnicodeDecodeError:
            raise SealError("not an ecx encryption key file") from None
        begin, end = f"-----BEGIN {_PEM_LABEL}-----", f"-----END {_PEM_LABEL}-----"
        if not (text.startswith(begin) and text.endswith(end)):
            raise SealError("not an ecx encryption key file")
        try:
            raw = base64.b64decode(text[len(begin) : -len(end)], validate=False)
        except (binascii.Error, ValueError):
            raise SealError("the encryption key file is not valid base64") from None
        name, sep, parts = raw.partition(b"\0")
        if not sep:
            raise SealError("the encryption key file names no suite")
        suite = Suite.named(name.decode("ascii", "replace"))
        seed_bytes = _MLKEM768_SEED_BYTES if suite is Suite.HYBRID else 0
        if len(parts) != seed_bytes + _X25519_BYTES:
            raise SealError(f"the encryption key file holds no {suite.value} private key")
        try:
            scalar = x25519.X25519PrivateKey.from_private_bytes(parts[seed_bytes:])
            seed = None
            if seed_bytes:
                seed = mlkem.MLKEM768PrivateKey.from_seed_bytes(parts[:seed_bytes])
        except (ValueError, UnsupportedAlgorithm) as e:
            raise SealError(f"the encryption key file holds no {suite.value} private key") from e
        return cls(suite, scalar, seed)

    def __repr__(self) -> str:
        return f"EncryptionPrivateKey({self.suite.name}, key_id={self.key_id[:16]}…)"


def seal_content(plaintext: bytes, aad: bytes) -> tuple[bytes, bytes]:
    """Encrypt content under a fresh key: (content key, nonce ‖ AES-256-GCM ciphertext ‖ tag).
    A key is used for one content only, so a random 96-bit nonce never repeats under it."""
    key = AESGCM.generate_key(bit_length=CONTENT_KEY_BYTES * 8)
    nonce = os.urandom(NONCE_BYTES)
    return key, nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def open_content(content_key: bytes, ciphertext: bytes, aad: bytes) -> bytes:
    """The content sealed under content_key with this aad; SealError if anything differs."""
    if len(content_key) != CONTENT_KEY_BYTES:
        raise SealError(f"a content key is {CONTENT_KEY_BYTES} bytes, not {len(content_key)}")
    if len(ciphertext) < NONCE_BYTES + TAG_BYTES:
        raise SealError("sealed content is shorter than its nonce and tag")
    nonce, body = ciphertext[:NONCE_BYTES], ciphertext[NONCE_BYTES:]
    try:
        return AESGCM(content_key).decrypt(nonce, body, aad)
    except InvalidTag:
        raise SealError(
            "sealed content does not open: another key or associated data, or altered bytes"
        ) from None


@dataclass(frozen=True)
class KeyWrap:
    """A content key wrapped to one recipient key: the HPKE encapsulated key and the sealed
    content key."""

    participant: str
    key_id: str
    enc: bytes
    wrapped_key: bytes


def wrap_key(content_key: bytes, recipient: RecipientKey, info: bytes) -> KeyWrap:
    """Wrap a content key to one recipient with a fresh HPKE encapsulation, bound to info
    (RFC 9180 §8.1: the single-shot API's context goes in info)."""
    if len(content_key) != CONTENT_KEY_BYTES:
        raise SealError(f"a content key is {CONTENT_KEY_BYTES} bytes, not {len(content_key)}")
    public = _sealable(recipient)
    try:
        sealed = _HPKE[recipient.suite].encrypt(content_key, public, info=info)
    except (ValueError, TypeError) as e:
        raise SealError(f"cannot seal to the key of {recipient.participant}") from e
    n = _ENC_BYTES[recipient.suite]
    return KeyWrap(recipient.participant, recipient.key_id, sealed[:n], sealed[n:])


def unwrap_key(wrap: KeyWrap, private_key: EncryptionPrivateKey, info: bytes) -> bytes:
    """The content key of a wrap made to private_key with this info; SealError otherwise."""
    if wrap.key_id != private_key.key_id:
        raise SealError(
            f"the key is wrapped to key {wrap.key_id[:16]}…, not to {private_key.key_id[:16]}…"
        )
    suite = private_key.suite
    if len(wrap.enc) != _ENC_BYTES[suite]:
        raise SealError(f"a {suite.value} encapsulated key is {_ENC_BYTES[suite]} bytes")
    try:
        key = _HPKE[suite].decrypt(wrap.enc + wrap.wrapped_key, private_key.private_key, info=info)
    except (InvalidTag, ValueError, TypeError):
        raise SealError(
            "the key wrap does not open: another key or info, or altered bytes"
        ) from None
    if len(key) != CONTENT_KEY_BYTES:
        raise SealError("the key wrap holds no content key")
    return key
