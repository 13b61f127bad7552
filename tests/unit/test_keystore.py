"""An identity keeps every encryption key it had and knows which one is current; a directory
that says otherwise is refused rather than read as another identity."""

from __future__ import annotations

import shutil
import stat
from pathlib import Path

import pytest

from certs.devpki import DevPki, make_dev_pki
from client.core.sealing import EncryptionPrivateKey, Suite, seal_content, unwrap_key, wrap_key
from client.errors import IdentityError
from client.identity import Identity
from client.keystore import make_current, save_encryption_key


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return make_dev_pki(tmp_path_factory.mktemp("pki") / "dev")


@pytest.fixture
def de(pki: DevPki, tmp_path: Path) -> Path:
    return Path(shutil.copytree(pki.identity("de"), tmp_path / "de"))


def test_a_rotated_identity_keeps_its_old_key(de: Path) -> None:
    old = Identity.load(de).require_encryption_key()
    new = EncryptionPrivateKey.generate(Suite.X25519)
    path = save_encryption_key(de, new)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert Identity.load(de).require_encryption_key().key_id == old.key_id  # not yet current
    make_current(de, new.key_id)
    identity = Identity.load(de)
    assert identity.require_encryption_key().key_id == new.key_id
    assert set(identity.encryption_keys) == {old.key_id, new.key_id}
    # what was sealed to the old key still opens
    content_key, _ = seal_content(b"notice", b"aad")
    wrap = wrap_key(content_key, old.recipient("de"), b"info")
    assert unwrap_key(wrap, identity.encryption_key_for(old.key_id), b"info") == content_key


def test_saving_a_key_again_changes_nothing(de: Path) -> None:
    key = Identity.load(de).require_encryption_key()
    path = de / "encryption" / f"{key.key_id}.key"
    before = path.read_bytes()
    assert save_encryption_key(de, key) == path
    assert path.read_bytes() == before


def test_an_unknown_key_id_is_named(de: Path) -> None:
    with pytest.raises(IdentityError, match="no encryption key 0000000000000000"):
        Identity.load(de).encryption_key_for("00" * 32)


def test_a_key_file_under_another_keys_name_is_refused(de: Path) -> None:
    key = Identity.load(de).require_encryption_key()
    other = EncryptionPrivateKey.generate(Suite.HYBRID)
    (de / "encryption" / f"{key.key_id}.key").write_bytes(other.to_bytes())
    with pytest.raises(IdentityError, match="not the key its name says"):
        Identity.load(de)


def test_a_pointer_to_a_missing_key_is_refused(de: Path) -> None:
    (de / "encryption" / "current").write_text("ab" * 32 + "\n")
    with pytest.raises(IdentityError, match="not in the directory"):
        Identity.load(de)
    with pytest.raises(IdentityError, match="no key abab"):
        make_current(de, "ab" * 32)


def test_a_damaged_key_file_is_refused(de: Path) -> None:
    key = Identity.load(de).require_encryption_key()
    (de / "encryption" / f"{key.key_id}.key").write_bytes(b"not a key")
    with pytest.raises(IdentityError, match="not an ecx encryption key file"):
        Identity.load(de)


def test_an_identity_without_keys_cannot_be_sealed_to(de: Path) -> None:
    shutil.rmtree(de / "encryption")
    identity = Identity.load(de)
    assert identity.encryption_key is None
    with pytest.raises(IdentityError, match="no current encryption key"):
        identity.require_encryption_key()
