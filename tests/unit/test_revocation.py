"""The hub's CRL: replaced while the hub runs, never replaced by something worse, and never
trusted past its next update."""

from __future__ import annotations

import datetime as dt
import logging
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.errors import ConfigError, RevocationUnknown
from server.revocation import RevocationList

NOW = dt.datetime(2026, 12, 2, 12, 0, tzinfo=dt.UTC)
NAME = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test network CA")])


@pytest.fixture
def ca() -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        x509.CertificateBuilder()
        .subject_name(NAME)
        .issuer_name(NAME)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def write_crl(
    path: Path,
    key: ec.EllipticCurvePrivateKey,
    serials: list[int],
    *,
    issued: dt.datetime,
    days: int = 30,
) -> None:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(NAME)
        .last_update(issued)
        .next_update(issued + dt.timedelta(days=days))
    )
    for serial in serials:
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(issued).build()
        )
    path.write_bytes(builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    _touch(path)


_MTIME = [1_800_000_000]


def _touch(path: Path) -> None:
    """A new modification time for each write, however fast the writes follow each other."""
    _MTIME[0] += 1
    os.utime(path, (_MTIME[0], _MTIME[0]))


@pytest.fixture
def crl_of(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey],
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[RevocationList, Path, ec.EllipticCurvePrivateKey]:
    monkeypatch.setattr(RevocationList, "RECHECK_SECONDS", 0.0)
    path = tmp_path / "crl.pem"
    write_crl(path, ca[1], [7], issued=NOW - dt.timedelta(days=1))
    return RevocationList(path, ca[0]), path, ca[1]


def test_a_replaced_crl_takes_effect(
    crl_of: tuple[RevocationList, Path, ec.EllipticCurvePrivateKey],
) -> None:
    crl, path, key = crl_of
    assert crl.is_revoked(7)
    assert not crl.is_revoked(8)
    write_crl(path, key, [7, 8], issued=NOW)
    crl.refresh()
    assert crl.is_revoked(8)


@pytest.mark.parametrize("replacement", ["garbage", "foreign-ca", "older"])
def test_a_bad_replacement_is_logged_and_the_crl_in_use_stays(
    crl_of: tuple[RevocationList, Path, ec.EllipticCurvePrivateKey],
    caplog: pytest.LogCaptureFixture,
    replacement: str,
) -> None:
    crl, path, key = crl_of
    if replacement == "garbage":
        path.write_bytes(b"-----BEGIN X509 CRL-----\nnot a crl\n-----END X509 CRL-----\n")
        _touch(path)
    elif replacement == "foreign-ca":
        write_crl(path, ec.generate_private_key(ec.SECP256R1()), [], issued=NOW)
    else:  # an older list put back, which would un-revoke 7
        write_crl(path, key, [], issued=NOW - dt.timedelta(days=10))
    with caplog.at_level(logging.ERROR):
        crl.refresh()
        crl.refresh()  # reported once per file, not at every recheck
    assert crl.is_revoked(7)
    assert len([r for r in caplog.records if "CRL not replaced" in r.getMessage()]) == 1
    assert all(r.exc_info is None for r in caplog.records)


def test_a_missing_file_keeps_the_crl_in_use(
    crl_of: tuple[RevocationList, Path, ec.EllipticCurvePrivateKey],
) -> None:
    crl, path, _ = crl_of
    path.unlink()
    crl.refresh()
    assert crl.is_revoked(7)


def test_a_crl_past_its_next_update_refuses_every_decision(
    crl_of: tuple[RevocationList, Path, ec.EllipticCurvePrivateKey],
) -> None:
    crl, path, key = crl_of
    crl.check_current(NOW)
    with pytest.raises(RevocationUnknown, match="out of date") as refused:
        crl.check_current(NOW + dt.timedelta(days=30))
    assert str(path) not in str(refused.value)  # the answer names no file of the hub
    write_crl(path, key, [7], issued=NOW + dt.timedelta(days=29))
    crl.refresh()
    crl.check_current(NOW + dt.timedelta(days=30))


def test_a_crl_that_cannot_be_read_at_start_stops_the_hub(
    ca: tuple[x509.Certificate, ec.EllipticCurvePrivateKey], tmp_path: Path
) -> None:
    with pytest.raises(ConfigError):
        RevocationList(tmp_path / "missing.pem", ca[0])
    (tmp_path / "bad.pem").write_text("nothing")
    with pytest.raises(ConfigError):
        RevocationList(tmp_path / "bad.pem", ca[0])
