"""The `ecx` command line as a user runs it, against the hub running as its own process."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import shutil
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certs.devpki import DevPki
from client.identity import Identity
from tests.helpers import ROOT, HubProcess, hub_process

EXAMPLE = ROOT / "client" / "examples" / "denial-nl.json"
PARTICIPANTS = {
    "nl",
    "de",
    "fr",
    "es",
    "it",
    "revoked",
    "expired",
    "commission",
    "auditor",
    "operator",
}


def real_today() -> dt.date:
    """The hub process runs on the machine's clock."""
    return dt.datetime.now(dt.UTC).date()


def three_years_after(day: dt.date) -> dt.date:
    """The same calendar day three years on; 29 February becomes 28 February."""
    try:
        return day.replace(year=day.year + 3)
    except ValueError:
        return day.replace(year=day.year + 3, day=28)


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ECX_SERVER", "ECX_IDENTITY")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "proto")])
    return env


class Ecx:
    """Runs `python -m client.cli` against one hub."""

    def __init__(self, hub: HubProcess, pki: DevPki, workdir: Path) -> None:
        self.address = hub.address
        self.pki = pki
        self.workdir = workdir

    def identity(self, name: str) -> str:
        return str(self.pki.identity(name))

    def raw(
        self, *args: str | Path, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "client.cli", *map(str, args)],
            capture_output=True,
            text=True,
            env=env or base_env(),
            cwd=self.workdir,
            timeout=60,
            check=False,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def run(self, *args: str | Path, who: str = "nl") -> subprocess.CompletedProcess[str]:
        return self.raw("--server", self.address, "--identity", self.identity(who), *args)

    def ok(self, *args: str | Path, who: str = "nl") -> str:
        result = self.run(*args, who=who)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        return result.stdout

    def json(self, *args: str | Path, who: str = "nl") -> Any:
        return json.loads(self.ok("--json", *args, who=who))


def one_line_failure(result: subprocess.CompletedProcess[str]) -> str:
    """A refused command: non-zero exit and exactly one line on stderr, which it returns."""
    assert result.returncode != 0
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("ecx: "), lines[0]
    assert result.stdout == ""
    return lines[0]


def denial_json(
    reference: str, regime: str = "MILITARY", state: str = "NL", **fields: Any
) -> dict[str, Any]:
    """A denial in the exchange's JSON: the fixed field names and plain enum strings."""
    military = regime == "MILITARY"
    data: dict[str, Any] = {
        "reference": reference,
        "regime": regime,
        "licence_type": "BROKERING" if military else "TECHNICAL_ASSISTANCE",
        "issuing_state": state,
        "originating_authority": "Licensing authority",
        "denial_date": (real_today() - dt.timedelta(days=10)).isoformat(),
        "destination_country": "AE",
        "consignee": {
            "name": "Gulf Defence Trading FZE",
            "aliases": ["GDT FZE"],
            "address": "Jebel Ali Free Zone",
            "country": "AE",
        },
        "end_user": {
            "name": "Al Noor Armed Forces Supply LLC",
            "aliases": ["Al-Nour Supply"],
            "address": "Abu Dhabi",
            "country": "AE",
        },
        "end_use": "Stated: coastal patrol",
        "goods_description": "Thermal imaging sights",
        "control_entries": ["ML15.c", "ML6.b.1.a"] if military else ["6A003.b.4"],
        "quantity": "40 units",
        "value_eur": 1000,
        "reasons": (
            [{"criterion": 7, "explanation": "Risk of re-export"}]
            if military
            else [
                {"ground": "SANCTIONS", "explanation": "Listed entity"},
                {
                    "ground": "FOREIGN_SECURITY_POLICY",
                    "criterion": 2,
                    "explanation": "Human rights",
                },
            ]
        ),
        "contact": "denials@example.org",
    }
    data.update(fields)
    return data


