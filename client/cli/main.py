"""`ecx`: the command line over the client library.

ecx [--server HOST:PORT] [--identity DIR] [--json] <noun> <verb> ...
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from client.api import DEFAULT_SERVER, EcxClient
from client.cli import audit as cli_audit
from client.cli import consult as cli_consult
from client.cli import denials as cli_denials
from client.cli import keys as cli_keys
from client.cli import notices as cli_notices
from client.cli import participants as cli_participants
from client.core.text import escape_line
from client.errors import EcxClientError, RemoteError
from client.identity import Identity

Command = Callable[[EcxClient, argparse.Namespace], Awaitable[Any]]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ecx", description="Export-control exchange client.")
    parser.add_argument(
        "--server",
        default=os.environ.get("ECX_SERVER", DEFAULT_SERVER),
        help="hub address HOST:PORT (default: $ECX_SERVER or %(default)s)",
    )
    parser.add_argument(
        "--identity",
        type=Path,
        default=Path(os.environ["ECX_IDENTITY"]) if os.environ.get("ECX_IDENTITY") else None,
        help="identity directory with cert.pem, key.pem, signing-key.pem (default: $ECX_IDENTITY)",
    )
    parser.add_argument("--json", action="store_true", help="print machine-readable JSON")
    parser.add_argument("--timeout", type=float, default=30.0, help="seconds per call")
    nouns = parser.add_subparsers(dest="noun", required=True, metavar="<command>")
    cli_participants.register(nouns)
    cli_denials.register(nouns)
    cli_audit.register(nouns)
    cli_consult.register(nouns)
    cli_notices.register(nouns)
    cli_keys.register(nouns)
    return parser


async def _run(args: argparse.Namespace) -> None:
    if args.identity is None:
        raise EcxClientError("no identity: pass --identity DIR or set ECX_IDENTITY")
    identity = Identity.load(args.identity)
    async with EcxClient(args.server, identity, timeout=args.timeout) as client:
        command: Command = args.command
        await command(client, args)


def _describe(error: EcxClientError) -> str:
    if isinstance(error, RemoteError):
        if error.violations:
            fields = "; ".join(f"{f}: {d}" for f, d in error.violations)
            return f"{error.code.name}: {fields}"
        if error.code.name == "UNAVAILABLE":
            return (
                f"UNAVAILABLE: cannot reach the hub or the TLS handshake failed ({error.message})"
            )
    return str(error)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        asyncio.run(_run(args))
    except EcxClientError as e:
        print(f"ecx: {escape_line(_describe(e))}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # The reader of our output went away (`ecx denial list | head`): stop quietly, and keep
        # the interpreter from complaining again when it flushes stdout at exit.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
