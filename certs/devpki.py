"""Development PKI for a local ecx network.

``python -m certs.devpki [--out DIR] [--force]`` creates in one step everything a local hub
and its participants need to talk over mutual TLS: a network CA, a hub server certificate,
a CRL, one client identity per participant (including deliberately broken ones used to test
refusals) with, for those that may receive notices, an encryption key, the hub's participant
registry and the hub configuration.

This PKI is for development and tests only. The CA private key is stored next to the
certificates so that tests can issue further identities and CRLs; a real network keeps its CA
key offline and issues certificates through a proper registration process.
"""

from __future__ import annotations

import argparse
import ipaddress
import os
import secrets
import shutil
import sys
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from client.core.sealing import EncryptionPrivateKey, Suite
from client.keystore import make_current, save_encryption_key

DEFAULT_OUT = Path("certs/dev")
SERVER_ADDRESS = "127.0.0.1:50051"
SPIFFE_PREFIX = "spiffe://ecx.eu/participant/"
CA_NAME = "ecx development network CA"

# A PKI that expires within this margin is regenerated, so `make run` never starts a hub
# whose certificates are about to lapse.
MIN_REMAINING = timedelta(days=30)
CA_VALIDITY = timedelta(days=3652)
LEAF_VALIDITY = timedelta(days=730)
# The hub refuses every call once its CRL is past its next update; a development CRL lasts as
# long as the certificates it could revoke.
CRL_VALIDITY = LEAF_VALIDITY
# notBefore is backdated a little so that slightly skewed clocks accept fresh certificates.
BACKDATE = timedelta(minutes=5)

REGULAR = ("nl", "de", "fr", "es", "it", "commission", "auditor", "operator")
# Deliberately unusable identities, for testing that the hub refuses them.
SPECIAL = ("revoked", "expired", "rogue")
PARTICIPANTS = REGULAR + SPECIAL
# Who may receive sensitive notices, and so holds an encryption key: the authorities and the
# Commission (and the test identities registered as authorities). Auditors and operators never
# read content; `rogue` is nobody the hub knows.
RECEIVERS = ("nl", "de", "fr", "es", "it", "commission", "revoked", "expired")
ENCRYPTION_FILES = ("encryption/current",)
TLS_FILES = ("ca.pem", "cert.pem", "key.pem")
SIGNING_FILES = ("signing-cert.pem", "signing-key.pem")
IDENTITY_FILES = (*TLS_FILES, *SIGNING_FILES, "identity.toml", "log-key.pub")
HUB_FILES = ("cert.pem", "key.pem", "ca.pem", "log-key.pem", "log-key.pub")


@dataclass(frozen=True)
class _Entry:
    id: str
    member_state: str | None
    display_name: str
    roles: tuple[str, ...]


# Licensing authorities: id -> (member state, display name). `revoked` and `expired` are
# registered and active on purpose, so that only their certificates get them refused.
AUTHORITIES = {
    "nl": ("NL", "Netherlands — Ministry of Foreign Affairs, Central Import and Export Service"),
    "de": ("DE", "Germany — Federal Office for Economic Affairs and Export Control (BAFA)"),
    "fr": ("FR", "France — Dual-Use Goods Service (SBDU), Ministry of the Economy and Finance"),
    "es": ("ES", "Spain — Secretariat of State for Trade, Dual-Use Material (SGCOMEDDU)"),
    "it": ("IT", "Italy — Ministry of Foreign Affairs, Armament Authorisation Unit (UAMA)"),
    "revoked": ("PT", "Portugal — Tax and Customs Authority (test: certificate revoked)"),
    "expired": ("AT", "Austria — Federal Ministry of Economy, Export Control (test: expired)"),
}
# `rogue` is absent on purpose: it is an impostor that the hub must never know about.
REGISTRY = [_Entry(pid, ms, name, ("authority",)) for pid, (ms, name) in AUTHORITIES.items()] + [
    _Entry("commission", None, "European Commission — DG TRADE", ("commission",)),
    _Entry("auditor", None, "Exchange auditor", ("auditor",)),
    _Entry("operator", None, "Exchange operator", ("operator",)),
]