def write_json(directory: Path, name: str, data: object) -> Path:
    path = directory / name
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def ecx(pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ecx]:
    workdir = tmp_path_factory.mktemp("cli-hub")
    with hub_process(pki, workdir) as hub:
        yield Ecx(hub, pki, workdir)


@pytest.fixture(scope="module")
def listed(ecx: Ecx, tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Any]]:
    """Denials for the list filters, submitted with the CLI; returns their JSON by reference."""
    directory = tmp_path_factory.mktemp("list-denials")
    seeds = [
        ("nl", denial_json("NL-CLI-L1")),
        ("nl", denial_json("NL-CLI-L2", "DUAL_USE", destination_country="RU")),
        ("nl", denial_json("NL-CLI-L3", "DUAL_USE", destination_country="EL")),
        ("nl", denial_json("NL-CLI-L4", destination_country="RU")),
        ("de", denial_json("DE-CLI-L5", "DUAL_USE", "DE", destination_country="RU")),
    ]
    for who, data in seeds:
        path = write_json(directory, f"{data['reference']}.json", data)
        ecx.json("denial", "submit", "--file", path, who=who)
    ecx.json("denial", "revoke", "NL-CLI-L4", "--reason", "Licence granted on appeal")
    return {data["reference"]: data for _, data in seeds}


@pytest.fixture(scope="module")
def submitted(ecx: Ecx, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """One military denial submitted from a JSON file; returns that JSON."""
    data = denial_json("NL-CLI-0001")
    path = write_json(tmp_path_factory.mktemp("submitted"), "denial.json", data)
    ecx.ok("denial", "submit", "--file", path)
    return data


# whoami and participants


def test_whoami_names_the_participant_and_its_state(ecx: Ecx) -> None:
    out = ecx.ok("whoami")
    assert re.search(r"\bnl\b", out)
    assert re.search(r"\bNL\b", out)
    assert "spiffe://ecx.eu/participant/nl" in out
    with pytest.raises(json.JSONDecodeError):
        json.loads(out)
    de = ecx.ok("whoami", who="de")
    assert re.search(r"\bDE\b", de)
    assert not re.search(r"\bNL\b", de)


def test_whoami_json(ecx: Ecx) -> None:
    me = ecx.json("whoami")
    assert me["id"] == "nl"
    assert me["member_state"] == "NL"
    assert me["spiffe_id"] == "spiffe://ecx.eu/participant/nl"
    assert "AUTHORITY" in me["roles"]


def test_participants_json_lists_the_registry(ecx: Ecx) -> None:
    everyone = ecx.json("participants")
    assert len(everyone) == 10
    assert {p["id"] for p in everyone} == PARTICIPANTS
    states = {p["id"]: p.get("member_state", "") for p in everyone}
    assert states["nl"] == "NL"
    assert states["de"] == "DE"
    assert states["commission"] == ""


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["whoami"], id="whoami"),
        pytest.param(["participants"], id="participants"),
        pytest.param(["denial", "get", "NL-CLI-0001"], id="denial-get"),
        pytest.param(["denial", "list", "--state", "NL"], id="denial-list"),
    ],
)
def test_json_is_accepted_before_the_noun_and_after_the_verb(
    ecx: Ecx, submitted: dict[str, Any], command: list[str]
) -> None:
    before = ecx.ok("--json", *command)
    after = ecx.ok(*command, "--json")
    assert json.loads(before) == json.loads(after)


# Submit and get


def test_submit_then_get_shows_the_payload_with_its_field_names(
    ecx: Ecx, submitted: dict[str, Any]
) -> None:
    denial = ecx.json("denial", "get", "NL-CLI-0001")
    assert denial["payload"] == submitted
    assert type(denial["payload"]["value_eur"]) is int
    assert denial["payload"]["value_eur"] == 1000
    assert denial["signature_verified"] is True
    assert denial["reference"] == "NL-CLI-0001"
    assert denial["version"] == 1
    assert denial["status"] == "ACTIVE"
    assert denial["regime"] == "MILITARY"
    assert denial["signer"] == "nl"
    denial_date = dt.date.fromisoformat(submitted["denial_date"])
    assert denial["valid_until"] == three_years_after(denial_date).isoformat()
    assert "envelope" not in denial


