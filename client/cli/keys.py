"""`ecx keys publish|list|rotate`: the encryption keys notices are sealed to."""

from __future__ import annotations

import argparse
import datetime as dt
from typing import Any

from client.api import EcxClient
from client.cli.output import common_options, emit
from client.core.published_keys import KeyCheck, KeyStatement
from client.core.sealing import EncryptionPrivateKey, Suite
from client.keystore import make_current, save_encryption_key
from ecx.v1 import participant_pb2

# A key is published for a year unless asked otherwise; the hub takes up to three.
DEFAULT_VALIDITY = dt.timedelta(days=365)
_SUITES = {"hybrid": Suite.HYBRID, "x25519": Suite.X25519}
_RECEIVING = {participant_pb2.AUTHORITY, participant_pb2.COMMISSION}


def register(nouns: Any) -> None:
    common = [common_options()]
    keys = nouns.add_parser("keys", help="encryption keys that notices are sealed to")
    verbs = keys.add_subparsers(dest="verb", required=True, metavar="<verb>")

    publish = verbs.add_parser(
        "publish", parents=common, help="publish this identity's current encryption key"
    )
    _validity(publish)
    publish.add_argument("--request-id")
    publish.set_defaults(command=_publish)

    lst = verbs.add_parser(
        "list", parents=common, help="each participant's current keys, signatures checked"
    )
    lst.set_defaults(command=_list)

    rotate = verbs.add_parser(
        "rotate",
        parents=common,
        help="make a new key (the old ones are kept, to open what was sealed to them), publish"
        " it, then make it current",
    )
    rotate.add_argument(
        "--suite", choices=sorted(_SUITES), default="hybrid", help="default: %(default)s"
    )
    _validity(rotate)
    rotate.set_defaults(command=_rotate)


def _validity(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--not-after",
        type=dt.date.fromisoformat,
        help="last day senders may seal to the key, YYYY-MM-DD (default: a year from today)",
    )


def _not_after(args: argparse.Namespace) -> dt.date:
    chosen: dt.date | None = args.not_after
    return chosen or dt.datetime.now(dt.UTC).date() + DEFAULT_VALIDITY


def _published(key: participant_pb2.PublishedKey) -> tuple[dict[str, Any], str]:
    statement = KeyStatement.from_payload(key.envelope.payload)
    data = {
        "participant": statement.participant,
        "key_id": statement.key_id,
        "suite": statement.suite.value,
        "not_after": statement.not_after.isoformat(),
        "log_index": key.log_index,
    }
    text = (
        f"published key {statement.key_id} ({statement.suite.value}) of"
        f" {statement.participant}, to be sealed to until {statement.not_after};"
        f" log index {key.log_index}"
    )
    return data, text


async def _publish(client: EcxClient, args: argparse.Namespace) -> None:
    key = client.identity.require_encryption_key()
    published = await client.publish_encryption_key(
        key, _not_after(args), request_id=args.request_id
    )
    emit(args, *_published(published))


async def _rotate(client: EcxClient, args: argparse.Namespace) -> None:
    directory = client.identity.directory
    key = EncryptionPrivateKey.generate(_SUITES[args.suite])
    # Saved before it is published: once the hub has it, notices may be sealed to it.
    save_encryption_key(directory, key)
    published = await client.publish_encryption_key(key, _not_after(args))
    make_current(directory, key.key_id)
    emit(args, *_published(published))


def _row(check: KeyCheck) -> dict[str, Any]:
    s = check.statement
    return {
        "participant": check.participant,
        "key_id": s.key_id if s else "",
        "suite": s.suite.value if s else "",
        "not_after": s.not_after.isoformat() if s else "",
        "verified": check.ok,
        "problem": check.problem,
    }


async def _list(client: EcxClient, args: argparse.Namespace) -> None:
    rows: list[dict[str, Any]] = []
    lines = [f"{'PARTICIPANT':<12} {'SUITE':<16} {'NOT AFTER':<10}  {'VERIFIED':<8} KEY ID"]
    for participant, checks in await client.encryption_keys():
        if not checks and set(participant.roles) & _RECEIVING:
            lines.append(f"{participant.id:<12} (no current key)")
        for check in checks:
            row = _row(check)
            rows.append(row)
            verdict = "yes" if check.ok else "NO"
            lines.append(
                f"{participant.id:<12} {row['suite'] or '?':<16} {row['not_after'] or '?':<10}"
                f"  {verdict:<8} {row['key_id'] or '?'}"
            )
            if not check.ok:
                lines.append(f"{'':<12} {check.problem}")
    emit(args, rows, "\n".join(lines))