PrivateKey = ec.EllipticCurvePrivateKey | ed25519.Ed25519PrivateKey
PublicKey = ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey


@dataclass(frozen=True)
class DevPki:
    """Paths of a development PKI rooted at ``root``."""

    root: Path
    ca_cert: Path
    ca_key: Path
    crl: Path
    hub_dir: Path
    hub_config: Path
    registry: Path

    @classmethod
    def at(cls, root: Path) -> DevPki:
        return cls(
            root=root,
            ca_cert=root / "ca.pem",
            ca_key=root / "ca-key.pem",
            crl=root / "crl.pem",
            hub_dir=root / "hub",
            hub_config=root / "hub.toml",
            registry=root / "participants.toml",
        )

    def identity(self, name: str) -> Path:
        """Directory holding the client identity ``name``."""
        return self.root / name


@dataclass(frozen=True)
class _Issuer:
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _now() -> datetime:
    return datetime.now(UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "ecx development"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )


def _key_usage(*, sign: bool = False, commit: bool = False, ca: bool = False) -> x509.KeyUsage:
    # Positional order: digitalSignature, contentCommitment, keyEncipherment, dataEncipherment,
    # keyAgreement, keyCertSign, cRLSign, encipherOnly, decipherOnly.
    return x509.KeyUsage(sign, commit, False, False, False, ca, ca, False, False)


def _ca_certificate(key: ec.EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    """Self-signed CA; path length 0 because it only ever signs end-entity certificates."""
    public = key.public_key()
    return (
        x509.CertificateBuilder()
        .subject_name(_name(CA_NAME))
        .issuer_name(_name(CA_NAME))
        .public_key(public)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(ca=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public), critical=False)
        .sign(key, hashes.SHA256())
    )


def _issue(
    issuer: _Issuer,
    *,
    common_name: str,
    public_key: PublicKey,
    not_before: datetime,
    not_after: datetime,
    key_usage: x509.KeyUsage,
    eku: list[x509.ObjectIdentifier] | None,
    san: list[x509.GeneralName],
) -> x509.Certificate:
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(common_name))
        .issuer_name(issuer.cert.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_before)
        .not_valid_after(not_after)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(key_usage, critical=True)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer.key.public_key()),
            critical=False,
        )
    )
    if eku is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    return builder.sign(issuer.key, hashes.SHA256())


def _pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def _write_private_key(path: Path, key: PrivateKey) -> None:
    """Write a PKCS8 PEM key that is never readable by others, not even briefly."""
    data = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        os.fchmod(fh.fileno(), 0o600)
        fh.write(data)


def _toml_str(value: str) -> str:
    """Quote ``value`` as a TOML basic string."""
    out = []
    for ch in value:
        if ch in '"\\':
            out.append("\\" + ch)
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _write_identity(
    dest: Path,
    *,
    participant_id: str,
    issuer: _Issuer,
    network_ca_pem: bytes,
    now: datetime,
    expired: bool = False,
    encryption: Suite | None = None,
) -> list[int]:
    """Write a TLS client identity and a signing identity, and an encryption key of the suite
    given (made current); return both certificates' serial numbers."""
    dest.mkdir(parents=True, exist_ok=True)
    san: list[x509.GeneralName] = [x509.UniformResourceIdentifier(SPIFFE_PREFIX + participant_id)]
    if expired:
        not_before, not_after = now - timedelta(days=30), now - timedelta(days=1)
    else:
        not_before, not_after = now - BACKDATE, now + LEAF_VALIDITY

    tls_key = ec.generate_private_key(ec.SECP256R1())
    tls_cert = _issue(
        issuer,
        common_name=participant_id,
        public_key=tls_key.public_key(),
        not_before=not_before,
        not_after=not_after,
        key_usage=_key_usage(sign=True),
        eku=[ExtendedKeyUsageOID.CLIENT_AUTH],
        san=san,
    )
    # The signing certificate binds the key that signs notifications, not a TLS key, so it
    # carries contentCommitment (non-repudiation) and no clientAuth.
    signing_key = ed25519.Ed25519PrivateKey.generate()
    signing_cert = _issue(
        issuer,
        common_name=participant_id,
        public_key=signing_key.public_key(),
        not_before=now - BACKDATE,
        not_after=now + LEAF_VALIDITY,
        key_usage=_key_usage(sign=True, commit=True),
        eku=None,
        san=san,
    )
    (dest / "ca.pem").write_bytes(network_ca_pem)
    (dest / "cert.pem").write_bytes(_pem(tls_cert))
    _write_private_key(dest / "key.pem", tls_key)
    (dest / "signing-cert.pem").write_bytes(_pem(signing_cert))
    _write_private_key(dest / "signing-key.pem", signing_key)
    if encryption is not None:
        key = EncryptionPrivateKey.generate(encryption)
        save_encryption_key(dest, key)
        make_current(dest, key.key_id)
    log_pub = dest.parent / "hub" / "log-key.pub"
    if log_pub.exists():
        # The hub's log key, pinned by each participant to verify signed checkpoints.
        (dest / "log-key.pub").write_bytes(log_pub.read_bytes())
    (dest / "identity.toml").write_text(
        "# Informative: who this identity claims to be and where the local hub listens.\n"
        f"participant = {_toml_str(participant_id)}\n"
        f"server = {_toml_str(SERVER_ADDRESS)}\n",
        encoding="utf-8",
    )
    return [tls_cert.serial_number, signing_cert.serial_number]