def test_get_text_shows_the_denial_and_that_its_signature_verified(
    ecx: Ecx, submitted: dict[str, Any]
) -> None:
    out = ecx.ok("denial", "get", "NL-CLI-0001", who="de")
    assert "NL-CLI-0001" in out
    assert "ACTIVE" in out
    assert "signature verified" in out
    assert "Thermal imaging sights" in out
    assert "ML15.c" in out


def test_submit_text_and_json_output(ecx: Ecx, tmp_path: Path) -> None:
    text = ecx.ok(
        "denial", "submit", "--file", write_json(tmp_path, "a.json", denial_json("NL-CLI-S1"))
    )
    assert "NL-CLI-S1" in text
    assert "signature verified" in text
    data = denial_json("NL-CLI-S2", "DUAL_USE")
    result = ecx.json("denial", "submit", "--file", write_json(tmp_path, "b.json", data))
    assert result["payload"] == data
    assert result["version"] == 1
    assert result["signature_verified"] is True


def test_the_json_of_every_denial_carries_the_hubs_fields(pki: DevPki, tmp_path: Path) -> None:
    # A hub of its own, so that its first write is the first entry of its log.
    with hub_process(pki, tmp_path) as hub:
        fresh = Ecx(hub, pki, tmp_path)
        for n in (1, 2):
            data = denial_json(f"NL-CLI-H{n}")
            fresh.ok("denial", "submit", "--file", write_json(tmp_path, f"h{n}.json", data))
        everything = fresh.json("denial", "list")
    assert [d["reference"] for d in everything] == ["NL-CLI-H1", "NL-CLI-H2"]
    for denial in everything:
        for field in ("version", "status", "valid_until", "log_index", "signer"):
            assert field in denial, f"{denial['reference']} has no {field}"
        assert type(denial["log_index"]) is int
    indexes = [d["log_index"] for d in everything]
    assert len(set(indexes)) == len(indexes)


def test_the_example_denial_submits(ecx: Ecx) -> None:
    example = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    denial_date = dt.date.fromisoformat(example["denial_date"])
    assert denial_date <= real_today() <= three_years_after(denial_date), (
        f"{EXAMPLE.name}: denial_date {denial_date} is outside the 3-year window"
    )
    out = ecx.ok("denial", "submit", "--file", EXAMPLE)
    assert example["reference"] in out
    assert "signature verified" in out
    assert ecx.json("denial", "get", example["reference"], who="de")["payload"] == example


# List


def _matches(denial: dict[str, Any], option: str, value: str) -> bool:
    if option == "--state":
        return bool(denial["issuing_state"] == value.upper())
    if option == "--destination":
        wanted = {"EL": "GR"}.get(value.upper(), value.upper())
        stated = denial["payload"]["destination_country"]
        return bool({"EL": "GR"}.get(stated, stated) == wanted)
    if option == "--regime":
        return bool(denial["regime"] == value)
    assert option == "--status"
    return bool(denial["status"] == value)


