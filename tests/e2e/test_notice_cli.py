"""`ecx notice` and `ecx keys` as a user runs them, against the hub running as its own process.

Each authority and the Commission first publish their encryption keys with `ecx keys publish`;
notices are then shared from JSON files, decrypted and verified by `notice get`, which shows the
marking on its first and last line, acknowledged, passed on only with the originator's grant,
withdrawn, and shared with every member state.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from certs.devpki import DevPki
from tests.helpers import ROOT, HubProcess, hub_process, wait_until

EXAMPLE = ROOT / "client" / "examples" / "notice-nl.json"
REF = "NL-N-2026-0001"
MARKING = "RESTREINT UE / EU RESTRICTED"
PUBLISHERS = ("nl", "de", "fr", "es", "it", "commission")


def base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("ECX_SERVER", "ECX_IDENTITY")}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), str(ROOT / "proto")])
    return env


class Ecx:
    """Runs `python -m client.cli` against one hub, as one identity or another."""

    def __init__(self, hub: HubProcess, pki: DevPki, workdir: Path) -> None:
        self.hub = hub
        self.pki = pki
        self.workdir = workdir

    def run(self, *args: str | Path, who: str = "nl") -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [
                sys.executable,
                "-m",
                "client.cli",
                "--server",
                self.hub.address,
                "--identity",
                str(self.pki.identity(who)),
                *map(str, args),
            ],
            capture_output=True,
            text=True,
            env=base_env(),
            cwd=self.workdir,
            timeout=60,
            check=False,
        )
        assert "Traceback" not in result.stderr, result.stderr
        return result

    def ok(self, *args: str | Path, who: str = "nl") -> str:
        result = self.run(*args, who=who)
        assert result.returncode == 0, result.stderr
        assert result.stderr == ""
        return result.stdout

    def json(self, *args: str | Path, who: str = "nl") -> Any:
        return json.loads(self.ok("--json", *args, who=who))

    def refused(self, *args: str | Path, who: str = "nl") -> str:
        """A refused command: exit 1 and exactly one line on stderr, which it returns."""
        result = self.run(*args, who=who)
        assert result.returncode == 1, result
        lines = result.stderr.splitlines()
        assert len(lines) == 1, result.stderr
        assert lines[0].startswith("ecx: "), lines[0]
        assert result.stdout == ""
        return lines[0]


def example() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    return data


def notice_file(directory: Path, reference: str, **fields: Any) -> Path:
    """The example notice under another reference (and other top-level fields)."""
    data = {**example(), "reference": reference, **fields}
    path = directory / f"{reference}.json"
    path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")
    return path


def line_of(text: str, reference: str) -> str:
    """The one line of `notice list` output about `reference`."""
    (found,) = [line for line in text.splitlines() if f" {reference} " in line]
    return found


@pytest.fixture(scope="module")
def ecx(pki: DevPki, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Ecx]:
    """A hub process on the dev registry, each receiving participant's key published."""
    workdir = tmp_path_factory.mktemp("notice-cli-hub")
    with hub_process(pki, workdir) as hub:
        ecx = Ecx(hub, pki, workdir)
        for name in PUBLISHERS:
            ecx.ok("keys", "publish", who=name)
        yield ecx


@pytest.fixture(scope="module")
def shared(ecx: Ecx) -> str:
    """The example notice, shared by nl with de; returns what `notice share` printed."""
    return ecx.ok("notice", "share", "--file", EXAMPLE, "--to", "de")


def test_the_example_is_an_end_user_notice_of_nl_marked_restreint_ue() -> None:
    data = example()
    assert (data["reference"], data["kind"], data["classification"]) == (
        REF,
        "END_USER_OF_CONCERN",
        "RESTREINT_UE",
    )
    filled = {"parties", "destinations", "goods_description", "control_entries", "reasons"}
    filled |= {"legal_basis", "contact", "text", "title"}
    assert {f for f, v in data["content"].items() if v} >= filled


def test_every_receiving_participant_published_a_verified_key(ecx: Ecx) -> None:
    rows = ecx.json("keys", "list", who="fr")
    assert {r["participant"] for r in rows} == set(PUBLISHERS)
    assert all(r["verified"] is True for r in rows), rows
    text = ecx.ok("keys", "list", who="de")
    for name in PUBLISHERS:
        assert re.search(rf"^{name}\s+MLKEM768_X25519\s.*\byes\b", text, re.MULTILINE), text


def test_share_prints_one_line_with_the_marking(shared: str) -> None:
    (line,) = shared.splitlines()
    assert line.startswith(f"[{MARKING}] {REF} ")
    assert " v1 " in line
    assert "END_USER_OF_CONCERN" in line
    assert "from nl" in line


