"""`ecx notice share|update|withdraw|get|list|ack|request-share|grant-share`.

Every human-readable output of a notice's content carries its marking, first and last.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from pathlib import Path
from typing import Any

from google.protobuf import json_format

from client.api import EcxClient
from client.cli.denial_json import to_dict
from client.cli.output import common_options, emit
from client.core.notices import OpenedNotice
from client.errors import EcxClientError
from ecx.v1 import notice_pb2

KINDS = [k for k in notice_pb2.NoticeKind.keys() if not k.endswith("UNSPECIFIED")]  # noqa: SIM118
MARKINGS: dict[int, str] = {
    notice_pb2.SENSITIVE: "SENSITIVE — need to know",
    notice_pb2.RESTREINT_UE: "RESTREINT UE / EU RESTRICTED",
}


def register(nouns: Any) -> None:
    notice = nouns.add_parser("notice", help="sensitive notices, end-to-end encrypted")
    verbs = notice.add_subparsers(dest="verb", required=True, metavar="<verb>")
    common = [common_options()]

    share = verbs.add_parser("share", parents=common, help="seal a notice and share it")
    share.add_argument("--file", type=Path, required=True, help="the notice as JSON")
    share.add_argument(
        "--to", required=True, help="participant ids, comma-separated, or 'all' (every state)"
    )
    share.add_argument("--request-id")
    share.set_defaults(command=_share)

    update = verbs.add_parser("update", parents=common, help="a new version of your notice")
    update.add_argument("reference")
    update.add_argument("--file", type=Path, required=True)
    update.add_argument("--to", help="default: the recipients of the version in force")
    update.add_argument("--request-id")
    update.set_defaults(command=_update)

    withdraw = verbs.add_parser("withdraw", parents=common, help="withdraw your notice")
    withdraw.add_argument("reference")
    withdraw.add_argument("--reason", required=True)
    withdraw.add_argument("--request-id")
    withdraw.set_defaults(command=_withdraw)

    get = verbs.add_parser("get", parents=common, help="decrypt and verify a notice")
    get.add_argument("reference")
    get.set_defaults(command=_get)

    lst = verbs.add_parser("list", parents=common, help="notices shared with you or by you")
    lst.add_argument("--kind", choices=KINDS)
    lst.add_argument("--from", dest="originating_state", default="", help="originator's state")
    lst.add_argument("--unacknowledged", action="store_true")
    lst.add_argument("--expired", action="store_true", help="also those past their review date")
    lst.set_defaults(command=_list)

    ack = verbs.add_parser("ack", parents=common, help="acknowledge the version in force")
    ack.add_argument("reference")
    ack.add_argument("--request-id")
    ack.set_defaults(command=_ack)

    ask = verbs.add_parser(
        "request-share", parents=common, help="ask the originator to share with others"
    )
    ask.add_argument("reference")
    ask.add_argument("--to", required=True, help="participant ids, comma-separated")
    ask.add_argument("--reason", required=True)
    ask.add_argument("--request-id")
    ask.set_defaults(command=_request)

    grant = verbs.add_parser(
        "grant-share", parents=common, help="share your notice with more participants"
    )
    grant.add_argument("reference")
    grant.add_argument("--to", required=True, help="participant ids, comma-separated")
    grant.add_argument("--request-id")
    grant.set_defaults(command=_grant)


def _ids(text: str) -> list[str]:
    return sorted({part.strip() for part in text.split(",") if part.strip()})


def _draft(path: Path) -> tuple[dict[str, Any], notice_pb2.NoticeContent]:
    """The notice file: reference, kind, classification, review_date, and its content."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as e:
        raise EcxClientError(f"cannot read {path}: {e.strerror}") from e
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise EcxClientError(f"{path}: not JSON text") from e
    if not isinstance(data, dict) or not isinstance(data.get("content"), dict):
        raise EcxClientError(f"{path}: a JSON object with a 'content' object is required")
    unknown = set(data) - {"reference", "kind", "classification", "review_date", "content"}
    if unknown:
        raise EcxClientError(f"{path}: unknown fields {', '.join(sorted(unknown))}")
    try:
        content = json_format.ParseDict(data["content"], notice_pb2.NoticeContent())
    except json_format.ParseError as e:
        raise EcxClientError(f"{path}: content: {str(e).splitlines()[0]}") from e
    return data, content


def _enum(data: dict[str, Any], field: str, values: Any, path: Path) -> int | None:
    name = data.get(field)
    if name is None:
        return None
    try:
        return int(values.Value(name))
    except ValueError as e:
        allowed = ", ".join(k for k in values.keys() if not k.endswith("UNSPECIFIED"))  # noqa: SIM118
        raise EcxClientError(f"{path}: {field} must be one of {allowed}") from e


def _review(data: dict[str, Any], path: Path) -> dt.date | None:
    if "review_date" not in data:
        return None
    try:
        return dt.date.fromisoformat(str(data["review_date"]))
    except ValueError as e:
        raise EcxClientError(f"{path}: review_date must be YYYY-MM-DD") from e


def _marking(classification: int) -> str:
    return MARKINGS.get(classification, notice_pb2.Classification.Name(classification))


def _line(n: notice_pb2.Notice, me: str) -> str:
    """One notice in a line; a reader's own unacknowledged notice says so."""
    state = "WITHDRAWN" if n.state == notice_pb2.NOTICE_WITHDRAWN else "shared"
    flags = " expired" if n.expired else ""
    flags += "" if n.acknowledged or n.originator == me else " unacknowledged"
    return (
        f"[{_marking(n.classification)}] {n.reference:<18} v{n.version:<3}"
        f" {notice_pb2.NoticeKind.Name(n.kind):<20} from {n.originator:<10} {state}"
        f" review {n.review_date}{flags}"
    )


