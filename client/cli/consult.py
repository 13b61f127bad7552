"""`ecx screen` and `ecx consult open|respond|extend|decide|get|list`."""

from __future__ import annotations

import argparse
import datetime as dt
import uuid
from pathlib import Path
from typing import Any

from client.api import EcxClient
from client.cli.denial_json import load_json, to_dict
from client.cli.output import common_options, emit
from client.errors import EcxClientError
from ecx.v1 import consultation_pb2

_ROLES = {"requester": 1, "responder": 2, "notified": 3}


def register(nouns: Any) -> None:
    common = [common_options()]
    screen = nouns.add_parser(
        "screen",
        parents=common,
        help="find denials in force for an essentially identical transaction",
    )
    screen.add_argument("--file", type=Path, required=True, help="the transaction as protobuf JSON")
    screen.add_argument("--include-inactive", action="store_true", help="also revoked and expired")
    screen.add_argument("--max", type=int, default=20, help="at most this many candidates")
    screen.set_defaults(command=_screen)

    consult = nouns.add_parser("consult", help="consultations with a denying state")
    verbs = consult.add_subparsers(dest="verb", required=True, metavar="<verb>")

    opening = verbs.add_parser("open", parents=common, help="consult the state that denied")
    opening.add_argument(
        "--denial", action="append", required=True, help="denial reference (repeatable)"
    )
    opening.add_argument(
        "--file", type=Path, required=True, help="the transaction as protobuf JSON"
    )
    opening.add_argument("--message", required=True)
    opening.add_argument("--contact", required=True)
    opening.add_argument("--reference", help="default: <your state>-C-<random>")
    opening.add_argument("--request-id")
    opening.set_defaults(command=_open)

    respond = verbs.add_parser("respond", parents=common, help="answer, as the denying state")
    respond.add_argument("reference")
    respond.add_argument(
        "--position",
        required=True,
        choices=["DENIAL_MAINTAINED", "NO_OBJECTION", "INFORMATION_ONLY"],
    )
    respond.add_argument("--explanation", required=True)
    respond.add_argument("--request-id")
    respond.set_defaults(command=_respond)

    extend = verbs.add_parser("extend", parents=common, help="move the answer deadline")
    extend.add_argument("reference")
    extend.add_argument("--until", type=dt.date.fromisoformat, required=True, help="YYYY-MM-DD")
    extend.add_argument("--reason", required=True)
    extend.add_argument("--request-id")
    extend.set_defaults(command=_extend)

    decide = verbs.add_parser("decide", parents=common, help="record your licensing decision")
    decide.add_argument("reference")
    decide.add_argument("--decision", required=True, choices=["GRANTED", "DENIED", "WITHDRAWN"])
    decide.add_argument("--reasoning", default="", help="required, and detailed, for GRANTED")
    decide.add_argument("--request-id")
    decide.set_defaults(command=_decide)

    get = verbs.add_parser("get", parents=common, help="show a consultation, signatures checked")
    get.add_argument("reference")
    get.set_defaults(command=_get)

    lst = verbs.add_parser("list", parents=common, help="consultations you take part in")
    lst.add_argument("--role", choices=sorted(_ROLES))
    lst.add_argument("--state", choices=["OPEN", "ANSWERED", "DECIDED"])
    lst.add_argument("--overdue", action="store_true", help="only open ones past their deadline")
    lst.set_defaults(command=_list)


def _view(c: consultation_pb2.Consultation) -> dict[str, Any]:
    data = to_dict(c, every_field=True)
    for event in data.get("events", []):
        event.pop("envelope", None)
        event.pop("log_entry", None)
    data["signatures_verified"] = True
    return data


def _line(c: consultation_pb2.Consultation) -> str:
    state = consultation_pb2.ConsultationState.Name(c.state)
    extra = " OVERDUE" if c.overdue else ""
    if c.state == consultation_pb2.DECIDED:
        extra = f" {consultation_pb2.Decision.Name(c.decision)}"
    return (
        f"{c.reference:<20} {state:<9}{extra:<9} {c.requester} -> {c.responder}"
        f"  answer by {c.answer_deadline}  denials {', '.join(c.denial_references)}"
    )


async def _show(
    client: EcxClient, args: argparse.Namespace, c: consultation_pb2.Consultation
) -> None:
    await client.consultations.verify(c)
    emit(args, _view(c), _line(c))


async def _screen(client: EcxClient, args: argparse.Namespace) -> None:
    transaction = load_json(args.file, consultation_pb2.Transaction())
    response = await client.consultations.screen(
        transaction, include_inactive=args.include_inactive, max_results=args.max
    )
    lines = [f"{len(response.candidates)} candidate(s) among {response.denials_compared} compared"]
    for c in response.candidates:
        flags = [f for f, on in (("OWN STATE", c.own_state), ("INACTIVE", c.inactive)) if on]
        lines.append(
            f"{c.score:.2f}  {c.reference:<20} {c.issuing_state}  to {c.destination_country}"
            f"{' (same destination)' if c.same_destination else ''}  {' '.join(flags)}"
        )
        for n in c.names:
            lines.append(
                f"        {n.field}: {n.query_name!r} ~ {n.denial_field} {n.denial_name!r}"
                f" ({n.how} {n.score:.2f}{'; ' + n.detail if n.detail else ''})"
            )
        for e in c.entries:
            lines.append(f"        entry {e.query_entry} ~ {e.denial_entry} ({e.relation})")
    emit(args, to_dict(response, every_field=True), "\n".join(lines))


async def _open(client: EcxClient, args: argparse.Namespace) -> None:
    transaction = load_json(args.file, consultation_pb2.Transaction())
    reference = args.reference
    if not reference:
        me = await client.whoami()
        if not me.member_state:
            raise EcxClientError("only a member-state authority opens consultations")
        reference = f"{me.member_state}-C-{uuid.uuid4().hex[:10].upper()}"
    consultation = await client.consultations.open(
        reference, args.denial, transaction, args.message, args.contact, request_id=args.request_id
    )
    await _show(client, args, consultation)


async def _respond(client: EcxClient, args: argparse.Namespace) -> None:
    position = consultation_pb2.ConsultationPosition.Value(args.position)
    consultation = await client.consultations.respond(
        args.reference, position, args.explanation, request_id=args.request_id
    )
    await _show(client, args, consultation)


async def _extend(client: EcxClient, args: argparse.Namespace) -> None:
    consultation = await client.consultations.extend(
        args.reference, args.until, args.reason, request_id=args.request_id
    )
    await _show(client, args, consultation)


async def _decide(client: EcxClient, args: argparse.Namespace) -> None:
    decision = consultation_pb2.Decision.Value(args.decision)
    consultation = await client.consultations.decide(
        args.reference, decision, args.reasoning, request_id=args.request_id
    )
    await _show(client, args, consultation)


async def _get(client: EcxClient, args: argparse.Namespace) -> None:
    await _show(client, args, await client.consultations.get(args.reference))


async def _list(client: EcxClient, args: argparse.Namespace) -> None:
    found = [
        c
        async for c in client.consultations.list(
            role=_ROLES.get(args.role or "", 0),
            state=consultation_pb2.ConsultationState.Value(args.state) if args.state else 0,
            overdue_only=args.overdue,
        )
    ]
    for c in found:
        await client.consultations.verify(c)
    text = "\n".join(_line(c) for c in found) if found else "no consultations"
    emit(args, [_view(c) for c in found], text)