def test_get_shows_the_marking_first_and_last_and_the_decrypted_content(
    ecx: Ecx, shared: str
) -> None:
    out = ecx.ok("notice", "get", REF, who="de")
    lines = out.splitlines()
    assert lines[0] == lines[-1] == f"=== {MARKING} ==="
    assert "signature verified" in lines[1]
    content = example()["content"]
    for expected in (
        content["title"],
        content["parties"][0]["name"],
        content["parties"][1]["name"],
        content["goods_description"],
        ", ".join(content["control_entries"]),
        content["legal_basis"],
        content["text"],
        *content["reasons"],
    ):
        assert expected in out
    assert re.search(r"^\s+recipients\s+de$", out, re.MULTILINE)


def test_get_json_carries_the_marking_and_the_content(ecx: Ecx, shared: str) -> None:
    got = ecx.json("notice", "get", REF, who="de")
    assert got["marking"] == MARKING
    assert got["content"] == example()["content"]
    assert got["signature_verified"] is True
    assert (got["reference"], got["originator"], got["recipients"]) == (REF, "nl", ["de"])
    assert (got["classification"], got["kind"]) == ("RESTREINT_UE", "END_USER_OF_CONCERN")
    assert "steps" not in got
    # The originator reads it back too, from its own key wrap.
    assert ecx.json("notice", "get", REF)["content"] == example()["content"]


@pytest.mark.parametrize("outsider", ["fr", "commission"])
def test_a_participant_it_was_not_shared_with_is_told_it_does_not_exist(
    ecx: Ecx, shared: str, outsider: str
) -> None:
    line = ecx.refused("notice", "get", REF, who=outsider)
    assert line == f"ecx: NOT_FOUND: no notice {REF}"
    assert REF not in ecx.ok("notice", "list", who=outsider)


def test_list_unacknowledged_holds_a_notice_until_ack(ecx: Ecx, tmp_path: Path) -> None:
    reference = "NL-N-2026-0003"
    ecx.ok("notice", "share", "--file", notice_file(tmp_path, reference), "--to", "de,fr")
    waiting = ecx.json("notice", "list", "--unacknowledged", who="de")
    assert reference in [n["reference"] for n in waiting]

    acked = ecx.ok("notice", "ack", reference, who="de")
    assert acked.rstrip().endswith("acknowledged")
    waiting = ecx.json("notice", "list", "--unacknowledged", who="de")
    assert reference not in [n["reference"] for n in waiting]
    (listed,) = [n for n in ecx.json("notice", "list", who="de") if n["reference"] == reference]
    assert listed["acknowledged"] is True
    # fr has not acknowledged; the originator sees who has.
    waiting = ecx.json("notice", "list", "--unacknowledged", who="fr")
    assert reference in [n["reference"] for n in waiting]
    assert ecx.json("notice", "get", reference)["acknowledgements"] == ["de"]
    again = ecx.refused("notice", "ack", reference, who="de")
    assert again.startswith("ecx: ALREADY_EXISTS: ")


def test_list_text_marks_a_notice_unacknowledged_until_ack(ecx: Ecx, tmp_path: Path) -> None:
    """A recipient's `notice list` line ends "unacknowledged" until it acknowledges; the
    originator's own line never does."""
    reference = "NL-N-2026-0009"
    ecx.ok("notice", "share", "--file", notice_file(tmp_path, reference), "--to", "de")
    before = line_of(ecx.ok("notice", "list", who="de"), reference)
    assert before.startswith(f"[{MARKING}] {reference} ")
    assert before.endswith(" unacknowledged"), before
    ecx.ok("notice", "ack", reference, who="de")
    after = line_of(ecx.ok("notice", "list", who="de"), reference)
    assert "unacknowledged" not in after
    assert "unacknowledged" not in line_of(ecx.ok("notice", "list"), reference)


def test_further_sharing_is_asked_by_the_recipient_and_granted_by_the_originator(
    ecx: Ecx, tmp_path: Path
) -> None:
    reference = "NL-N-2026-0002"
    ecx.ok("notice", "share", "--file", notice_file(tmp_path, reference), "--to", "de")
    assert ecx.refused("notice", "get", reference, who="fr") == (
        f"ecx: NOT_FOUND: no notice {reference}"
    )
    # The recipient cannot pass it on itself.
    line = ecx.refused("notice", "grant-share", reference, "--to", "fr", who="de")
    assert line.startswith("ecx: PERMISSION_DENIED: ")

    asked = ecx.json(
        "notice",
        "request-share",
        reference,
        "--to",
        "fr",
        "--reason",
        "France licenses machine tools to the same consignee",
        who="de",
    )
    assert asked["requests"] == [
        {
            "version": 1,
            "recipients": ["fr"],
            "reason": "France licenses machine tools to the same consignee",
            "by": "de",
        }
    ]
    assert ecx.refused("notice", "get", reference, who="fr").startswith("ecx: NOT_FOUND: ")
    assert [r["by"] for r in ecx.json("notice", "get", reference)["requests"]] == ["de"]

    granted = ecx.ok("notice", "grant-share", reference, "--to", "fr")
    assert granted.rstrip().endswith("shared further with fr")
    got = ecx.json("notice", "get", reference, who="fr")
    assert got["content"] == example()["content"]
    assert got["recipients"] == ["de", "fr"]
    assert got["version"] == 2