def _view(notice: notice_pb2.Notice, opened: OpenedNotice | None) -> dict[str, Any]:
    view = to_dict(notice)
    view.pop("steps", None)
    view["acknowledgements"] = [s.signer for s in notice.acknowledgements]
    view["requests"] = [
        to_dict(notice_pb2.NoticeStatement.FromString(s.envelope.payload).request)
        | {"by": s.signer}
        for s in notice.requests
    ]
    view["marking"] = _marking(notice.classification)
    if opened is not None:
        view["content"] = to_dict(opened.content)
        view["content_version"] = opened.content_version
        view["signature_verified"] = True
        view["withdrawn_because"] = opened.withdrawn
    return view


def _show(notice: notice_pb2.Notice, opened: OpenedNotice) -> str:
    marking = _marking(opened.classification)
    c = opened.content
    lines = [
        f"=== {marking} ===",
        f"{opened.reference} v{notice.version} (content v{opened.content_version})"
        f" {notice_pb2.NoticeKind.Name(opened.kind)} from {opened.originator},"
        f" signature verified, review {notice.review_date}",
    ]
    if opened.withdrawn:
        lines.append(f"  WITHDRAWN: {opened.withdrawn}")
    lines.append(f"  title         {c.title}")
    for p in c.parties:
        aka = f" (also {', '.join(p.aliases)})" if p.aliases else ""
        lines.append(f"  party         {p.name}{aka}, {p.country}")
    if c.destinations:
        lines.append(f"  destinations  {', '.join(c.destinations)}")
    if c.goods_description:
        lines.append(f"  goods         {c.goods_description}")
    if c.control_entries:
        lines.append(f"  entries       {', '.join(c.control_entries)}")
    for reason in c.reasons:
        lines.append(f"  reason        {reason}")
    if c.legal_basis:
        lines.append(f"  legal basis   {c.legal_basis}")
    if c.effective_from or c.effective_until:
        lines.append(f"  effective     {c.effective_from or '…'} to {c.effective_until or '…'}")
    if c.contact:
        lines.append(f"  contact       {c.contact}")
    if c.text:
        lines.append("")
        lines.append(c.text)
    lines.append(f"  recipients    {', '.join(opened.recipients)}")
    if notice.acknowledgements:
        lines.append(f"  acknowledged  {', '.join(s.signer for s in notice.acknowledgements)}")
    lines.append(f"=== {marking} ===")
    return "\n".join(lines)


async def _share(client: EcxClient, args: argparse.Namespace) -> None:
    data, content = _draft(args.file)
    kind = _enum(data, "kind", notice_pb2.NoticeKind, args.file)
    classification = _enum(data, "classification", notice_pb2.Classification, args.file)
    if not data.get("reference") or kind is None or classification is None:
        raise EcxClientError(f"{args.file}: reference, kind and classification are required")
    notice = await client.notices.share(
        str(data["reference"]),
        content,
        kind=kind,
        classification=classification,
        to=None if args.to == "all" else _ids(args.to),
        review=_review(data, args.file),
        request_id=args.request_id,
    )
    emit(args, _view(notice, None), _line(notice, client.identity.certified_id()))


async def _update(client: EcxClient, args: argparse.Namespace) -> None:
    data, content = _draft(args.file)
    notice = await client.notices.update(
        args.reference,
        content,
        kind=_enum(data, "kind", notice_pb2.NoticeKind, args.file),
        classification=_enum(data, "classification", notice_pb2.Classification, args.file),
        to=_ids(args.to) if args.to and args.to != "all" else None,
        to_all=args.to == "all",
        review=_review(data, args.file),
        request_id=args.request_id,
    )
    emit(args, _view(notice, None), _line(notice, client.identity.certified_id()))


async def _withdraw(client: EcxClient, args: argparse.Namespace) -> None:
    notice = await client.notices.withdraw(args.reference, args.reason, request_id=args.request_id)
    emit(args, _view(notice, None), _line(notice, client.identity.certified_id()))


async def _get(client: EcxClient, args: argparse.Namespace) -> None:
    notice = await client.notices.get(args.reference)
    opened = await client.notices.open(notice)
    emit(args, _view(notice, opened), _show(notice, opened))


async def _list(client: EcxClient, args: argparse.Namespace) -> None:
    notices = [
        n
        async for n in client.notices.list(
            kind=notice_pb2.NoticeKind.Value(args.kind) if args.kind else 0,
            originating_state=args.originating_state.upper(),
            unacknowledged_only=args.unacknowledged,
            include_expired=args.expired,
        )
    ]
    me = client.identity.certified_id()
    text = "\n".join(_line(n, me) for n in notices) if notices else "no notices"
    emit(args, [_view(n, None) for n in notices], text)


async def _ack(client: EcxClient, args: argparse.Namespace) -> None:
    notice = await client.notices.acknowledge(args.reference, request_id=args.request_id)
    emit(
        args, _view(notice, None), _line(notice, client.identity.certified_id()) + "  acknowledged"
    )


async def _request(client: EcxClient, args: argparse.Namespace) -> None:
    notice = await client.notices.request_sharing(
        args.reference, _ids(args.to), args.reason, request_id=args.request_id
    )
    emit(
        args,
        _view(notice, None),
        _line(notice, client.identity.certified_id()) + f"  asked to share with {args.to}",
    )


async def _grant(client: EcxClient, args: argparse.Namespace) -> None:
    notice = await client.notices.grant(args.reference, _ids(args.to), request_id=args.request_id)
    emit(
        args,
        _view(notice, None),
        _line(notice, client.identity.certified_id()) + f"  shared further with {args.to}",
    )
