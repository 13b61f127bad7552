"""`ecx denial submit|amend|revoke|renew|get|list|sync`."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from client.api import EcxClient
from client.cli.denial_json import denial_view, load_payload
from client.cli.output import common_options, emit
from ecx.v1 import denial_pb2


def register(nouns: Any) -> None:
    denial = nouns.add_parser("denial", help="denial notifications")
    verbs = denial.add_subparsers(dest="verb", required=True, metavar="<verb>")
    common = [common_options()]

    submit = verbs.add_parser(
        "submit", parents=common, help="sign and submit a denial from a JSON file"
    )
    submit.add_argument("--file", type=Path, required=True, help="DenialPayload as protobuf JSON")
    submit.add_argument("--request-id", help="reuse to retry the same submission safely")
    submit.set_defaults(command=_submit)

    amend = verbs.add_parser(
        "amend", parents=common, help="sign and submit a new version of your denial"
    )
    amend.add_argument("reference")
    amend.add_argument("--file", type=Path, required=True)
    amend.add_argument("--request-id")
    amend.set_defaults(command=_amend)

    revoke = verbs.add_parser("revoke", parents=common, help="revoke your denial")
    revoke.add_argument("reference")
    revoke.add_argument("--reason", required=True)
    revoke.add_argument("--request-id")
    revoke.set_defaults(command=_revoke)

    renew = verbs.add_parser(
        "renew", parents=common, help="renew your denial after review (3 more years)"
    )
    renew.add_argument("reference")
    renew.add_argument("--reason", default="")
    renew.add_argument("--request-id")
    renew.set_defaults(command=_renew)

    get = verbs.add_parser("get", parents=common, help="show a denial, its signature checked")
    get.add_argument("reference")
    get.add_argument("--versions", action="store_true", help="show every version")
    get.add_argument(
        "--verify",
        action="store_true",
        help="also prove the version is in the signed exchange log, and the latest it records",
    )
    get.set_defaults(command=_get)

    lst = verbs.add_parser("list", parents=common, help="list denials you may see")
    lst.add_argument("--state", default="", help="issuing state, e.g. NL")
    lst.add_argument("--destination", default="", help="destination country, e.g. RU")
    lst.add_argument("--regime", choices=["MILITARY", "DUAL_USE"])
    lst.add_argument("--status", choices=["ACTIVE", "REVOKED", "EXPIRED"])
    lst.set_defaults(command=_list)

    sync = verbs.add_parser("sync", parents=common, help="stream every change after a cursor")
    sync.add_argument("--cursor", default="")
    sync.set_defaults(command=_sync)


def _line(d: denial_pb2.Denial) -> str:
    return (
        f"{d.reference:<20} v{d.version:<3} {denial_pb2.DenialStatus.Name(d.status):<8} "
        f"{denial_pb2.Regime.Name(d.regime):<9} until {d.valid_until}  log #{d.log_index}"
    )


async def _show(client: EcxClient, args: argparse.Namespace, denial: denial_pb2.Denial) -> None:
    payload = await client.verify_denial(denial)
    emit(args, denial_view(denial, payload), _line(denial) + "  signature verified")


async def _submit(client: EcxClient, args: argparse.Namespace) -> None:
    await _show(
        client,
        args,
        await client.submit_denial(load_payload(args.file), request_id=args.request_id),
    )


async def _amend(client: EcxClient, args: argparse.Namespace) -> None:
    payload = load_payload(args.file)
    await _show(
        client, args, await client.amend_denial(args.reference, payload, request_id=args.request_id)
    )


async def _revoke(client: EcxClient, args: argparse.Namespace) -> None:
    denial = await client.revoke_denial(args.reference, args.reason, request_id=args.request_id)
    await _show(client, args, denial)


async def _renew(client: EcxClient, args: argparse.Namespace) -> None:
    denial = await client.renew_denial(
        args.reference, reason=args.reason, request_id=args.request_id
    )
    await _show(client, args, denial)


async def _get(client: EcxClient, args: argparse.Namespace) -> None:
    response = await client.get_denial(args.reference, versions=args.versions)
    shown = list(response.versions) if args.versions else [response.denial]
    payloads = (
        await client.verify_versions(shown)
        if args.versions
        else [await client.verify_denial(response.denial)]
    )
    views = []
    lines = []
    for denial, payload in zip(shown, payloads, strict=True):
        view = denial_view(denial, payload)
        line = _line(denial) + "  signature verified"
        if args.verify:
            checkpoint = await client.audit.prove_denial(denial)
            view["log_inclusion_verified"] = {"tree_size": checkpoint.size}
            line += f", in signed log of {checkpoint.size}"
            if denial is shown[-1]:
                checkpoint, logged = await client.audit.prove_latest(denial)
                view["latest_in_log_verified"] = {
                    "tree_size": checkpoint.size,
                    "versions_logged": logged,
                }
                versions = "version" if logged == 1 else "versions"
                line += f", the latest of {logged} {versions} the log records"
        views.append(view)
        lines.append(line)
        if denial is shown[-1]:
            lines += _describe_payload(payload, denial)
    emit(args, views if args.versions else views[0], "\n".join(lines))


def _describe_payload(p: denial_pb2.DenialPayload, d: denial_pb2.Denial) -> list[str]:
    reasons = [
        f"criterion {r.criterion}" if r.criterion else denial_pb2.Ground.Name(r.ground)
        for r in p.reasons
    ]
    out = [
        f"  issued by     {p.issuing_state} / {p.originating_authority} on {p.denial_date}",
        f"  licence       {denial_pb2.LicenceType.Name(p.licence_type)} to {p.destination_country}",
        f"  end user      {p.end_user.name} ({p.end_user.country})",
    ]
    if p.consignee.name:
        out.append(f"  consignee     {p.consignee.name} ({p.consignee.country})")
    out += [
        f"  goods         {p.goods_description}",
        f"  entries       {', '.join(p.control_entries)}",
        f"  reasons       {', '.join(reasons)}",
        f"  contact       {p.contact}",
    ]
    if d.revocation_reason:
        out.append(f"  revoked       {d.revocation_reason}")
    return out


async def _list(client: EcxClient, args: argparse.Namespace) -> None:
    denials = [
        d
        async for d in client.list_denials(
            issuing_state=args.state.upper(),
            destination_country=args.destination.upper(),
            regime=denial_pb2.Regime.Value(args.regime) if args.regime else 0,
            status=denial_pb2.DenialStatus.Value(args.status) if args.status else 0,
        )
    ]
    views = []
    for d in denials:
        views.append(denial_view(d, await client.verify_denial(d)))
    text = "\n".join(_line(d) for d in denials) if denials else "no denials"
    emit(args, views, text)


async def _sync(client: EcxClient, args: argparse.Namespace) -> None:
    count = 0
    cursor = args.cursor
    views = []
    async for batch in client.sync_denials(args.cursor):
        for d in batch.changes:
            views.append(denial_view(d, await client.verify_denial(d)))
            count += 1
        cursor = batch.cursor
    emit(
        args,
        {"cursor": cursor, "changes": views},
        f"{count} changes verified; resume with --cursor {cursor}",
    )
