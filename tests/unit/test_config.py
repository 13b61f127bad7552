"""hub.toml and participants.toml are checked when they are loaded: an unknown section or key, a
missing key or a value of the wrong kind is refused with the file, the key and what is allowed
there, never silently replaced by a default."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from certs.devpki import DevPki
from server.config import HubConfig
from server.domain.participants import ParticipantStatus, Role
from server.errors import ConfigError
from server.registry import Registry
from server.revocation import RevocationList
from server.schema import MAX_PROBLEMS

BASE: dict[str, Any] = {
    "tls": {"cert": "hub/cert.pem", "key": "hub/key.pem", "client_ca": "ca.pem"},
    "registry": {"file": "participants.toml"},
    "log": {"signing_key": "hub/log-key.pem"},
}

SECTIONS = (
    "[consultations], [denials], [limits], [log], [logging], [notices], [registry], [server], "
    "[store], [tls]"
)

# What each section of hub.toml allows, as the refusal of an unknown key lists it.
ALLOWED_KEYS = {
    "server": "listen, workers",
    "tls": "cert, client_ca, crl, key",
    "registry": "file",
    "store": "path",
    "log": "origin, signing_key",
    "limits": "default_page_size, max_connection_age_seconds, max_message_bytes, max_page_size,"
    " max_screening_word_pairs, max_sync_batch, refusal_burst, refusal_summary_seconds,"
    " refusals_per_minute, write_batch_max",
    "denials": "validity_years",
    "consultations": "answer_days",
    "logging": "handshake_summary_seconds",
}

PARTICIPANT_KEYS = "display_name, id, member_state, roles, signing_certificate, status"


def _load(**sections: dict[str, Any]) -> HubConfig:
    return HubConfig.from_mapping({**BASE, **sections}, base=Path("/etc/ecx"))


def _refusal(**sections: dict[str, Any]) -> str:
    with pytest.raises(ConfigError) as refused:
        _load(**sections)
    return refused.value.message


def test_defaults_and_paths_relative_to_the_file() -> None:
    config = _load()
    assert config.workers == 1
    assert config.listen == "127.0.0.1:50051"
    assert config.tls.cert == Path("/etc/ecx/hub/cert.pem")
    assert config.tls.crl is None
    assert config.store == Path("var/ecx.db")
    assert config.log_origin == "ecx.eu/exchange-log"
    assert config.validity_years == 3
    assert config.consultation_answer_days == 21
    assert config.handshake_summary_seconds == 60


def test_values_given_are_taken() -> None:
    config = _load(
        server={"workers": 4, "listen": "0.0.0.0:6000"},
        tls={**BASE["tls"], "crl": "/srv/crl.pem"},
        store={"path": "/srv/ecx.db"},
        limits={"max_page_size": 50},
        logging={"handshake_summary_seconds": 5},
    )
    assert (config.workers, config.listen) == (4, "0.0.0.0:6000")
    assert config.tls.crl == Path("/srv/crl.pem")
    assert config.store == Path("/srv/ecx.db")
    assert config.limits.max_page_size == 50
    assert config.limits.max_sync_batch == 1000
    assert config.handshake_summary_seconds == 5


def test_the_files_the_dev_pki_writes_load(pki: DevPki) -> None:
    config = HubConfig.load(pki.hub_config)
    assert config.tls.crl == pki.crl
    registry = Registry.load(config.registry, RevocationList.for_tls(config.tls))
    nl = registry.get("nl")
    assert nl is not None
    assert nl.member_state == "NL"
    assert nl.roles == frozenset({Role.AUTHORITY})
    assert nl.status is ParticipantStatus.ACTIVE
    assert "commission" in [p.id for p in registry.all()]


def test_a_misspelt_store_key_is_refused_not_replaced_by_the_default(tmp_path: Path) -> None:
    path = tmp_path / "hub.toml"
    path.write_text(
        '[tls]\ncert = "c.pem"\nkey = "k.pem"\nclient_ca = "ca.pem"\n'
        '[registry]\nfile = "participants.toml"\n[log]\nsigning_key = "log.pem"\n'
        '[store]\nurl = "postgresql://ecx@db.example/ecx"\n'
    )
    with pytest.raises(ConfigError) as refused:
        HubConfig.load(path)
    assert refused.value.message == f"{path}: [store] url is not a known key (allowed: path)"


def test_an_unknown_section_is_refused_with_the_known_ones() -> None:
    assert _refusal(storage={"path": "x.db"}) == (
        f"hub.toml: [storage] is not a known section (allowed: {SECTIONS})"
    )


@pytest.mark.parametrize("section", list(ALLOWED_KEYS))
def test_an_unknown_key_is_refused_in_every_section(section: str) -> None:
    table = {**BASE.get(section, {}), "colour": "blue"}
    assert _refusal(**{section: table}) == (
        f"hub.toml: [{section}] colour is not a known key (allowed: {ALLOWED_KEYS[section]})"
    )


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        pytest.param(
            {"server": {"workers": 0}}, "[server] workers must be an integer 1-64 (got 0)", id="0"
        ),
        pytest.param({"server": {"workers": 65}}, "[server] workers must be", id="65"),
        pytest.param(
            {"server": {"workers": "2"}},
            '[server] workers must be an integer 1-64 (got "2")',
            id="workers-text",
        ),
        pytest.param(
            {"server": {"workers": True}},
            "[server] workers must be an integer 1-64 (got true)",
            id="workers-bool",
        ),
        pytest.param(
            {"server": {"listen": "50051"}},
            '[server] listen must be HOST:PORT (got "50051")',
            id="listen-no-port",
        ),
        pytest.param(
            {"server": {"listen": 50051}},
            "[server] listen must be HOST:PORT (got 50051)",
            id="listen-number",
        ),
        pytest.param({"server": 5}, "[server] must be a table (got 5)", id="section-not-a-table"),
        pytest.param(
            {"tls": {**BASE["tls"], "cert": 5}},
            "[tls] cert must be a file path (got 5)",
            id="path-number",
        ),
        pytest.param(
            {"tls": {**BASE["tls"], "crl": ""}},
            '[tls] crl must be a file path (got "")',
            id="path-empty",
        ),
        pytest.param(
            {"store": {"path": ["a", "b"]}},
            "[store] path must be a file path (got an array)",
            id="path-array",
        ),
        pytest.param(
            {"log": {**BASE["log"], "origin": "ecx eu"}},
            "[log] origin must be a name without spaces or '+' (got \"ecx eu\")",
            id="origin",
        ),
        pytest.param(
            {"log": {**BASE["log"], "origin": ""}},
            "[log] origin must be a name without spaces or '+' (got \"\")",
            id="origin-empty",
        ),
        pytest.param(
            {"limits": {"max_message_bytes": 0}},
            "[limits] max_message_bytes must be an integer >= 1 (got 0)",
            id="limit-0",
        ),
        pytest.param(
            {"limits": {"max_page_size": 1.5}},
            "[limits] max_page_size must be an integer >= 1 (got 1.5)",
            id="limit-float",
        ),
        pytest.param(
            {"denials": {"validity_years": 11}},
            "[denials] validity_years must be an integer 1-10 (got 11)",
            id="validity",
        ),
        pytest.param(
            {"consultations": {"answer_days": 0}},
            "[consultations] answer_days must be an integer 1-365 (got 0)",
            id="answer-days",
        ),
        pytest.param(
            {"logging": {"handshake_summary_seconds": 0}},
            "[logging] handshake_summary_seconds must be an integer 1-86400 (got 0)",
            id="summary-interval",
        ),
        pytest.param(
            {"server": {"listen": "host:1\x1b[2J"}},
            '[server] listen must be HOST:PORT (got "host:1\\x1b[2J")',
            id="control-characters-escaped",
        ),
        pytest.param(
            {"store": {"pa\x1bth": "x.db"}},
            "[store] pa\\x1bth is not a known key (allowed: path)",
            id="control-characters-in-a-key-escaped",
        ),
    ],
)
def test_a_value_of_the_wrong_kind_is_refused_with_what_is_allowed(
    sections: dict[str, Any], message: str
) -> None:
    assert _refusal(**sections).startswith(f"hub.toml: {message}")


@pytest.mark.parametrize(
    ("section", "key"),
    [
        ("tls", "cert"),
        ("tls", "key"),
        ("tls", "client_ca"),
        ("registry", "file"),
        ("log", "signing_key"),
    ],
)
def test_a_missing_required_key_is_refused(section: str, key: str) -> None:
    table = {k: v for k, v in BASE[section].items() if k != key}
    assert _refusal(**{section: table}) == (
        f"hub.toml: [{section}] {key} is required (a file path)"
    )


def test_several_problems_are_refused_together_the_first_in_full_the_rest_bounded() -> None:
    message = _refusal(
        store={"url": "postgresql://db/ecx"},
        limits={f"limit_{n:02d}": 1 for n in range(20)},
    )
    assert message.startswith(
        "hub.toml: [store] url is not a known key (allowed: path); [limits] limit_00"
    )
    assert message.count("is not a known key") == MAX_PROBLEMS
    assert message.endswith(f"; and {21 - MAX_PROBLEMS} more")


# participants.toml


def _registry_file(tmp_path: Path, pki: DevPki, body: str) -> Path:
    path = tmp_path / "participants.toml"
    path.write_text(body.replace("PKI", str(pki.root)), encoding="utf-8")
    return path


NL = (
    '[[participant]]\nid = "nl"\nmember_state = "NL"\nroles = ["authority"]\n'
    'signing_certificate = "PKI/nl/signing-cert.pem"\n'
)
AUDITOR = '[[participant]]\nid = "auditor"\nroles = ["auditor"]\n'


def _network(pki: DevPki) -> RevocationList:
    """The dev PKI's network CA and CRL, against which signing certificates are checked."""
    return RevocationList.for_tls(HubConfig.load(pki.hub_config).tls)


