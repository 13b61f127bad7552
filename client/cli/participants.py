"""`ecx whoami` and `ecx participants`."""

from __future__ import annotations

import argparse
from typing import Any

from client.api import EcxClient
from client.cli.denial_json import to_dict
from client.cli.output import common_options, emit
from ecx.v1 import participant_pb2


def register(nouns: Any) -> None:
    whoami = nouns.add_parser(
        "whoami", parents=[common_options()], help="show the identity the hub sees"
    )
    whoami.set_defaults(command=_whoami)
    participants = nouns.add_parser(
        "participants", parents=[common_options()], help="list the exchange's participants"
    )
    participants.set_defaults(command=_participants)


def _summary(p: participant_pb2.Participant) -> dict[str, Any]:
    data = to_dict(p)
    data.pop("signing_certificate", None)
    data.pop("encryption_keys", None)  # `ecx keys list` shows them, verified
    return data


async def _whoami(client: EcxClient, args: argparse.Namespace) -> None:
    me = await client.whoami()
    roles = ", ".join(participant_pb2.Role.Name(r).lower() for r in me.roles)
    state = f" ({me.member_state})" if me.member_state else ""
    emit(
        args,
        _summary(me),
        f"{me.id}{state}: {me.display_name}\nroles: {roles}\nidentity: {me.spiffe_id}",
    )


async def _participants(client: EcxClient, args: argparse.Namespace) -> None:
    everyone = await client.participants()
    lines = [f"{'ID':<12} {'STATE':<6} {'ROLES':<12} NAME"]
    for p in everyone:
        roles = ",".join(participant_pb2.Role.Name(r).lower() for r in p.roles)
        lines.append(f"{p.id:<12} {p.member_state or '-':<6} {roles:<12} {p.display_name}")
    emit(args, [_summary(p) for p in everyone], "\n".join(lines))