def _write_hub(dest: Path, network: _Issuer, now: datetime) -> None:
    dest.mkdir()
    key = ec.generate_private_key(ec.SECP256R1())
    cert = _issue(
        network,
        common_name="ecx hub",
        public_key=key.public_key(),
        not_before=now - BACKDATE,
        not_after=now + LEAF_VALIDITY,
        key_usage=_key_usage(sign=True),
        eku=[ExtendedKeyUsageOID.SERVER_AUTH],
        san=[
            x509.DNSName("localhost"),
            x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
            x509.IPAddress(ipaddress.ip_address("::1")),
        ],
    )
    (dest / "cert.pem").write_bytes(_pem(cert))
    _write_private_key(dest / "key.pem", key)
    (dest / "ca.pem").write_bytes(_pem(network.cert))
    log_key = ed25519.Ed25519PrivateKey.generate()
    _write_private_key(dest / "log-key.pem", log_key)
    (dest / "log-key.pub").write_bytes(
        log_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )


def _write_crl(path: Path, network: _Issuer, serials: list[int], now: datetime) -> None:
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(network.cert.subject)
        .last_update(now - BACKDATE)
        .next_update(now + CRL_VALIDITY)
        .add_extension(x509.CRLNumber(1), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(network.key.public_key()),
            critical=False,
        )
    )
    for serial in serials:
        revoked = (
            x509.RevokedCertificateBuilder()
            .serial_number(serial)
            .revocation_date(now - BACKDATE)
            .add_extension(x509.CRLReason(x509.ReasonFlags.key_compromise), critical=False)
            .build()
        )
        builder = builder.add_revoked_certificate(revoked)
    crl = builder.sign(network.key, hashes.SHA256())
    path.write_bytes(crl.public_bytes(serialization.Encoding.PEM))


def _write_registry(path: Path) -> None:
    lines = ["# Participant registry of the hub; paths are relative to this file.", ""]
    for entry in REGISTRY:
        lines.append("[[participant]]")
        lines.append(f"id = {_toml_str(entry.id)}")
        if entry.member_state is not None:
            lines.append(f"member_state = {_toml_str(entry.member_state)}")
        lines.append(f"display_name = {_toml_str(entry.display_name)}")
        lines.append(f"roles = [{', '.join(_toml_str(r) for r in entry.roles)}]")
        lines.append('status = "active"')
        lines.append(f"signing_certificate = {_toml_str(entry.id + '/signing-cert.pem')}")
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def _write_hub_config(path: Path) -> None:
    path.write_text(
        f"""\
# Hub configuration; paths are relative to this file except [store].path.
[server]
listen = {_toml_str(SERVER_ADDRESS)}
# Hub processes serving this port and sharing the store; more than 1 uses more cores.
# workers = 1

[tls]
cert = "hub/cert.pem"
key = "hub/key.pem"
client_ca = "ca.pem"
crl = "crl.pem"

[registry]
file = "participants.toml"

[log]
signing_key = "hub/log-key.pem"

[store]
# Relative to the current working directory when the hub starts.
path = "var/ecx.db"

[limits]
max_message_bytes = 1048576
max_connection_age_seconds = 3600
""",
        encoding="utf-8",
    )


