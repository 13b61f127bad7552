"""A participant's private encryption keys in its identity directory: every key it ever had is
kept (notices sealed to an older key must still open), and one of them is current.

Layout: `encryption/<key id>.key` per key (owner-only, 0600) and `encryption/current` holding
the key id of the one to publish and to be sealed to.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from client.core.sealing import EncryptionPrivateKey, SealError
from client.errors import IdentityError

ENCRYPTION_DIR = "encryption"
CURRENT = "current"
_KEY_FILE = re.compile(r"([0-9a-f]{64})\.key")


def load_encryption_keys(
    directory: Path,
) -> tuple[EncryptionPrivateKey | None, Mapping[str, EncryptionPrivateKey]]:
    """(current key, every key by key id) of an identity directory; (None, {}) if it has none.
    A key file whose name is not its key's id, or a pointer to a key that is not there, makes
    the identity unusable rather than silently another."""
    folder = directory / ENCRYPTION_DIR
    if not folder.is_dir():
        return None, MappingProxyType({})
    keys: dict[str, EncryptionPrivateKey] = {}
    try:
        names = sorted(p.name for p in folder.iterdir())
    except OSError as e:
        raise IdentityError(f"identity {directory}: cannot list {ENCRYPTION_DIR}/: {e}") from e
    for name in names:
        match = _KEY_FILE.fullmatch(name)
        if match is None:
            continue
        where = f"identity {directory}: {ENCRYPTION_DIR}/{name}"
        try:
            key = EncryptionPrivateKey.from_bytes((folder / name).read_bytes())
        except OSError as e:
            raise IdentityError(f"{where}: cannot read: {e}") from e
        except SealError as e:
            raise IdentityError(f"{where}: {e}") from e
        if key.key_id != match.group(1):
            raise IdentityError(f"{where}: holds key {key.key_id}, not the key its name says")
        keys[key.key_id] = key
    current = None
    try:
        pointer = (folder / CURRENT).read_text(encoding="ascii").strip()
    except FileNotFoundError:
        pointer = ""
    except (OSError, UnicodeDecodeError) as e:
        raise IdentityError(f"identity {directory}: cannot read {ENCRYPTION_DIR}/{CURRENT}") from e
    if pointer:
        current = keys.get(pointer)
        if current is None:
            raise IdentityError(
                f"identity {directory}: {ENCRYPTION_DIR}/{CURRENT} names key {pointer[:16]}…,"
                " which is not in the directory"
            )
    return current, MappingProxyType(keys)


def save_encryption_key(directory: Path, key: EncryptionPrivateKey) -> Path:
    """Write a key beside the others, readable by its owner only from the first byte on; an
    existing file of the same key is left as it is."""
    folder = directory / ENCRYPTION_DIR
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    path = folder / f"{key.key_id}.key"
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return path
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(key.to_bytes())
        fh.flush()
        os.fsync(fh.fileno())
    return path


def make_current(directory: Path, key_id: str) -> None:
    """Point `current` at a saved key, replacing the pointer in one step."""
    folder = directory / ENCRYPTION_DIR
    if not (folder / f"{key_id}.key").is_file():
        raise IdentityError(f"identity {directory}: no key {key_id[:16]}… to make current")
    staged = folder / f".{CURRENT}.{os.getpid()}"
    staged.write_text(key_id + "\n", encoding="ascii")
    os.replace(staged, folder / CURRENT)
