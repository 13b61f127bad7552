"""A participant's local identity: TLS credentials, signing key and encryption keys, from one
directory."""

from __future__ import annotations

import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ed25519
from cryptography.hazmat.primitives.serialization import load_pem_private_key, load_pem_public_key

from client.core.envelope import SigningKey
from client.core.sealing import EncryptionPrivateKey
from client.core.signers import SPIFFE_PREFIX
from client.errors import IdentityError
from client.keystore import load_encryption_keys


@dataclass(frozen=True)
class Identity:
    """The files in an identity directory (ca.pem, cert.pem, key.pem, signing-key.pem, and the
    encryption keys under encryption/: client.keystore)."""

    directory: Path
    ca_pem: bytes
    cert_pem: bytes
    key_pem: bytes
    signing_key: SigningKey | None
    participant: str
    log_key: ed25519.Ed25519PublicKey | None = None
    # The key to publish and be sealed to, and every key kept, by key id, to open what was
    # sealed to an older one.
    encryption_key: EncryptionPrivateKey | None = None
    encryption_keys: Mapping[str, EncryptionPrivateKey] = field(
        default_factory=lambda: MappingProxyType({})
    )

    @classmethod
    def load(cls, directory: Path) -> Identity:
        def read(name: str, *, required: bool = True) -> bytes:
            path = directory / name
            try:
                return path.read_bytes()
            except FileNotFoundError as e:
                if required:
                    raise IdentityError(f"identity {directory}: missing {name}") from e
                return b""
            except OSError as e:
                raise IdentityError(f"identity {directory}: cannot read {name}: {e}") from e

        signing_pem = read("signing-key.pem", required=False)
        signing_key: SigningKey | None = None
        if signing_pem:
            try:
                key = load_pem_private_key(signing_pem, password=None)
            except ValueError as e:
                raise IdentityError(f"identity {directory}: signing-key.pem is not a key") from e
            if not isinstance(key, SigningKey):
                raise IdentityError(
                    f"identity {directory}: signing key must be Ed25519 or ECDSA P-256"
                )
            signing_key = key
        participant = ""
        info = read("identity.toml", required=False)
        if info:
            try:
                participant = str(tomllib.loads(info.decode()).get("participant", ""))
            except (tomllib.TOMLDecodeError, UnicodeDecodeError) as e:
                raise IdentityError(f"identity {directory}: identity.toml: {e}") from e
        log_key = None
        log_pem = read("log-key.pub", required=False)
        if log_pem:
            try:
                loaded = load_pem_public_key(log_pem)
            except ValueError as e:
                raise IdentityError(f"identity {directory}: log-key.pub is not a public key") from e
            if not isinstance(loaded, ed25519.Ed25519PublicKey):
                raise IdentityError(f"identity {directory}: log-key.pub must be an Ed25519 key")
            log_key = loaded
        ca_pem, cert_pem, key_pem = read("ca.pem"), read("cert.pem"), read("key.pem")
        try:
            x509.load_pem_x509_certificate(ca_pem)
        except ValueError as e:
            raise IdentityError(f"identity {directory}: ca.pem is not a PEM certificate") from e
        try:
            x509.load_pem_x509_certificate(cert_pem)
        except ValueError as e:
            raise IdentityError(f"identity {directory}: cert.pem is not a PEM certificate") from e
        try:
            load_pem_private_key(key_pem, password=None)
        except (ValueError, TypeError) as e:
            raise IdentityError(f"identity {directory}: key.pem is not a usable private key") from e
        encryption_key, encryption_keys = load_encryption_keys(directory)
        return cls(
            encryption_key=encryption_key,
            encryption_keys=encryption_keys,
            log_key=log_key,
            directory=directory,
            ca_pem=ca_pem,
            cert_pem=cert_pem,
            key_pem=key_pem,
            signing_key=signing_key,
            participant=participant,
        )

    def require_log_key(self) -> ed25519.Ed25519PublicKey:
        if self.log_key is None:
            raise IdentityError(f"identity {self.directory}: no log-key.pub to verify checkpoints")
        return self.log_key

    def require_signing_key(self) -> SigningKey:
        if self.signing_key is None:
            raise IdentityError(f"identity {self.directory}: no signing-key.pem to sign with")
        return self.signing_key

    def certified_id(self) -> str:
        """The participant id cert.pem names (its SAN URI spiffe://ecx.eu/participant/<id>):
        who the hub takes this identity to be, whatever identity.toml says."""
        cert = x509.load_pem_x509_certificate(self.cert_pem)
        try:
            san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        except x509.ExtensionNotFound:
            san = x509.SubjectAlternativeName([])
        for uri in san.get_values_for_type(x509.UniformResourceIdentifier):
            if uri.startswith(SPIFFE_PREFIX):
                return uri[len(SPIFFE_PREFIX) :]
        raise IdentityError(f"identity {self.directory}: cert.pem names no ecx participant")

    def require_encryption_key(self) -> EncryptionPrivateKey:
        if self.encryption_key is None:
            raise IdentityError(
                f"identity {self.directory}: no current encryption key (encryption/current)"
            )
        return self.encryption_key

    def encryption_key_for(self, key_id: str) -> EncryptionPrivateKey:
        """The private key a notice was sealed to, current or older."""
        key = self.encryption_keys.get(key_id)
        if key is None:
            raise IdentityError(
                f"identity {self.directory}: no encryption key {key_id[:16]}… (sealed to a key"
                " this identity does not hold)"
            )
        return key