def _generate(root: Path, now: datetime, x25519: frozenset[str]) -> None:
    network_key = ec.generate_private_key(ec.SECP256R1())
    network = _Issuer(_ca_certificate(network_key, now), network_key)
    network_pem = _pem(network.cert)
    (root / "ca.pem").write_bytes(network_pem)
    _write_private_key(root / "ca-key.pem", network_key)
    _write_hub(root / "hub", network, now)

    # The rogue CA copies the network CA's name, so only its key tells it apart: a relying
    # party that matches issuers by name alone would be fooled, one that checks signatures not.
    rogue_key = ec.generate_private_key(ec.SECP256R1())
    rogue = _Issuer(_ca_certificate(rogue_key, now), rogue_key)

    revoked: list[int] = []
    for name in PARTICIPANTS:
        if name == "rogue":
            _write_identity(
                root / name, participant_id="nl", issuer=rogue, network_ca_pem=network_pem, now=now
            )
            (root / name / "rogue-ca.pem").write_bytes(_pem(rogue.cert))
            continue
        serials = _write_identity(
            root / name,
            participant_id=name,
            issuer=network,
            network_ca_pem=network_pem,
            now=now,
            expired=name == "expired",
            encryption=_suite_of(name, x25519),
        )
        if name == "revoked":
            revoked.extend(serials)
    _write_crl(root / "crl.pem", network, revoked, now)
    _write_registry(root / "participants.toml")
    _write_hub_config(root / "hub.toml")


def _suite_of(name: str, x25519: frozenset[str]) -> Suite | None:
    if name not in RECEIVERS:
        return None
    return Suite.X25519 if name in x25519 else Suite.HYBRID


def make_dev_pki(out: Path, *, now: datetime | None = None, x25519: Iterable[str] = ()) -> DevPki:
    """Create a fresh development PKI in ``out``, replacing whatever was there.

    Each participant that may receive notices gets an encryption key of the hybrid suite
    (ML-KEM-768 + X25519), or of plain X25519 if it is named in ``x25519``.

    Everything is written to a temporary directory next to ``out`` and then renamed into
    place, so an interrupted run never leaves a half-written PKI behind.
    """
    now = _now() if now is None else now
    if now.tzinfo is None:
        now = now.replace(tzinfo=UTC)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.new-", dir=out.parent))
    old: Path | None = None
    try:
        tmp.chmod(0o755)  # certificates are public; the keys themselves are 0600
        _generate(tmp, now, frozenset(x25519))
        # A directory cannot be renamed over a non-empty one: move the old PKI aside first.
        if out.exists():
            old = out.with_name(f".{out.name}.old-{secrets.token_hex(4)}")
            out.rename(old)
        tmp.rename(out)
    except BaseException:
        if old is not None and not out.exists():
            old.rename(out)
            old = None
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)
    return DevPki.at(out)


def _expected_files() -> list[str]:
    files = ["ca.pem", "ca-key.pem", "crl.pem", "hub.toml", "participants.toml"]
    files += [f"hub/{f}" for f in HUB_FILES]
    files += [f"{p}/{f}" for p in PARTICIPANTS for f in IDENTITY_FILES]
    files += [f"{p}/{f}" for p in RECEIVERS for f in ENCRYPTION_FILES]
    files.append("rogue/rogue-ca.pem")
    return files


def is_current(out: Path, *, now: datetime | None = None) -> bool:
    """True if ``out`` holds a complete PKI that stays valid for at least 30 more days."""
    now = _now() if now is None else now
    if not all((out / rel).is_file() for rel in _expected_files()):
        return False
    try:
        ca = x509.load_pem_x509_certificate((out / "ca.pem").read_bytes())
        hub = x509.load_pem_x509_certificate((out / "hub" / "cert.pem").read_bytes())
        crl = x509.load_pem_x509_crl((out / "crl.pem").read_bytes())
        hub.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature, OSError):
        return False
    horizon = now + MIN_REMAINING
    next_update = crl.next_update_utc
    return (
        ca.not_valid_after_utc >= horizon
        and hub.not_valid_after_utc >= horizon
        and next_update is not None
        and next_update >= horizon
    )