@pytest.mark.parametrize(
    ("options", "expected"),
    [
        pytest.param(["--state", "NL"], {"L1", "L2", "L3", "L4"}, id="state-NL"),
        pytest.param(["--state", "de"], {"L5"}, id="state-lowercase-de"),
        pytest.param(["--destination", "RU"], {"L2", "L4", "L5"}, id="destination-RU"),
        pytest.param(["--destination", "GR"], {"L3"}, id="destination-GR"),
        pytest.param(["--destination", "EL"], {"L3"}, id="destination-EL-means-GR"),
        pytest.param(["--regime", "MILITARY"], {"L1", "L4"}, id="military"),
        pytest.param(["--regime", "DUAL_USE"], {"L2", "L3", "L5"}, id="dual-use"),
        pytest.param(["--status", "REVOKED"], {"L4"}, id="revoked"),
        pytest.param(["--status", "ACTIVE"], {"L1", "L2", "L3", "L5"}, id="active"),
        pytest.param(["--status", "EXPIRED"], set(), id="expired"),
        pytest.param(
            ["--state", "NL", "--regime", "DUAL_USE", "--destination", "RU"],
            {"L2"},
            id="state-regime-destination",
        ),
    ],
)
def test_list_filters(
    ecx: Ecx, listed: dict[str, dict[str, Any]], options: list[str], expected: set[str]
) -> None:
    found = ecx.json("denial", "list", *options, who="it")
    refs = [d["reference"] for d in found]
    assert len(refs) == len(set(refs))
    assert {r[-2:] for r in refs if r in listed} == expected
    pairs = list(zip(options[::2], options[1::2], strict=True))
    for denial in found:
        assert denial["signature_verified"] is True
        for option, value in pairs:
            assert _matches(denial, option, value), (denial["reference"], option, value)


def test_list_text_shows_one_line_per_denial(ecx: Ecx, listed: dict[str, dict[str, Any]]) -> None:
    out = ecx.ok("denial", "list", "--state", "NL", "--regime", "MILITARY", who="de")
    lines = [line for line in out.splitlines() if "-CLI-L" in line]
    assert [line.split()[0] for line in lines] == ["NL-CLI-L1", "NL-CLI-L4"]
    assert "REVOKED" in lines[1]
    assert "NL-CLI-L2" not in out
    empty = ecx.ok("denial", "list", "--status", "EXPIRED", "--state", "FR")
    assert "NL-CLI" not in empty


# Amend, revoke, renew


def test_amend_revoke_and_renew_refused(ecx: Ecx, tmp_path: Path) -> None:
    first = denial_json("NL-CLI-A1", "DUAL_USE")
    ecx.ok("denial", "submit", "--file", write_json(tmp_path, "v1.json", first))

    second = denial_json(
        "NL-CLI-A1", "DUAL_USE", goods_description="Thermal cameras", value_eur=2500
    )
    amended = ecx.json(
        "denial", "amend", "NL-CLI-A1", "--file", write_json(tmp_path, "v2.json", second)
    )
    assert amended["version"] == 2
    assert amended["change"] == "AMEND"
    assert amended["payload"] == second

    versions = ecx.json("denial", "get", "NL-CLI-A1", "--versions", who="de")
    assert [v["version"] for v in versions] == [1, 2]
    assert [v["payload"] for v in versions] == [first, second]
    assert all(v["signature_verified"] is True for v in versions)

    revoked = ecx.json("denial", "revoke", "NL-CLI-A1", "--reason", "Granted after consultation")
    assert revoked["version"] == 3
    assert revoked["status"] == "REVOKED"
    assert revoked["revocation_reason"] == "Granted after consultation"
    shown = ecx.ok("denial", "get", "NL-CLI-A1", who="fr")
    assert "REVOKED" in shown
    assert "Granted after consultation" in shown

    line = one_line_failure(ecx.run("denial", "renew", "NL-CLI-A1", "--reason", "Reviewed"))
    assert "FAILED_PRECONDITION" in line
    assert "revoked" in line
    refused = ecx.run(
        "denial", "amend", "NL-CLI-A1", "--file", write_json(tmp_path, "v3.json", first)
    )
    assert "FAILED_PRECONDITION" in one_line_failure(refused)
    assert [v["version"] for v in ecx.json("denial", "get", "NL-CLI-A1", "--versions")] == [1, 2, 3]


def test_renew_of_an_active_denial(ecx: Ecx, tmp_path: Path) -> None:
    data = denial_json("NL-CLI-R1")
    ecx.ok("denial", "submit", "--file", write_json(tmp_path, "r.json", data))
    renewed = ecx.json("denial", "renew", "NL-CLI-R1", "--reason", "Reviewed")
    assert renewed["version"] == 2
    assert renewed["change"] == "RENEW"
    assert renewed["status"] == "ACTIVE"
    today = real_today()
    assert renewed["valid_until"] in {
        three_years_after(today).isoformat(),
        # The CLI dates the renewal by the machine's calendar; allow a run across midnight.
        three_years_after(today - dt.timedelta(days=1)).isoformat(),
    }


