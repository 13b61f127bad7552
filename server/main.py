"""`ecx-server`: run the hub from a configuration file."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
from pathlib import Path

from server.app import Hub, load_log_key
from server.config import HubConfig
from server.domain.consultations import ConsultationRules
from server.domain.denials import DenialRules
from server.errors import EcxError
from server.logs import LOG_FORMAT, CoreLogRelay
from server.registry import Registry
from server.revocation import RevocationList
from server.services.screening import rebuild_index
from server.store.sqlite import SqliteStore
from server.verify_log import LogReport, verify_store
from server.verify_records import verify_records
from server.workers import WorkerPool, stop_when_orphaned


def _quickstart(hub: Hub, config_path: Path) -> str:
    pki = config_path.parent
    with contextlib.suppress(ValueError):
        pki = pki.relative_to(Path.cwd())
    ecx = os.path.relpath(Path(sys.executable).parent / "ecx")
    example = Path("client/examples/denial-nl.json")
    lines = [
        f"ecx hub ready on {hub.address} (store {hub.config.store}). Ctrl-C stops it.",
        "",
        "Act as the Netherlands (NL):",
        f"  {ecx} --server {hub.address} --identity {pki}/nl whoami",
    ]
    if example.exists():
        lines.append(
            f"  {ecx} --server {hub.address} --identity {pki}/nl denial submit --file {example}"
        )
    lines += [
        f"  {ecx} --server {hub.address} --identity {pki}/nl denial list",
        "",
        "Act as Germany (DE):",
        f"  {ecx} --server {hub.address} --identity {pki}/de denial list --state NL",
        f"  {ecx} --server {hub.address} --identity {pki}/de denial get NL-2026-0001",
        f"  {ecx} --server {hub.address} --identity {pki}/de screen"
        " --file client/examples/transaction-de.json",
        "",
        f"Or set ECX_SERVER={hub.address} and ECX_IDENTITY={pki}/<name>",
        "(names: nl de fr es it commission auditor operator).",
        "",
        "Notices are sealed to each recipient's published key: publish them once with",
        f"  for n in nl de fr es it commission; do {ecx} --server {hub.address}"
        f" --identity {pki}/$n keys publish; done",
        f"  {ecx} --server {hub.address} --identity {pki}/nl notice share"
        " --file client/examples/notice-nl.json --to de",
        f"  {ecx} --server {hub.address} --identity {pki}/de notice get NL-N-2026-0001",
    ]
    return "\n".join(lines)


async def _serve(
    config_path: Path, print_quickstart: bool, worker_of: str | None, log_level: str
) -> None:
    config = HubConfig.load(config_path)
    if worker_of is not None:
        config = dataclasses.replace(config, listen=worker_of)
    with CoreLogRelay(config.handshake_summary_seconds, log_level) as relay:
        await _serve_hub(
            config, config_path, print_quickstart, worker_of, log_level, relay.original_stderr
        )


async def _serve_hub(
    config: HubConfig,
    config_path: Path,
    print_quickstart: bool,
    worker_of: str | None,
    log_level: str,
    stderr: int | None,
) -> None:
    async with Hub(config) as hub:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        pool: WorkerPool | None = None

        def reload_registry() -> None:
            hub.reload_registry()
            if pool is not None:
                pool.send_signal(signal.SIGHUP)

        loop.add_signal_handler(signal.SIGHUP, reload_registry)
        if worker_of is not None:
            orphaned = asyncio.create_task(stop_when_orphaned(stop))
        elif config.workers > 1:
            pool = WorkerPool(config_path, hub.address, config.workers - 1, log_level, stderr)
            await pool.start()
        if print_quickstart:
            print(_quickstart(hub, config_path), flush=True)
        else:
            workers = f" ({config.workers} workers)" if pool is not None else ""
            print(f"ecx hub ready on {hub.address}{workers}", flush=True)
        await stop.wait()
        logging.getLogger(__name__).info("shutting down")
        if pool is not None:
            await pool.stop()
        if worker_of is not None:
            orphaned.cancel()


def _verify_log(config_path: Path, seen: list[Path]) -> int:
    try:
        config = HubConfig.load(config_path)
        key = load_log_key(config.log_signing_key).public_key()
        notes = [p.read_text(encoding="utf-8") for p in seen]
    except EcxError as e:
        print(f"ecx-server: {e.message}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"ecx-server: cannot read checkpoint: {e}", file=sys.stderr)
        return 2
    report = verify_store(config.store, key, config.log_origin, notes)
    if report.ok:
        try:
            registry = Registry.load(config.registry, RevocationList.for_tls(config.tls))
        except EcxError as e:
            print(f"ecx-server: {e.message}", file=sys.stderr)
            return 2
        records = verify_records(
            config.store,
            registry,
            DenialRules(validity_years=config.validity_years),
            ConsultationRules(answer_days=config.consultation_answer_days),
        )
        if records.ok:
            print(f"log verified: {report.message}; {records.message}")
            return 0
        report = LogReport(False, report.entries, records.message, records.first_bad_index)
    where = (
        f" (first bad index {report.first_bad_index})" if report.first_bad_index is not None else ""
    )
    print(f"log verification FAILED: {report.message}{where}", file=sys.stderr)
    return 1


async def _reindex(config_path: Path) -> int:
    config = HubConfig.load(config_path)
    async with SqliteStore(config.store, batch_max=config.limits.write_batch_max) as store:
        indexed = await rebuild_index(store)
    print(f"screening index rebuilt for {indexed} denials")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ecx-server", description="The ecx exchange hub.")
    parser.add_argument("--log-level", default=os.environ.get("ECX_LOG_LEVEL", "INFO"))
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="serve the hub over mutual TLS")
    run.add_argument("--config", type=Path, default=Path("certs/dev/hub.toml"))
    run.add_argument(
        "--print-quickstart", action="store_true", help="print how to act as NL and DE"
    )
    # Set by the hub for the worker processes it starts ([server] workers).
    run.add_argument("--worker-of", metavar="ADDRESS", help=argparse.SUPPRESS)
    verify = sub.add_parser("verify-log", help="check the stored exchange log offline")
    verify.add_argument("--config", type=Path, default=Path("certs/dev/hub.toml"))
    verify.add_argument(
        "--checkpoint",
        type=Path,
        action="append",
        default=[],
        help="a signed checkpoint a client saw; the store must still contain it (repeatable)",
    )
    reindex = sub.add_parser(
        "reindex",
        help="rebuild the screening index from the stored denials (after an upgrade that"
        " changed name matching); a hub may keep serving the store meanwhile",
    )
    reindex.add_argument("--config", type=Path, default=Path("certs/dev/hub.toml"))
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=args.log_level.upper(),
        format=LOG_FORMAT,
        stream=sys.stderr,
    )
    if args.command == "verify-log":
        return _verify_log(args.config, args.checkpoint)
    try:
        if args.command == "reindex":
            return asyncio.run(_reindex(args.config))
        asyncio.run(_serve(args.config, args.print_quickstart, args.worker_of, args.log_level))
    except EcxError as e:
        print(f"ecx-server: {e.message}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