def ensure_dev_pki(out: Path) -> DevPki:
    """Return the PKI in ``out``, (re)creating it only if it is incomplete or expiring."""
    out = Path(out)
    if is_current(out):
        return DevPki.at(out)
    return make_dev_pki(out)


def _load_network_ca(pki_dir: Path) -> _Issuer:
    cert = x509.load_pem_x509_certificate((pki_dir / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((pki_dir / "ca-key.pem").read_bytes(), None)
    if not isinstance(key, ec.EllipticCurvePrivateKey):
        raise ValueError(f"{pki_dir / 'ca-key.pem'} is not an EC private key")
    return _Issuer(cert, key)


def issue_identity(
    pki_dir: Path,
    name: str,
    *,
    participant_id: str | None = None,
    out: Path | None = None,
    expired: bool = False,
    encryption: Suite | None = Suite.HYBRID,
) -> Path:
    """Issue an extra client identity from the network CA of an existing PKI.

    Writes the same files as a participant directory (``ca.pem``, ``cert.pem``, ``key.pem``,
    ``signing-cert.pem``, ``signing-key.pem``, ``identity.toml``) to ``out`` or
    ``pki_dir/name`` and returns that directory. The identity is not added to the registry,
    which makes it suitable for testing participants unknown to the hub. With ``expired``,
    the TLS certificate's notAfter lies one day in the past. The identity gets a current
    encryption key of the suite ``encryption`` (none if None).
    """
    pki_dir = Path(pki_dir)
    network = _load_network_ca(pki_dir)
    dest = Path(out) if out is not None else pki_dir / name
    _write_identity(
        dest,
        participant_id=participant_id if participant_id is not None else name,
        issuer=network,
        network_ca_pem=_pem(network.cert),
        now=_now(),
        expired=expired,
        encryption=encryption,
    )
    (dest / "log-key.pub").write_bytes((pki_dir / "hub" / "log-key.pub").read_bytes())
    return dest


def _summary(pki: DevPki) -> str:
    ca = x509.load_pem_x509_certificate(pki.ca_cert.read_bytes())
    hub = x509.load_pem_x509_certificate((pki.hub_dir / "cert.pem").read_bytes())
    return "\n".join(
        [
            f"development PKI written to {pki.root}",
            f"  network CA  ca.pem, valid until {ca.not_valid_after_utc:%Y-%m-%d}",
            f"  hub         hub/cert.pem for localhost, 127.0.0.1, ::1,"
            f" valid until {hub.not_valid_after_utc:%Y-%m-%d}",
            f"  identities  {', '.join(REGULAR)}",
            "  for tests   revoked (on crl.pem), expired (TLS cert expired),"
            " rogue (foreign CA, claims nl)",
            f"  encryption  keys under <name>/encryption/ for {', '.join(RECEIVERS)}",
            "  hub config  hub.toml, registry participants.toml",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m certs.devpki",
        description="Create a development PKI for a local ecx hub and its participants.",
    )
    parser.add_argument(
        "--out", type=Path, default=DEFAULT_OUT, help=f"output directory (default {DEFAULT_OUT})"
    )
    parser.add_argument(
        "--force", action="store_true", help="regenerate even if a valid PKI is present"
    )
    parser.add_argument(
        "--x25519",
        action="append",
        default=[],
        metavar="NAME",
        choices=RECEIVERS,
        help="give NAME an encryption key of plain X25519 instead of the hybrid suite (repeatable)",
    )
    args = parser.parse_args(argv)
    out: Path = args.out
    try:
        if not args.force and is_current(out):
            print(f"development PKI present in {out}")
            return 0
        pki = make_dev_pki(out, x25519=args.x25519)
    except (OSError, ValueError) as exc:
        print(f"devpki: error: {exc}", file=sys.stderr)
        return 1
    print(_summary(pki))
    return 0


if __name__ == "__main__":
    sys.exit(main())