def test_only_the_issuer_changes_its_denial(ecx: Ecx, submitted: dict[str, Any]) -> None:
    line = one_line_failure(ecx.run("denial", "revoke", "NL-CLI-0001", "--reason", "x", who="de"))
    assert "PERMISSION_DENIED" in line
    assert ecx.json("denial", "get", "NL-CLI-0001")["status"] == "ACTIVE"


# Sync


def test_sync_resumes_from_the_cursor_it_printed(ecx: Ecx, tmp_path: Path) -> None:
    def submit(reference: str) -> None:
        path = write_json(tmp_path, f"{reference}.json", denial_json(reference))
        ecx.ok("denial", "submit", "--file", path)

    submit("NL-CLI-S001")
    everything = ecx.json("denial", "sync", who="de")
    assert everything["changes"][-1]["reference"] == "NL-CLI-S001"
    text = ecx.ok("denial", "sync", who="de")
    cursor = text.rsplit("resume with --cursor ", 1)[1].strip()
    assert cursor == everything["cursor"]
    submit("NL-CLI-S002")
    resumed = ecx.json("denial", "sync", "--cursor", cursor, who="de")
    assert [c["reference"] for c in resumed["changes"]] == ["NL-CLI-S002"]
    assert ecx.json("denial", "sync", "--cursor", resumed["cursor"], who="de")["changes"] == []
    # Germany's cursor is Germany's.
    line = one_line_failure(ecx.run("denial", "sync", "--cursor", cursor, who="fr"))
    assert "not a cursor from a previous response" in line


# Defaults from the environment


def test_ecx_server_and_ecx_identity_are_the_defaults(ecx: Ecx) -> None:
    env = {**base_env(), "ECX_SERVER": ecx.address, "ECX_IDENTITY": ecx.identity("nl")}
    result = ecx.raw("--json", "whoami", env=env)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == "nl"