def test_a_registry_in_the_expected_form_loads(tmp_path: Path, pki: DevPki) -> None:
    registry = Registry.load(_registry_file(tmp_path, pki, NL + AUDITOR), _network(pki))
    assert [p.id for p in registry.all()] == ["auditor", "nl"]
    auditor = registry.get("auditor")
    assert auditor is not None
    assert auditor.display_name == "auditor"
    assert auditor.member_state == ""


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(
            NL + "[registry]\nowner = 'x'\n",
            "[registry] is not a known section (allowed: [[participant]])",
            id="unknown-section",
        ),
        pytest.param(
            NL.replace("roles", "rolse"),
            f"participant nl: rolse is not a known key (allowed: {PARTICIPANT_KEYS})",
            id="unknown-key",
        ),
        pytest.param(
            AUDITOR + "suspended = true\n",
            f"participant auditor: suspended is not a known key (allowed: {PARTICIPANT_KEYS})",
            id="unknown-key-not-status",
        ),
        pytest.param(
            AUDITOR + 'status = "paused"\n',
            'participant auditor: status must be one of "active", "suspended" (got "paused")',
            id="status",
        ),
        pytest.param(
            AUDITOR.replace('["auditor"]', '"auditor"'),
            "participant auditor: roles must be a non-empty array of"
            ' "authority", "commission", "auditor", "operator" (got "auditor")',
            id="roles-not-an-array",
        ),
        pytest.param(
            AUDITOR.replace('["auditor"]', '["auditor", "king"]'),
            "participant auditor: roles must be a non-empty array of",
            id="roles-unknown",
        ),
        pytest.param(
            AUDITOR.replace('["auditor"]', "[]"),
            "participant auditor: roles must be a non-empty array of",
            id="roles-empty",
        ),
        pytest.param(
            NL.replace('"NL"', '"Netherlands"'),
            "participant nl: member_state must be an ISO 3166 country code (EL for Greece)"
            ' (got "Netherlands")',
            id="member-state",
        ),
        pytest.param(
            AUDITOR + "display_name = 5\n",
            "participant auditor: display_name must be a name (got 5)",
            id="display-name",
        ),
        pytest.param(
            AUDITOR.replace('"auditor"\nroles', '"Auditor"\nroles'),
            "[[participant]] #1: id must be lower-case letters, digits and '-', 1-63 long,"
            ' starting with a letter or digit (got "Auditor")',
            id="bad-id",
        ),
        pytest.param(
            NL + AUDITOR.replace('id = "auditor"\n', ""),
            "[[participant]] #2: id is required (lower-case letters",
            id="missing-id",
        ),
        pytest.param(
            AUDITOR.replace('roles = ["auditor"]\n', ""),
            "participant auditor: roles is required (a non-empty array of",
            id="missing-roles",
        ),
        pytest.param(
            NL.replace('member_state = "NL"\n', ""),
            "participant nl: member_state is required for an authority",
            id="authority-without-state",
        ),
        pytest.param(
            NL.replace('signing_certificate = "PKI/nl/signing-cert.pem"\n', ""),
            "participant nl: signing_certificate is required for an authority (a file path)",
            id="authority-without-certificate",
        ),
        pytest.param(
            NL.replace("nl/signing-cert.pem", "nl/missing.pem"),
            "participant nl: signing_certificate cannot be read:",
            id="certificate-missing",
        ),
        pytest.param(
            NL.replace("nl/signing-cert.pem", "nl/identity.toml"),
            "participant nl: signing_certificate is not a PEM certificate",
            id="certificate-not-pem",
        ),
        pytest.param(
            NL.replace("nl/signing-cert.pem", "rogue/signing-cert.pem"),
            "participant nl: signing_certificate is not issued by the network CA",
            id="certificate-of-another-ca",
        ),
        pytest.param(
            NL.replace("nl/signing-cert.pem", "de/signing-cert.pem"),
            "participant nl: signing_certificate is not issued to nl"
            " (it must name spiffe://ecx.eu/participant/nl)",
            id="certificate-of-another-participant",
        ),
        pytest.param(NL + NL, "participant nl is listed twice", id="twice"),
        pytest.param(
            'participant = "nl"\n',
            'participant must be an array of tables ([[participant]]) (got "nl")',
            id="not-an-array",
        ),
    ],
)
def test_a_bad_registry_is_refused_with_the_file_the_key_and_what_is_allowed(
    tmp_path: Path, pki: DevPki, body: str, message: str
) -> None:
    path = _registry_file(tmp_path, pki, body)
    with pytest.raises(ConfigError) as refused:
        Registry.load(path, _network(pki))
    assert refused.value.message.startswith(f"{path}: {message}")
