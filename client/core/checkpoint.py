"""Signed checkpoints of the exchange log.

The body is a C2SP checkpoint (c2sp.org/tlog-checkpoint): origin, tree size and base64 root hash,
one per line. It is signed as a C2SP signed note (c2sp.org/signed-note) with an Ed25519 key: after
a blank line, each signature line is "— <key name> <base64(key hash[4] || signature)>".
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from client.errors import VerificationError

DEFAULT_ORIGIN = "ecx.eu/exchange-log"
_DASH = "\u2014 "
_ED25519 = b"\x01"


class CheckpointError(VerificationError):
    """A checkpoint or its signature does not verify."""


@dataclass(frozen=True)
class Checkpoint:
    origin: str
    size: int
    root: bytes

    def body(self) -> str:
        """The checkpoint text that is signed."""
        return f"{self.origin}\n{self.size}\n{base64.b64encode(self.root).decode()}\n"

    @classmethod
    def parse(cls, body: str) -> Checkpoint:
        lines = body.split("\n")
        if len(lines) < 4 or lines[-1] != "":
            raise CheckpointError("malformed checkpoint: needs origin, size and root lines")
        origin, size_text, root_text = lines[0], lines[1], lines[2]
        if not origin or not size_text.isdigit() or (size_text != "0" and size_text[0] == "0"):
            raise CheckpointError("malformed checkpoint: bad origin or size")
        try:
            root = base64.b64decode(root_text, validate=True)
        except binascii.Error as e:
            raise CheckpointError("malformed checkpoint: root is not base64") from e
        if len(root) != 32:
            raise CheckpointError("malformed checkpoint: root must be 32 bytes")
        return cls(origin, int(size_text), root)


def _raw(public_key: ed25519.Ed25519PublicKey) -> bytes:
    return public_key.public_bytes(Encoding.Raw, PublicFormat.Raw)


def key_hash(name: str, public_key: ed25519.Ed25519PublicKey) -> bytes:
    """The 4-byte key id of a signed-note Ed25519 key."""
    return hashlib.sha256(name.encode() + b"\n" + _ED25519 + _raw(public_key)).digest()[:4]


def verifier_key(name: str, public_key: ed25519.Ed25519PublicKey) -> str:
    """The note verifier key string: <name>+<hex key hash>+<base64(0x01 || key)>."""
    encoded = base64.b64encode(_ED25519 + _raw(public_key)).decode()
    return f"{name}+{key_hash(name, public_key).hex()}+{encoded}"


def sign_checkpoint(checkpoint: Checkpoint, name: str, key: ed25519.Ed25519PrivateKey) -> str:
    """The signed note for a checkpoint."""
    body = checkpoint.body()
    signature = key.sign(body.encode())
    blob = base64.b64encode(key_hash(name, key.public_key()) + signature).decode()
    return f"{body}\n{_DASH}{name} {blob}\n"


def verify_checkpoint(
    note: str, name: str, public_key: ed25519.Ed25519PublicKey, *, origin: str | None = None
) -> Checkpoint:
    """The checkpoint in a signed note, if `name`'s key signed it; else CheckpointError."""
    split = note.rfind("\n\n")
    if split < 0 or not note.endswith("\n"):
        raise CheckpointError("malformed signed note: no signature block")
    body, block = note[: split + 1], note[split + 2 :]
    expected = key_hash(name, public_key)
    for line in block.splitlines():
        if not line.startswith(_DASH):
            raise CheckpointError("malformed signed note: bad signature line")
        signer, _, blob = line[len(_DASH) :].partition(" ")
        if signer != name:
            continue
        try:
            raw = base64.b64decode(blob, validate=True)
        except binascii.Error as e:
            raise CheckpointError("malformed signed note: signature is not base64") from e
        if len(raw) != 4 + 64 or raw[:4] != expected:
            continue
        try:
            public_key.verify(raw[4:], body.encode())
        except InvalidSignature as e:
            raise CheckpointError("checkpoint signature does not verify") from e
        checkpoint = Checkpoint.parse(body)
        if origin is not None and checkpoint.origin != origin:
            raise CheckpointError(f"checkpoint is for {checkpoint.origin}, not {origin}")
        return checkpoint
    raise CheckpointError(f"checkpoint carries no signature by {name}")
