"""`ecx audit checkpoint|query|prove|verify`: check the exchange log from outside the hub."""

from __future__ import annotations

import argparse
import datetime as dt
import sys
from pathlib import Path
from typing import Any

from google.protobuf.timestamp_pb2 import Timestamp
from tqdm import tqdm

from client.api import EcxClient
from client.audit import CheckpointMemory, default_state_dir, verify_log
from client.cli.denial_json import to_dict
from client.cli.output import common_options, emit
from client.errors import EcxClientError
from ecx.v1 import audit_pb2


class VerificationFailed(EcxClientError):
    """`ecx audit verify` found a mismatch; the message is the verdict line."""


def register(nouns: Any) -> None:
    audit = nouns.add_parser("audit", help="the exchange log: checkpoints, proofs, queries")
    verbs = audit.add_subparsers(dest="verb", required=True, metavar="<verb>")
    common = [common_options()]

    checkpoint = verbs.add_parser("checkpoint", parents=common, help="show the signed checkpoint")
    checkpoint.set_defaults(command=_checkpoint)

    query = verbs.add_parser("query", parents=common, help="list log entries you may read")
    query.add_argument("--since", type=_time, help="ISO time, e.g. 2026-11-01T00:00:00Z")
    query.add_argument("--until", type=_time)
    query.add_argument("--actor", default="")
    query.add_argument("--action", default="", help="e.g. SubmitDenial")
    query.add_argument(
        "--object",
        default="",
        help="a reference (every entry naming it), an object (denial:NL-2026-0001) or one"
        " version (denial:NL-2026-0001:v1)",
    )
    query.add_argument("--outcome", default="", help="OK or a status code, e.g. PERMISSION_DENIED")
    query.add_argument("--limit", type=int, default=1000, help="at most this many entries")
    query.set_defaults(command=_query)

    prove = verbs.add_parser("prove", parents=common, help="prove one entry is in the log")
    prove.add_argument("--index", type=int, required=True)
    prove.set_defaults(command=_prove)

    verify = verbs.add_parser(
        "verify", parents=common, help="download what you may read and verify the whole log"
    )
    verify.add_argument(
        "--state-dir",
        type=Path,
        default=None,
        help="where the last verified checkpoint is kept (default: $ECX_STATE_DIR or"
        " ~/.local/state/ecx)",
    )
    verify.set_defaults(command=_verify)


def _time(text: str) -> Timestamp:
    try:
        when = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError as e:
        raise argparse.ArgumentTypeError(f"not an ISO time: {text}") from e
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    stamp = Timestamp()
    stamp.FromDatetime(when)
    return stamp


def entry_view(index: int, data: bytes) -> dict[str, Any]:
    entry = audit_pb2.LogEntry.FromString(data)
    view = to_dict(entry)
    view["index"] = index
    view["payload_sha256"] = entry.payload_sha256.hex()
    return view


def _entry_line(view: dict[str, Any]) -> str:
    objects = ",".join(view.get("object_ids", [])) or "-"
    return (
        f"{view['index']:>8}  {view.get('time', '-'):<27} {view.get('actor', '-'):<14}"
        f" {view.get('action', '-'):<20} {view.get('outcome', '-'):<18} {objects}"
    )


async def _checkpoint(client: EcxClient, args: argparse.Namespace) -> None:
    checkpoint, note = await client.audit.checkpoint()
    data = {
        "origin": checkpoint.origin,
        "tree_size": checkpoint.size,
        "root_hash": checkpoint.root.hex(),
        "signed_checkpoint": note,
        "signature_verified": True,
    }
    emit(args, data, f"{note.rstrip()}\n(signature verified: {checkpoint.size} entries)")


async def _query(client: EcxClient, args: argparse.Namespace) -> None:
    request = audit_pb2.QueryLogRequest(
        actor=args.actor,
        action=args.action,
        object_id=args.object,
        outcome=args.outcome,
        page_size=min(max(args.limit, 1), 1000),
    )
    if args.since is not None:
        request.since.CopyFrom(args.since)
    if args.until is not None:
        request.until.CopyFrom(args.until)
    views = []
    async for logged in client.audit.query(request):
        views.append(entry_view(logged.index, logged.entry))
        if len(views) >= args.limit:
            break
    text = "\n".join(_entry_line(v) for v in views) if views else "no entries"
    emit(args, views, text)


async def _prove(client: EcxClient, args: argparse.Namespace) -> None:
    checkpoint, entry = await client.audit.prove_inclusion(args.index)
    data = {
        "index": args.index,
        "tree_size": checkpoint.size,
        "root_hash": checkpoint.root.hex(),
        "entry": entry_view(args.index, entry.SerializeToString(deterministic=True)),
        "included": True,
    }
    emit(
        args,
        data,
        f"entry {args.index} ({entry.action} by {entry.actor}) is in the signed log of"
        f" {checkpoint.size} entries, root {checkpoint.root.hex()}",
    )


async def _verify(client: EcxClient, args: argparse.Namespace) -> None:
    memory = CheckpointMemory(
        args.state_dir or default_state_dir(), client.server, client.log_origin
    )
    with tqdm(unit=" entries", file=sys.stderr, disable=None, leave=False) as bar:

        def advance(count: int) -> None:
            bar.update(count)

        verdict = await verify_log(client, memory, progress=advance)
    data = {
        "ok": verdict.ok,
        "tree_size": verdict.tree_size,
        "entries_checked": verdict.entries_checked,
        "first_bad_index": verdict.first_bad_index,
        "message": verdict.message,
    }
    if not verdict.ok:
        if args.json:
            emit(args, data, "")
        raise VerificationFailed(f"log verification FAILED: {verdict.message}")
    emit(
        args,
        data,
        f"log verified: {verdict.entries_checked} entries checked against the signed tree of"
        f" {verdict.tree_size}",
    )
