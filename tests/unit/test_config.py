"""hub.toml values are checked when the hub starts: a bad value is refused with its name."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from server.config import HubConfig
from server.errors import ConfigError

BASE: dict[str, Any] = {
    "tls": {"cert": "hub/cert.pem", "key": "hub/key.pem", "client_ca": "ca.pem"},
    "registry": {"file": "participants.toml"},
    "log": {"signing_key": "hub/log-key.pem"},
}


def _load(**sections: dict[str, Any]) -> HubConfig:
    return HubConfig.from_mapping({**BASE, **sections}, base=Path("/etc/ecx"))


def test_defaults_and_paths_relative_to_the_file() -> None:
    config = _load()
    assert config.workers == 1
    assert config.listen == "127.0.0.1:50051"
    assert config.tls.cert == Path("/etc/ecx/hub/cert.pem")
    assert config.tls.crl is None


def test_workers() -> None:
    assert _load(server={"workers": 4}).workers == 4


@pytest.mark.parametrize(
    ("sections", "message"),
    [
        ({"server": {"workers": 0}}, "[server] workers"),
        ({"server": {"workers": 65}}, "[server] workers"),
        ({"server": {"workers": "2"}}, "[server] workers"),
        ({"server": {"workers": True}}, "[server] workers"),
        ({"server": {"listen": "50051"}}, "[server] listen"),
        ({"limits": {"max_message_bytes": 0}}, "[limits] max_message_bytes"),
        ({"limits": {"max_mesage_bytes": 10}}, "[limits] unknown keys: max_mesage_bytes"),
        ({"denials": {"validity_years": 11}}, "[denials] validity_years"),
        ({"consultations": {"answer_days": 0}}, "[consultations] answer_days"),
        ({"tls": {"cert": "c.pem", "key": "k.pem"}}, "[tls] client_ca is required"),
    ],
)
def test_bad_values_are_refused_by_name(sections: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as refused:
        _load(**sections)
    assert message in refused.value.message
