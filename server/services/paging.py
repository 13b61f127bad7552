"""Page tokens and cursors: positions sealed for one reader, opaque to it, parsed strictly."""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from server.errors import InvalidArgument


@dataclass(frozen=True)
class TokenKind:
    """What a sealed position resumes, and the field and words that refuse one that is not."""

    name: str
    field: str
    refusal: str


_PAGE = "not a token from a previous page"
DENIAL_PAGE = TokenKind("denial-page", "page_token", _PAGE)
CONSULTATION_PAGE = TokenKind("consultation-page", "page_token", _PAGE)
LOG_PAGE = TokenKind("log-page", "page_token", _PAGE)
NOTICE_PAGE = TokenKind("notice-page", "page_token", _PAGE)
DENIAL_CHANGES = TokenKind("denial-changes", "cursor", "not a cursor from a previous response")

_MAX_POSITION = 2**63 - 1  # the largest SQLite row id
_NONCE = 12
_POSITION = 8
_TAG = 16
# Base64url without padding: 36 bytes are exactly 48 characters, so each token has one spelling.
_LENGTH = (_NONCE + _POSITION + _TAG) * 4 // 3
_TOKEN = re.compile(f"[A-Za-z0-9_-]{{{_LENGTH}}}")
_KEY_INFO = b"ecx position tokens v1"


class PositionTokens:
    """Positions in a listing (a row id, a sequence number) sealed into tokens that tell their
    reader nothing: ChaCha20-Poly1305 over the position, with the token's kind and the reader's
    participant id as associated data, so a token opens only for the reader and the listing it
    was issued for. The nonce is synthetic (HMAC-SHA256 of the associated data and the position,
    as in SIV, RFC 5297): the same reader at the same position gets the same token, which tells
    it nothing it does not know, and a nonce never repeats for different inputs."""

    def __init__(self, key: bytes) -> None:
        if len(key) != 64:
            raise ValueError("position token keys are 64 bytes")
        self._aead = ChaCha20Poly1305(key[:32])
        self._nonce_key = key[32:]

    @classmethod
    def from_log_key(cls, log_key: ed25519.Ed25519PrivateKey) -> PositionTokens:
        """Keys derived with HKDF-SHA256 (RFC 5869) from the hub's log signing key: every worker
        process and every restart of the hub has the same, so tokens outlive both, with no key
        of their own to configure. A new log key makes every earlier token unreadable."""
        secret = log_key.private_bytes(
            serialization.Encoding.Raw,
            serialization.PrivateFormat.Raw,
            serialization.NoEncryption(),
        )
        hkdf = HKDF(algorithm=hashes.SHA256(), length=64, salt=None, info=_KEY_INFO)
        return cls(hkdf.derive(secret))

    def seal(self, kind: TokenKind, reader: str, position: int) -> str:
        """The token that resumes `kind` for `reader` after `position`."""
        if not 0 <= position <= _MAX_POSITION:
            raise ValueError(f"position {position} is not a row id")
        plain = position.to_bytes(_POSITION, "big")
        aad = _associated(kind, reader)
        synthetic = hmac.digest(self._nonce_key, aad + plain, hashlib.sha256)
        # The first bit clear: a token never starts with "-", which a command line takes for
        # an option (nor with "_").
        nonce = bytes([synthetic[0] & 0x7F]) + synthetic[1:_NONCE]
        sealed = nonce + self._aead.encrypt(nonce, plain, aad)
        return base64.urlsafe_b64encode(sealed).decode("ascii")

    def open(self, kind: TokenKind, reader: str, token: str, *, first: int) -> int:
        """The position a token of `kind` resumes after, if it was sealed for `reader`; `first`
        when there is no token; INVALID_ARGUMENT for anything else."""
        if not token:
            return first
        if not _TOKEN.fullmatch(token):
            raise InvalidArgument.field(kind.field, kind.refusal)
        sealed = base64.urlsafe_b64decode(token)
        nonce, ciphertext = sealed[:_NONCE], sealed[_NONCE:]
        try:
            plain = self._aead.decrypt(nonce, ciphertext, _associated(kind, reader))
        except InvalidTag:
            raise InvalidArgument.field(kind.field, kind.refusal) from None
        position = int.from_bytes(plain, "big")
        if position > _MAX_POSITION:
            raise InvalidArgument.field(kind.field, kind.refusal)
        return position


def _associated(kind: TokenKind, reader: str) -> bytes:
    return b"ecx-position\0" + kind.name.encode() + b"\0" + reader.encode()