def test_withdraw_is_shown_to_the_recipient(ecx: Ecx, tmp_path: Path) -> None:
    reference = "NL-N-2026-0004"
    ecx.ok("notice", "share", "--file", notice_file(tmp_path, reference), "--to", "de")
    reason = "Meridian Axis was dissolved; its successor is covered by NL-N-2026-0005"
    withdrawn = ecx.json("notice", "withdraw", reference, "--reason", reason)
    assert (withdrawn["state"], withdrawn["version"]) == ("NOTICE_WITHDRAWN", 2)
    out = ecx.ok("notice", "get", reference, who="de")
    lines = out.splitlines()
    assert lines[0] == lines[-1] == f"=== {MARKING} ==="
    assert f"WITHDRAWN: {reason}" in out
    got = ecx.json("notice", "get", reference, who="de")
    assert (got["state"], got["withdrawn_because"]) == ("NOTICE_WITHDRAWN", reason)
    assert "WITHDRAWN" in line_of(ecx.ok("notice", "list", who="de"), reference)
    line = ecx.refused("notice", "withdraw", reference, "--reason", "again")
    assert line.startswith("ecx: FAILED_PRECONDITION: ")
    assert "withdrawn" in line


def test_a_marking_above_restreint_ue_is_refused_naming_the_field(ecx: Ecx, tmp_path: Path) -> None:
    reference = "NL-N-2026-0006"
    path = notice_file(tmp_path, reference, classification="SECRET_UE")
    line = ecx.refused("notice", "share", "--file", path, "--to", "de")
    assert line == (
        "ecx: INVALID_ARGUMENT: envelope.payload.version.classification: ecx carries notices up"
        " to RESTREINT_UE; SECRET_UE must not be sent through it"
    )
    assert ecx.refused("notice", "get", reference).startswith("ecx: NOT_FOUND: ")


def _registry_with(text: str, participant: str, status: str) -> str:
    blocks = text.split("[[participant]]")
    (index,) = [i for i, block in enumerate(blocks) if f'\nid = "{participant}"\n' in block]
    blocks[index] = blocks[index].replace('status = "active"', f'status = "{status}"')
    return "[[participant]]".join(blocks)


async def test_share_to_all(ecx: Ecx, tmp_path: Path) -> None:
    """`--to all` seals to every active member-state authority. While one of them has no key
    (the dev registry's `revoked` and `expired` are active authorities whose certificates cannot
    reach the hub), nothing is shared and the refusal names it; once they are suspended, the
    notice reaches every other state, and a dual-use broadcast also the Commission."""
    reference = "NL-N-2026-0007"
    path = notice_file(tmp_path, reference)
    line = ecx.refused("notice", "share", "--file", path, "--to", "all")
    assert line == "ecx: expired has no current encryption key at the hub"
    assert ecx.refused("notice", "get", reference).startswith("ecx: NOT_FOUND: ")

    hub = ecx.hub
    text = hub.registry.read_text()
    for name in ("revoked", "expired"):
        text = _registry_with(text, name, "suspended")
    hub.registry.write_text(text)
    reloads = hub.log.read_text().count("registry reloaded")
    os.kill(hub.process.pid, signal.SIGHUP)
    assert await wait_until(lambda: hub.log.read_text().count("registry reloaded") > reloads)

    shared = ecx.json("notice", "share", "--file", path, "--to", "all")
    assert shared["recipients"] == ["de", "es", "fr", "it"]
    for state in ("es", "it"):
        assert ecx.json("notice", "get", reference, who=state)["content"] == example()["content"]
    assert ecx.refused("notice", "get", reference, who="commission").startswith("ecx: NOT_FOUND: ")

    broadcast = "NL-N-2026-0008"
    path = notice_file(tmp_path, broadcast, kind="CATCH_ALL_DECISION", classification="SENSITIVE")
    line = ecx.refused("notice", "share", "--file", path, "--to", "de")
    assert line.startswith("ecx: INVALID_ARGUMENT: envelope.payload.version.recipients: ")
    shared = ecx.json("notice", "share", "--file", path, "--to", "all")
    assert shared["recipients"] == ["commission", "de", "es", "fr", "it"]
    got = ecx.json("notice", "get", broadcast, who="commission")
    assert (got["marking"], got["content"]) == ("SENSITIVE — need to know", example()["content"])