def test_options_override_the_environment(ecx: Ecx) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    env = {**base_env(), "ECX_SERVER": dead, "ECX_IDENTITY": ecx.identity("de")}
    result = ecx.raw(
        "--server", ecx.address, "--identity", ecx.identity("nl"), "--json", "whoami", env=env
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["id"] == "nl"


# Failures: exit 1, one line on stderr, never a traceback


def _no_identity(ecx: Ecx, tmp: Path) -> list[str]:
    return ["--server", ecx.address, "whoami"]


def _missing_directory(ecx: Ecx, tmp: Path) -> list[str]:
    return ["--server", ecx.address, "--identity", str(tmp / "nowhere"), "whoami"]


def _without_key(ecx: Ecx, tmp: Path) -> list[str]:
    identity = tmp / "nl"
    shutil.copytree(ecx.identity("nl"), identity)
    (identity / "key.pem").unlink()
    return ["--server", ecx.address, "--identity", str(identity), "whoami"]


def _unusable_certificate(ecx: Ecx, tmp: Path) -> list[str]:
    identity = tmp / "nl"
    shutil.copytree(ecx.identity("nl"), identity)
    (identity / "cert.pem").write_text("not a certificate\n")
    return ["--server", ecx.address, "--identity", str(identity), "whoami"]


@pytest.mark.parametrize(
    "make_args",
    [
        pytest.param(_no_identity, id="no-identity-given"),
        pytest.param(_missing_directory, id="directory-missing"),
        pytest.param(_without_key, id="key-pem-missing"),
        pytest.param(_unusable_certificate, id="cert-pem-unusable"),
    ],
)
def test_an_unusable_identity_exits_1_with_one_line(
    ecx: Ecx, tmp_path: Path, make_args: Any
) -> None:
    result = ecx.raw(*make_args(ecx, tmp_path))
    assert result.returncode == 1
    line = one_line_failure(result)
    assert "identity" in line or "certificate" in line


@pytest.mark.parametrize(
    ("fields", "named"),
    [
        pytest.param({"destination_country": "ZZ"}, "destination_country", id="destination"),
        pytest.param({"issuing_state": "DE"}, "issuing_state", id="foreign-issuing-state"),
        pytest.param({"value_eur": -5}, "value_eur", id="negative-value"),
        pytest.param({"value_eur": "a lot"}, "value_eur", id="value-not-a-number"),
        pytest.param({"denial_date": "2026-13-01"}, "denial_date", id="impossible-date"),
        pytest.param({"control_entries": ["ML99"]}, "control_entries[0]", id="control-entry"),
        pytest.param(
            {"reasons": [{"criterion": 9, "explanation": "x"}]},
            "reasons[0].criterion",
            id="criterion-9",
        ),
        pytest.param({"regime": "NAVAL"}, "regime", id="unknown-regime"),
        pytest.param({"valeur_eur": 5}, "valeur_eur", id="misspelt-field"),
        pytest.param({"contact": ""}, "contact", id="missing-contact"),
    ],
)
def test_an_invalid_field_exits_1_naming_the_field(
    ecx: Ecx, tmp_path: Path, fields: dict[str, Any], named: str
) -> None:
    path = write_json(tmp_path, "bad.json", denial_json("NL-CLI-BAD", **fields))
    result = ecx.run("denial", "submit", "--file", path)
    assert result.returncode == 1
    assert named in one_line_failure(result)


def _file(content: bytes) -> Any:
    def make(ecx: Ecx, tmp: Path) -> list[str]:
        path = tmp / "denial.json"
        path.write_bytes(content)
        return ["denial", "submit", "--file", str(path)]

    return make


@pytest.mark.parametrize(
    "make_args",
    [
        pytest.param(_file(b"\xff\xfe{\x00"), id="file-not-utf8"),
        pytest.param(_file(b'{"reference": '), id="file-not-json"),
        pytest.param(_file(b"[1, 2]"), id="file-a-json-list"),
        pytest.param(lambda ecx, tmp: ["denial", "submit", "--file", str(tmp)], id="file-a-dir"),
        pytest.param(
            lambda ecx, tmp: ["denial", "submit", "--file", str(tmp / "none.json")],
            id="file-missing",
        ),
        pytest.param(lambda ecx, tmp: ["denial", "get", "NL-CLI-NONE"], id="unknown-denial"),
        pytest.param(lambda ecx, tmp: ["denial", "list", "--destination", "ZZ"], id="bad-filter"),
        pytest.param(lambda ecx, tmp: ["denial", "sync", "--cursor", "x"], id="bad-cursor"),
    ],
)
def test_bad_input_exits_1_with_one_line_and_no_traceback(
    ecx: Ecx, tmp_path: Path, make_args: Any
) -> None:
    result = ecx.run(*make_args(ecx, tmp_path))
    assert result.returncode == 1
    one_line_failure(result)


def test_an_unreachable_hub_exits_1_with_one_line(ecx: Ecx) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        dead = f"127.0.0.1:{s.getsockname()[1]}"
    result = ecx.raw("--server", dead, "--identity", ecx.identity("nl"), "whoami")
    assert result.returncode == 1
    assert "UNAVAILABLE" in one_line_failure(result)


def test_output_to_a_reader_that_went_away_ends_quietly(ecx: Ecx) -> None:
    """`ecx participants | head -1`: once the reader has gone, no traceback, only a status."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # nobody will read: every write fails with EPIPE
    try:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "client.cli",
                "--server",
                ecx.address,
                "--identity",
                ecx.identity("nl"),
                "participants",
            ],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=base_env(),
            cwd=ecx.workdir,
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)
    assert result.returncode == 1
    assert result.stderr == ""


def test_what_no_reader_can_see_is_printed_escaped(ecx: Ecx, tmp_path: Path) -> None:
    """A right-to-left mark is allowed in prose, but a terminal would show nothing of it (and
    a stored denial may predate today's checks): the CLI prints every such character as an
    escape, in text and, as a JSON escape of itself, in JSON."""
    data = denial_json("NL-CLI-U1", goods_description="Thermal\u200f imaging sights")
    ecx.ok("denial", "submit", "--file", write_json(tmp_path, "u.json", data))
    text = ecx.ok("denial", "get", "NL-CLI-U1")
    assert "\u200f" not in text
    assert "Thermal\\u200f imaging sights" in text
    raw = ecx.ok("--json", "denial", "get", "NL-CLI-U1")
    assert "\u200f" not in raw
    assert json.loads(raw)["payload"]["goods_description"] == "Thermal\u200f imaging sights"


# Encryption keys


def test_keys_publish_then_list_shows_the_key_verified(ecx: Ecx) -> None:
    key = Identity.load(ecx.pki.identity("fr")).require_encryption_key()
    published = ecx.json("keys", "publish", who="fr")
    assert published["participant"] == "fr"
    assert published["key_id"] == key.key_id
    assert published["suite"] == "MLKEM768_X25519"
    assert published["not_after"] == (real_today() + dt.timedelta(days=365)).isoformat()
    rows = [r for r in ecx.json("keys", "list", who="de") if r["participant"] == "fr"]
    assert rows == [
        {
            "participant": "fr",
            "key_id": key.key_id,
            "suite": "MLKEM768_X25519",
            "not_after": published["not_after"],
            "verified": True,
            "problem": "",
        }
    ]
    lines = ecx.ok("keys", "list", who="de").splitlines()
    (fr_line,) = [line for line in lines if line.startswith("fr ")]
    assert re.fullmatch(
        rf"fr\s+MLKEM768_X25519\s+{published['not_after']}\s+yes\s+{key.key_id}", fr_line
    )
    assert any(re.fullmatch(r"es\s+\(no current key\)", line) for line in lines)
    assert not any(line.startswith("auditor") for line in lines)
    # the same key again is refused, in one line
    again = one_line_failure(ecx.run("keys", "publish", who="fr"))
    assert "ALREADY_EXISTS" in again


def test_keys_rotate_publishes_a_new_key_and_keeps_the_old(ecx: Ecx, tmp_path: Path) -> None:
    directory = Path(shutil.copytree(ecx.pki.identity("it"), tmp_path / "it"))
    old = Identity.load(directory).require_encryption_key()
    base = ["--server", ecx.address, "--identity", str(directory), "--json", "keys"]
    assert ecx.raw(*base, "publish").returncode == 0
    result = ecx.raw(*base, "rotate", "--suite", "x25519", "--not-after", "2027-06-30")
    assert result.returncode == 0, result.stderr
    rotated = json.loads(result.stdout)
    identity = Identity.load(directory)
    new = identity.require_encryption_key()
    assert (rotated["key_id"], rotated["suite"], rotated["not_after"]) == (
        new.key_id,
        "X25519",
        "2027-06-30",
    )
    assert set(identity.encryption_keys) == {old.key_id, new.key_id}
    rows = [r for r in ecx.json("keys", "list") if r["participant"] == "it"]
    assert [(r["key_id"], r["verified"]) for r in rows] == [(new.key_id, True)]


@pytest.mark.parametrize(
    ("args", "who", "says"),
    [
        pytest.param(["keys", "publish"], "auditor", "no current encryption key", id="no-key"),
        pytest.param(
            ["keys", "publish", "--not-after", "2099-01-01"],
            "es",
            "not_after: at most 3 years ahead",
            id="too-far-ahead",
        ),
    ],
)
def test_keys_publish_refused_exits_1_with_one_line(
    ecx: Ecx, args: list[str], who: str, says: str
) -> None:
    assert says in one_line_failure(ecx.run(*args, who=who))
