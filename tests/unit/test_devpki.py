"""The development PKI must give the hub exactly the trust relations the tests rely on."""

from __future__ import annotations

import stat
import tomllib
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from certs.devpki import (
    PARTICIPANTS,
    RECEIVERS,
    DevPki,
    ensure_dev_pki,
    is_current,
    issue_identity,
    main,
    make_dev_pki,
)
from client.core.sealing import Suite
from client.identity import Identity

TRUSTED = [p for p in PARTICIPANTS if p != "rogue"]
VALID = [p for p in TRUSTED if p != "expired"]


def load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def signed_by(cert: x509.Certificate, ca: x509.Certificate) -> bool:
    """Check the signature itself, not just the issuer name."""
    public = ca.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert cert.signature_hash_algorithm is not None
    try:
        public.verify(
            cert.signature,
            cert.tbs_certificate_bytes,
            ec.ECDSA(cert.signature_hash_algorithm),
        )
    except InvalidSignature:
        return False
    return True


def spiffe_uris(cert: x509.Certificate) -> list[str]:
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.UniformResourceIdentifier)


def ekus(cert: x509.Certificate) -> list[x509.ObjectIdentifier]:
    try:
        return list(cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value)
    except x509.ExtensionNotFound:
        return []


def snapshot(root: Path) -> dict[str, tuple[int, bytes]]:
    return {
        str(p.relative_to(root)): (p.stat().st_mtime_ns, p.read_bytes())
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> DevPki:
    return make_dev_pki(tmp_path_factory.mktemp("pki") / "dev")


@pytest.fixture(scope="module")
def ca(pki: DevPki) -> x509.Certificate:
    return load_cert(pki.ca_cert)


def test_ca_is_a_p256_signing_ca(ca: x509.Certificate) -> None:
    assert ca.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_cert_sign
    assert usage.crl_sign
    public = ca.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert isinstance(public.curve, ec.SECP256R1)
    assert ca.not_valid_after_utc - ca.not_valid_before_utc > timedelta(days=3600)


@pytest.mark.parametrize("name", TRUSTED)
def test_participant_tls_cert_chains_and_names_participant(
    pki: DevPki, ca: x509.Certificate, name: str
) -> None:
    cert = load_cert(pki.identity(name) / "cert.pem")
    assert signed_by(cert, ca)
    assert spiffe_uris(cert) == [f"spiffe://ecx.eu/participant/{name}"]
    assert ekus(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert cert.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert (pki.identity(name) / "ca.pem").read_bytes() == pki.ca_cert.read_bytes()
    identity = tomllib.loads((pki.identity(name) / "identity.toml").read_text("utf-8"))
    assert identity == {"participant": name, "server": "127.0.0.1:50051"}


@pytest.mark.parametrize("name", TRUSTED)
def test_signing_cert_is_for_content_commitment_only(
    pki: DevPki, ca: x509.Certificate, name: str
) -> None:
    cert = load_cert(pki.identity(name) / "signing-cert.pem")
    assert signed_by(cert, ca)
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.content_commitment
    assert usage.digital_signature
    assert ExtendedKeyUsageOID.CLIENT_AUTH not in ekus(cert)
    assert spiffe_uris(cert) == [f"spiffe://ecx.eu/participant/{name}"]


def test_hub_cert_serves_localhost(pki: DevPki, ca: x509.Certificate) -> None:
    cert = load_cert(pki.hub_dir / "cert.pem")
    assert signed_by(cert, ca)
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "localhost" in san.get_values_for_type(x509.DNSName)
    assert ip_address("127.0.0.1") in san.get_values_for_type(x509.IPAddress)
    assert ip_address("::1") in san.get_values_for_type(x509.IPAddress)
    assert ekus(cert) == [ExtendedKeyUsageOID.SERVER_AUTH]
    assert (pki.hub_dir / "ca.pem").read_bytes() == pki.ca_cert.read_bytes()


def test_crl_revokes_exactly_the_revoked_identity(pki: DevPki, ca: x509.Certificate) -> None:
    crl = x509.load_pem_x509_crl(pki.crl.read_bytes())
    public = ca.public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    assert crl.is_signature_valid(public)
    revoked = {r.serial_number for r in crl}
    tls = load_cert(pki.identity("revoked") / "cert.pem")
    signing = load_cert(pki.identity("revoked") / "signing-cert.pem")
    assert revoked == {tls.serial_number, signing.serial_number}
    assert load_cert(pki.identity("nl") / "cert.pem").serial_number not in revoked
    assert crl.next_update_utc is not None
    assert crl.next_update_utc > datetime.now(UTC) + timedelta(days=300)


def test_only_the_expired_identity_is_expired(pki: DevPki) -> None:
    now = datetime.now(UTC)
    expired = load_cert(pki.identity("expired") / "cert.pem")
    assert expired.not_valid_after_utc < now
    assert expired.not_valid_before_utc < now - timedelta(days=29)
    for name in PARTICIPANTS:
        if name == "expired":
            continue
        cert = load_cert(pki.identity(name) / "cert.pem")
        assert cert.not_valid_before_utc <= now < cert.not_valid_after_utc, name


def test_rogue_impersonates_nl_under_a_foreign_ca(pki: DevPki, ca: x509.Certificate) -> None:
    rogue_dir = pki.identity("rogue")
    rogue_ca = load_cert(rogue_dir / "rogue-ca.pem")
    for file in ("cert.pem", "signing-cert.pem"):
        cert = load_cert(rogue_dir / file)
        assert not signed_by(cert, ca)
        assert signed_by(cert, rogue_ca)
        assert spiffe_uris(cert) == ["spiffe://ecx.eu/participant/nl"]
    assert (rogue_dir / "ca.pem").read_bytes() == pki.ca_cert.read_bytes()


def test_private_keys_are_owner_only(pki: DevPki) -> None:
    keys = [pki.ca_key, pki.hub_dir / "key.pem", pki.hub_dir / "log-key.pem"]
    for name in PARTICIPANTS:
        keys += [pki.identity(name) / "key.pem", pki.identity(name) / "signing-key.pem"]
    for key in keys:
        assert stat.S_IMODE(key.stat().st_mode) == 0o600, key


def test_encryption_keys_are_owner_only(pki: DevPki) -> None:
    for name in RECEIVERS:
        folder = pki.identity(name) / "encryption"
        assert stat.S_IMODE(folder.stat().st_mode) == 0o700, folder
        keys = list(folder.glob("*.key"))
        assert len(keys) == 1
        assert stat.S_IMODE(keys[0].stat().st_mode) == 0o600, keys[0]


@pytest.mark.parametrize("name", PARTICIPANTS)
def test_who_may_receive_notices_holds_a_hybrid_encryption_key(pki: DevPki, name: str) -> None:
    identity = Identity.load(pki.identity(name))
    if name not in RECEIVERS:
        assert identity.encryption_key is None
        assert not (pki.identity(name) / "encryption").exists()
        return
    key = identity.require_encryption_key()
    assert key.suite is Suite.HYBRID
    assert dict(identity.encryption_keys) == {key.key_id: key}
    assert (pki.identity(name) / "encryption" / "current").read_text().strip() == key.key_id


def test_receivers_are_the_authorities_and_the_commission(pki: DevPki) -> None:
    registry = tomllib.loads(pki.registry.read_text("utf-8"))
    receiving = {
        p["id"] for p in registry["participant"] if {"authority", "commission"} & set(p["roles"])
    }
    assert receiving == set(RECEIVERS)


def test_a_participant_may_hold_an_x25519_key_instead(tmp_path: Path) -> None:
    out = tmp_path / "dev"
    assert main(["--out", str(out), "--x25519", "it", "--x25519", "commission"]) == 0
    suites = {name: Identity.load(out / name).require_encryption_key().suite for name in RECEIVERS}
    assert suites == {
        name: Suite.X25519 if name in ("it", "commission") else Suite.HYBRID for name in RECEIVERS
    }


def test_registry_lists_participants_and_their_signing_certs(pki: DevPki) -> None:
    registry = tomllib.loads(pki.registry.read_text("utf-8"))
    entries = {p["id"]: p for p in registry["participant"]}
    assert set(entries) == set(TRUSTED)
    for state in ("nl", "de", "fr", "es", "it"):
        assert entries[state]["member_state"] == state.upper()
        assert entries[state]["roles"] == ["authority"]
    assert "member_state" not in entries["commission"]
    assert entries["commission"]["roles"] == ["commission"]
    assert entries["auditor"]["roles"] == ["auditor"]
    assert entries["operator"]["roles"] == ["operator"]
    assert entries["revoked"]["status"] == "active"
    for entry in entries.values():
        path = pki.registry.parent / entry["signing_certificate"]
        assert path.is_file()
        assert load_cert(path).subject == load_cert(pki.identity(entry["id"]) / "cert.pem").subject


def test_hub_config_points_at_existing_files(pki: DevPki) -> None:
    config = tomllib.loads(pki.hub_config.read_text("utf-8"))
    base = pki.hub_config.parent
    for rel in (
        config["tls"]["cert"],
        config["tls"]["key"],
        config["tls"]["client_ca"],
        config["tls"]["crl"],
        config["registry"]["file"],
        config["log"]["signing_key"],
    ):
        assert (base / rel).is_file(), rel
    assert config["server"]["listen"] == "127.0.0.1:50051"
    assert config["store"]["path"] == "var/ecx.db"
    assert config["limits"]["max_message_bytes"] == 1048576


def test_ensure_is_idempotent(tmp_path: Path) -> None:
    out = tmp_path / "dev"
    ensure_dev_pki(out)
    before = snapshot(out)
    ensure_dev_pki(out)
    assert snapshot(out) == before
    assert [p.name for p in tmp_path.iterdir()] == ["dev"]  # no temp dirs left behind


def test_ensure_regenerates_expiring_or_incomplete_pki(tmp_path: Path) -> None:
    out = tmp_path / "dev"
    # Backdated so that the hub certificate has only ten days left.
    make_dev_pki(out, now=datetime.now(UTC) - timedelta(days=720))
    assert not is_current(out)
    old_ca = out.joinpath("ca.pem").read_bytes()
    ensure_dev_pki(out)
    assert is_current(out)
    assert out.joinpath("ca.pem").read_bytes() != old_ca

    (out / "de" / "key.pem").unlink()
    assert not is_current(out)
    ensure_dev_pki(out)
    assert (out / "de" / "key.pem").is_file()

    # a PKI from before encryption keys
    (out / "fr" / "encryption" / "current").unlink()
    assert not is_current(out)
    ensure_dev_pki(out)
    assert Identity.load(out / "fr").encryption_key is not None


def test_main_skips_present_pki_unless_forced(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "dev"
    assert main(["--out", str(out)]) == 0
    assert "development PKI written" in capsys.readouterr().out
    ca = out.joinpath("ca.pem").read_bytes()
    assert main(["--out", str(out)]) == 0
    assert capsys.readouterr().out.strip() == f"development PKI present in {out}"
    assert out.joinpath("ca.pem").read_bytes() == ca
    assert main(["--out", str(out), "--force"]) == 0
    assert out.joinpath("ca.pem").read_bytes() != ca


def test_issue_identity_chains_to_network_ca(
    pki: DevPki, ca: x509.Certificate, tmp_path: Path
) -> None:
    dest = issue_identity(pki.root, "stranger", out=tmp_path / "stranger")
    cert = load_cert(dest / "cert.pem")
    assert signed_by(cert, ca)
    assert signed_by(load_cert(dest / "signing-cert.pem"), ca)
    assert spiffe_uris(cert) == ["spiffe://ecx.eu/participant/stranger"]
    assert ekus(cert) == [ExtendedKeyUsageOID.CLIENT_AUTH]
    assert stat.S_IMODE((dest / "key.pem").stat().st_mode) == 0o600
    assert (dest / "ca.pem").read_bytes() == pki.ca_cert.read_bytes()
    assert Identity.load(dest).require_encryption_key().suite is Suite.HYBRID
    plain = issue_identity(pki.root, "plain", out=tmp_path / "plain", encryption=Suite.X25519)
    assert Identity.load(plain).require_encryption_key().suite is Suite.X25519
    bare = issue_identity(pki.root, "bare", out=tmp_path / "bare", encryption=None)
    assert Identity.load(bare).encryption_key is None


def test_issue_identity_can_claim_another_id_and_be_expired(
    pki: DevPki, ca: x509.Certificate, tmp_path: Path
) -> None:
    dest = issue_identity(
        pki.root, "late", participant_id="de", out=tmp_path / "late", expired=True
    )
    cert = load_cert(dest / "cert.pem")
    assert signed_by(cert, ca)
    assert spiffe_uris(cert) == ["spiffe://ecx.eu/participant/de"]
    assert cert.not_valid_after_utc < datetime.now(UTC)


def test_signature_check_rejects_tampered_certificate(ca: x509.Certificate) -> None:
    """Guard against `signed_by` silently accepting anything."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    forged = (
        x509.CertificateBuilder()
        .subject_name(ca.subject)
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    assert not signed_by(forged, ca)
